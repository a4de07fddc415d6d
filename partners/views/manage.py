"""Manage-area pages of the partners app: support activities (a partial for the partner page)
and the small settings page for partners, tiers and users."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from partners import services
from partners.errors import add_to_form
from partners.forms import (
    InviteForm,
    MfaPolicyForm,
    PartnerForm,
    SsoConnectionForm,
    SupportActivityForm,
    TierForm,
)
from partners.models import (
    Invitation,
    Membership,
    Partner,
    PartnerTier,
    Role,
    SsoConnection,
    SsoProtocol,
    SupportActivity,
)
from partners.permissions import admin_required, manager_required
from partners.ratelimit import rate_limit_allow, rate_limit_retry_after
from partners.selectors import invitation_list, partner_list, tier_list
from partners.tenancy import get_for_tenant


@manager_required
@require_http_methods(["GET", "POST"])
def support_activities(request, tenant_slug: str, partner_id: int):
    """GET: the list (+ form) of a partner's support activities; POST: log one.

    With HTMX only the ``list`` partial is returned, so the partner page can embed it with
    ``hx-get``; without HTMX it is a full page.
    """
    tenant = request.tenant
    partner = get_for_tenant(Partner.objects.select_related("tier"), tenant=tenant, pk=partner_id)
    form = SupportActivityForm(request.POST or None, prefix="sa")
    saved = None
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.support_activity_log(tenant=tenant, partner=partner, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_to_form(form, exc)
        else:
            if not request.htmx:
                messages.success(request, _("Support activity logged."))
                return redirect("manage-support-activities", tenant_slug=tenant_slug, partner_id=partner.pk)
            form = SupportActivityForm(prefix="sa")
    activities = (
        SupportActivity.objects.filter(tenant=tenant, partner=partner).select_related("manager")
        .order_by("-occurred_on", "-id")[:50]
    )
    totals = SupportActivity.objects.filter(tenant=tenant, partner=partner).aggregate(
        n=Count("id"), n_recent=Count("id", filter=Q(occurred_on__gte=_days_ago(90)))
    )
    template = "partners/manage_support_activities.html"
    if request.htmx and not request.htmx.boosted:
        template += "#list"
    return render(request, template, {"partner": partner, "form": form, "activities": activities,
                                      "totals": totals, "saved": saved})


def _days_ago(days: int):
    import datetime as dt

    from django.utils import timezone

    return timezone.localdate() - dt.timedelta(days=days)


@manager_required
@require_http_methods(["GET", "POST"])
def partner_admin(request, tenant_slug: str):
    """Partners with tier, status and manager; tiers (list + add); invite users (admins only)."""
    tenant = request.tenant
    if request.method == "POST" and not request.membership.is_admin:
        raise PermissionDenied  # tiers are defined by tenant admins
    tier_form = TierForm(request.POST if request.POST.get("action") == "tier" else None, prefix="tier")
    if tier_form.is_bound and tier_form.is_valid():
        try:
            services.tier_create(tenant=tenant, actor=request.user, **tier_form.cleaned_data)
        except ValidationError as exc:
            add_to_form(tier_form, exc)
        else:
            messages.success(request, _("Tier added."))
            return redirect("manage-partner-admin", tenant_slug=tenant_slug)
    partners = partner_list(tenant=tenant).annotate(
        user_count=Count("memberships", filter=Q(memberships__is_active=True))
    )
    q = request.GET.get("q", "").strip()
    if q:
        partners = partners.filter(Q(name__icontains=q) | Q(external_id__icontains=q))
    tiers = tier_list(tenant=tenant).annotate(partner_count=Count("partners"))
    staff = (
        Membership.objects.filter(tenant=tenant, role__in=[Role.TENANT_ADMIN, Role.CHANNEL_MANAGER])
        .select_related("user").order_by("role", "user__name")
    )
    return render(request, "partners/manage_partner_admin.html", {
        "partners": partners, "tiers": tiers, "tier_form": tier_form, "q": q, "staff": staff,
    })


@manager_required
@require_http_methods(["GET", "POST"])
def partner_form(request, tenant_slug: str, partner_id: int | None = None):
    tenant = request.tenant
    partner = get_for_tenant(Partner, tenant=tenant, pk=partner_id) if partner_id is not None else None
    initial = {}
    if partner is not None:
        initial = {f: getattr(partner, f) for f in services.PARTNER_FIELDS}
        initial["tier"], initial["manager"] = partner.tier_id, partner.manager_id
    form = PartnerForm(request.POST or None, tenant=tenant, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if partner is None:
                partner = services.partner_create(tenant=tenant, actor=request.user, **form.cleaned_data)
                messages.success(request, _("Partner “%(name)s” created.") % {"name": partner.name})
            else:
                services.partner_update(tenant=tenant, actor=request.user, partner=partner, **form.cleaned_data)
                messages.success(request, _("Partner “%(name)s” saved.") % {"name": partner.name})
        except ValidationError as exc:
            add_to_form(form, exc)
        else:
            return redirect("manage-partner-admin", tenant_slug=tenant_slug)
    members = None
    if partner is not None:
        members = Membership.objects.filter(tenant=tenant, partner=partner).select_related("user").order_by("user__email")
    return render(request, "partners/manage_partner_form.html", {"form": form, "partner": partner, "members": members})


@manager_required
@require_http_methods(["GET", "POST"])
def member_invite(request, tenant_slug: str):
    """Invite by e-mail (the answer is the same whether or not the address has an account) and the
    pending invitations, which can be resent or revoked."""
    if not request.membership.is_admin:
        raise PermissionDenied
    tenant = request.tenant
    initial = {}
    if request.GET.get("partner"):
        initial = {"partner": request.GET["partner"], "role": Role.PARTNER_USER}
    form = InviteForm(request.POST or None, tenant=tenant, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        email = d["email"].strip().lower()
        if not (rate_limit_allow("invite:tenant", str(tenant.pk))
                and rate_limit_allow("invite:email", f"{tenant.pk}:{email}")):
            minutes = max(1, rate_limit_retry_after("invite:email") // 60)
            form.add_error(None, _("Too many invitations were sent. Try again in %(minutes)s minutes.") % {"minutes": minutes})
            return render(request, "partners/manage_invite.html", {
                "form": form, "invitations": invitation_list(tenant=tenant),
            })
        try:
            invitation = services.invitation_create(
                tenant=tenant, actor=request.user, email=d["email"], name=d["name"], role=d["role"],
                partner=d.get("partner"),
            )
        except ValidationError as exc:
            add_to_form(form, exc)
        else:
            messages.success(request, _("Invitation sent to %(email)s.") % {"email": invitation.email})
            return redirect("manage-member-invite", tenant_slug=tenant_slug)
    return render(request, "partners/manage_invite.html", {
        "form": form, "invitations": invitation_list(tenant=tenant),
    })


@admin_required
@require_POST
def invitation_action(request, tenant_slug: str, invitation_id: int, action: str):
    tenant = request.tenant
    invitation = get_for_tenant(Invitation, tenant=tenant, pk=invitation_id)
    try:
        if action == "resend":
            if not (rate_limit_allow("invite:tenant", str(tenant.pk))
                    and rate_limit_allow("invite:email", f"{tenant.pk}:{invitation.email}")):
                messages.error(request, _("Too many invitations were sent. Try again later."))
                return redirect("manage-member-invite", tenant_slug=tenant_slug)
            services.invitation_resend(tenant=tenant, invitation=invitation, actor=request.user)
            messages.success(request, _("Invitation sent again to %(email)s.") % {"email": invitation.email})
        else:
            services.invitation_revoke(tenant=tenant, invitation=invitation, actor=request.user)
            messages.success(request, _("Invitation to %(email)s revoked.") % {"email": invitation.email})
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("manage-member-invite", tenant_slug=tenant_slug)


@admin_required
@require_http_methods(["GET", "POST"])
def security_settings(request, tenant_slug: str):
    """The tenant's second-factor policy and its single sign-on connections."""
    from partners.accounts import sso

    tenant = request.tenant
    action = request.POST.get("action")
    mfa_form = MfaPolicyForm(request.POST if action == "mfa" else None, instance=tenant)
    forms_by_protocol = {}
    for protocol in SsoProtocol.values:
        conn = SsoConnection.objects.filter(tenant=tenant, protocol=protocol).first()
        forms_by_protocol[protocol] = SsoConnectionForm(
            request.POST if action == protocol else None, request.FILES if action == protocol else None,
            tenant=tenant, protocol=protocol, instance=conn,
            prefix=protocol,
        )
    if action == "mfa" and mfa_form.is_valid():
        services.tenant_mfa_policy_set(tenant=tenant, actor=request.user, **mfa_form.cleaned_data)
        messages.success(request, _("Two-factor policy saved."))
        return redirect("manage-security", tenant_slug=tenant_slug)
    form = forms_by_protocol.get(action)
    if form is not None and form.is_valid():
        try:
            sso.sso_connection_save(tenant=tenant, actor=request.user, protocol=action, **form.service_kwargs())
        except ValidationError as exc:
            add_to_form(form, exc)
        else:
            messages.success(request, _("Single sign-on settings saved."))
            return redirect("manage-security", tenant_slug=tenant_slug)
    connections = []
    for protocol, f in forms_by_protocol.items():
        conn = f.instance if f.instance.pk else None
        info = {}
        if conn is not None:
            if protocol == SsoProtocol.SAML:
                org = conn.provider_id
                info = {
                    "acs": request.build_absolute_uri(reverse("saml_acs", args=[org])),
                    "metadata": request.build_absolute_uri(reverse("saml_metadata", args=[org])),
                }
            else:
                info = {"callback": request.build_absolute_uri(
                    reverse("openid_connect_callback", kwargs={"provider_id": conn.provider_id}))}
        connections.append({"protocol": protocol, "label": SsoProtocol(protocol).label, "form": f, "conn": conn,
                            "info": info})
    return render(request, "partners/manage_security.html", {"mfa_form": mfa_form, "connections": connections})


__all__ = [
    "PartnerTier", "invitation_action", "member_invite", "partner_admin", "partner_form", "security_settings",
    "support_activities",
]
