"""Accounts around allauth (invitation links, SSO discovery), the tenant picker and the tenant root."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from partners import services
from partners.accounts import sso
from partners.forms import InvitationPasswordForm, SsoDiscoveryForm
from partners.models import Role
from partners.selectors import invitation_by_key, user_memberships


@require_http_methods(["GET", "POST"])
def invitation_accept(request, key: str):
    """The e-mailed link. A new person sets a password; an existing person accepts while logged in
    as the invited address. Either way they land in the tenant (portal or manage area)."""
    from allauth.account.utils import perform_login

    invitation = invitation_by_key(key)
    if invitation is None or not invitation.is_pending:
        return render(request, "account/invitation_invalid.html", status=404 if invitation is None else 410)
    context = {"invitation": invitation, "tenant_name": invitation.tenant.name}
    landing = reverse("tenant-root", kwargs={"tenant_slug": invitation.tenant.slug})
    user = request.user if request.user.is_authenticated else None
    if user is not None:
        if user.email.lower() != invitation.email:
            return render(request, "account/invitation_other_account.html", context, status=403)
        if request.method == "POST":
            try:
                services.invitation_accept(invitation=invitation, user=user)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
                return redirect("home")
            messages.success(request, _("You joined %(tenant)s.") % {"tenant": invitation.tenant.name})
            return redirect(landing)
        return render(request, "account/invitation_accept.html", context)
    from partners.models import User

    if User.objects.filter(email__iexact=invitation.email).exists():
        login_url = reverse("account_login") + "?" + urlencode({"next": request.get_full_path()})
        return render(request, "account/invitation_login.html", {**context, "login_url": login_url})
    form = InvitationPasswordForm(request.POST or None, email=invitation.email, initial={"name": invitation.name})
    if request.method == "POST" and form.is_valid():
        try:
            new_user, _membership = services.invitation_accept(
                invitation=invitation, name=form.cleaned_data["name"], password=form.cleaned_data["password1"]
            )
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        else:
            from allauth.account.internal.flows.login import record_authentication

            response = perform_login(request, new_user, redirect_url=landing, email=new_user.email)
            # Choosing the password just now counts as a password login (a tenant admin sets up the
            # second factor next without being asked for it again).
            record_authentication(request, new_user, method="password", invitation=invitation.pk)
            return response
    return render(request, "account/invitation_signup.html", {**context, "form": form})


@require_http_methods(["GET", "POST"])
def sso_start(request):
    """Single sign-on: the work address names the tenant's identity provider (no list of tenants)."""
    form = SsoDiscoveryForm(request.POST or None)
    connections = []
    if request.method == "POST" and form.is_valid():
        connections = sso.connections_for_email(form.cleaned_data["email"])
        nxt = request.POST.get("next", "")
        suffix = "?" + urlencode({"next": nxt}) if nxt and url_has_allowed_host_and_scheme(
            nxt, allowed_hosts={request.get_host()}, require_https=request.is_secure()) else ""
        if len(connections) == 1:
            return redirect(sso.login_url(connections[0]) + suffix)
        if not connections:
            form.add_error("email", _("Single sign-on is not set up for this address. Log in with your password."))
        connections = [(c.name, sso.login_url(c) + suffix) for c in connections]
    return render(request, "account/sso_start.html", {"form": form, "connections": connections,
                                                      "next": request.GET.get("next", "")})


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
