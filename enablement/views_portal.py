from django.shortcuts import render

from partners.permissions import partner_user_required


@partner_user_required
def home(request, tenant_slug: str):
    return render(request, "enablement/portal_home.html", {})
