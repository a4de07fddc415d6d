from django.shortcuts import render

from partners.permissions import manager_required


@manager_required
def overview(request, tenant_slug: str):
    return render(request, "kpis/overview.html", {})
