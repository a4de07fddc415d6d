"""Manage-area pages of certifications: list, create/edit (with tier requirements), holders, revoke.
Tenant admins and channel managers only (partner users 403, other tenants 404)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from enablement.certifications import selectors as sel
from enablement.certifications import services
from enablement.certifications.forms import (
    CertificationForm,
    HolderFilterForm,
    RevokeForm,
    TierRequirementForm,
)
from enablement.certifications.models import Certificate, Certification, TierCertificationRequirement
from partners.errors import add_to_form
from partners.permissions import manager_required
from partners.tenancy import get_for_tenant

PAGE_SIZE = 25


@manager_required
def certification_list(request, tenant_slug: str):
    return render(
        request, "certifications/manage_list.html",
        {"certifications": sel.certifications_for_manage(tenant=request.tenant)},
    )


@manager_required
@require_http_methods(["GET", "POST"])
def certification_form(request, tenant_slug: str, certification_id: int | None = None):
    tenant = request.tenant
    certification = get_for_tenant(Certification, tenant=tenant, pk=certification_id) if certification_id else None
    form = CertificationForm(request.POST or None, instance=certification, tenant=tenant)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        assets = data.pop("required_assets")
        try:
            if certification is None:
                certification = services.certification_create(
                    tenant=tenant, actor=request.user, required_assets=assets, **data
                )
            else:
                services.certification_update(
                    tenant=tenant, actor=request.user, certification=certification, required_assets=assets, **data
                )
        except ValidationError as exc:
            add_to_form(form, exc)
        else:
            messages.success(request, _("Certification saved."))
            return redirect("manage-certification-edit", tenant_slug=tenant_slug, certification_id=certification.pk)
    tier_requirements = (
        TierCertificationRequirement.objects.filter(tenant=tenant, certification=certification)
        .select_related("tier").order_by("tier__rank", "tier__name")
        if certification else []
    )
    return render(
        request, "certifications/manage_form.html",
        {"form": form, "certification": certification, "tier_requirements": tier_requirements,
         "tier_form": TierRequirementForm(tenant=tenant) if certification else None},
    )


@manager_required
@require_POST
def tier_requirement_set(request, tenant_slug: str, certification_id: int):
    tenant = request.tenant
    certification = get_for_tenant(Certification, tenant=tenant, pk=certification_id)
    form = TierRequirementForm(request.POST, tenant=tenant)
    if form.is_valid():
        try:
            services.tier_requirement_set(
                tenant=tenant, actor=request.user, certification=certification,
                tier=form.cleaned_data["tier"], required_people=form.cleaned_data["required_people"],
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Tier requirement saved."))
    else:
        messages.error(request, _("Choose a tier and a number of people."))
    return redirect("manage-certification-edit", tenant_slug=tenant_slug, certification_id=certification.pk)


@manager_required
def certification_holders(request, tenant_slug: str, certification_id: int):
    tenant = request.tenant
    certification = get_for_tenant(Certification, tenant=tenant, pk=certification_id)
    filters = HolderFilterForm(request.GET or None)
    status = filters.cleaned_data.get("status", "") if filters.is_valid() else ""
    holders = sel.certificate_holders(tenant=tenant, certification=certification, status=status)
    page = Paginator(holders, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    template = "certifications/manage_holders.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    return render(
        request, template,
        {"certification": certification, "filters": filters, "status": status, "page": page,
         "query": query.urlencode(), "revoke_form": RevokeForm()},
    )


@manager_required
@require_POST
def certificate_revoke(request, tenant_slug: str, certificate_id: int):
    tenant = request.tenant
    certificate = get_for_tenant(Certificate, tenant=tenant, pk=certificate_id)
    form = RevokeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give a reason for the revocation."))
    else:
        try:
            services.certificate_revoke(
                tenant=tenant, certificate=certificate, reason=form.cleaned_data["reason"], actor=request.user
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Certificate revoked."))
    return redirect("manage-certification-holders", tenant_slug=tenant_slug,
                    certification_id=certificate.certification_id)
