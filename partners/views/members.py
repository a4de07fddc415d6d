"""Manage → Members (tenant admins): memberships and pending invitations of this tenant.

Tenant admins manage memberships only — role, partner, suspend, remove — and invitations
(resend, revoke). A person's account (password, e-mail, active flag, MFA) is never editable here.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from partners import services
from partners.models import Membership, Partner, Role
from partners.permissions import admin_required
from partners.selectors import invitation_list, member_list, partner_list
from partners.tenancy import get_for_tenant


class MembershipForm(forms.Form):
    role = forms.ChoiceField(label=gettext_lazy("Role"), choices=Role.choices)
    partner = forms.ModelChoiceField(
        empty_label="—", label=gettext_lazy("Partner"), queryset=Partner.objects.none(), required=False,
        help_text=gettext_lazy("Required for partner users."),
    )

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["partner"].queryset = partner_list(tenant=tenant)

    def clean(self):
        data = super().clean()
        if data.get("role") == Role.PARTNER_USER and not data.get("partner"):
            self.add_error("partner", _("Choose the partner this user works for."))
        return data


def _flash_errors(request, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, _(message))


@admin_required
@require_http_methods(["GET"])
def members(request, tenant_slug: str):
    tenant = request.tenant
    q = request.GET.get("q", "").strip()
    role = request.GET.get("role", "")
    rows = member_list(tenant=tenant, q=q, role=role if role in Role.values else "")
    return render(request, "partners/manage_members.html", {
        "members": rows, "invitations": invitation_list(tenant=tenant), "q": q, "role": role,
        "roles": Role.choices,
    })


@admin_required
@require_http_methods(["GET", "POST"])
def member_edit(request, tenant_slug: str, membership_id: int):
    tenant = request.tenant
    membership = get_for_tenant(Membership.objects.select_related("user", "partner"), tenant=tenant, pk=membership_id)
    form = MembershipForm(request.POST or None, tenant=tenant,
                          initial={"role": membership.role, "partner": membership.partner_id})
    if request.method == "POST" and form.is_valid():
        try:
            services.membership_update(tenant=tenant, membership=membership, role=form.cleaned_data["role"],
                                       partner=form.cleaned_data.get("partner"), actor=request.user)
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, _(message))
        else:
            messages.success(request, _("Membership of %(email)s saved.") % {"email": membership.user.email})
            return redirect("manage-members", tenant_slug=tenant_slug)
    return render(request, "partners/manage_member_edit.html", {"form": form, "member": membership})


@admin_required
@require_POST
def member_action(request, tenant_slug: str, membership_id: int):
    """POST ``action`` = suspend | reactivate | remove."""
    tenant = request.tenant
    membership = get_for_tenant(Membership.objects.select_related("user"), tenant=tenant, pk=membership_id)
    action = request.POST.get("action")
    try:
        if action in ("suspend", "reactivate"):
            services.membership_set_active(tenant=tenant, membership=membership, is_active=action == "reactivate",
                                           actor=request.user)
            done = _("%(email)s can use this tenant again.") if action == "reactivate" else _(
                "%(email)s is suspended in this tenant.")
        elif action == "remove":
            services.membership_remove(tenant=tenant, membership=membership, actor=request.user)
            done = _("%(email)s no longer has access to this tenant.")
        else:
            messages.error(request, _("Unknown action."))
            return redirect("manage-members", tenant_slug=tenant_slug)
    except ValidationError as exc:
        _flash_errors(request, exc)
    else:
        messages.success(request, done % {"email": membership.user.email})
    return redirect("manage-members", tenant_slug=tenant_slug)
