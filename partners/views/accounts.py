"""Accounts, tenant picker and the tenant root redirect."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from partners.forms import EmailAuthenticationForm
from partners.models import Role
from partners.selectors import user_memberships


class LoginView(auth_views.LoginView):
    form_class = EmailAuthenticationForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True


@login_required
def home(request):
    """After login: straight into the only tenant, or a picker when there are several."""
    memberships = user_memberships(user=request.user)
    if len(memberships) == 1:
        return redirect("tenant-root", tenant_slug=memberships[0].tenant.slug)
    if not memberships and request.user.is_superuser:
        return redirect("admin:index")
    return render(request, "partners/tenant_picker.html", {"memberships": memberships})


def tenant_root(request, tenant_slug: str):
    """``/t/<slug>/``: partner users to the portal, managers and admins to the manage area."""
    if request.membership.role == Role.PARTNER_USER:
        return redirect("portal-home", tenant_slug=tenant_slug)
    return redirect("manage-overview", tenant_slug=tenant_slug)


@require_POST
@login_required
def set_language(request):
    language = request.POST.get("language", "")
    if language in {"ja", "en", ""}:
        request.user.language = language
        request.user.save(update_fields=["language"])
        messages.success(request, _("Language updated."))
    target = request.POST.get("next") or reverse("home")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        target = reverse("home")
    return HttpResponseRedirect(target)


def locked_out(request, original_response=None, credentials=None):
    """django-axes lockout page (``AXES_LOCKOUT_CALLABLE``): 429 with how long to wait."""
    from axes.helpers import get_cool_off

    cool_off = get_cool_off(request)
    minutes = max(1, int(cool_off.total_seconds() // 60)) if cool_off else None
    response = render(request, "registration/locked_out.html", {"minutes": minutes}, status=429)
    if cool_off:
        response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response
