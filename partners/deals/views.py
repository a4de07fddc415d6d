"""Deals: registration in the portal, approval and stages in the manage area, CSV import of outcomes."""

from __future__ import annotations

import secrets

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q, Sum
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from partners.deals import imports as deal_import
from partners.deals.forms import DealActionForm, DealFilterForm, DealImportForm, DealRegisterForm
from partners.deals.models import Deal, DealStage
from partners.deals.services import deal_register, deal_transition
from partners.errors import add_to_form
from partners.models import Partner
from partners.permissions import manager_required, partner_user_required
from partners.tenancy import get_for_tenant

IMPORT_SESSION_KEY = "deal_import"


# --- Portal ---------------------------------------------------------------------------------------------


@partner_user_required
def portal_deals(request, tenant_slug: str):
    partner = request.membership.partner
    deals = Deal.objects.filter(tenant=request.tenant, partner=partner).select_related("registered_by").order_by("-created_at")
    page = Paginator(deals, 25).get_page(request.GET.get("page"))
    return render(request, "deals/portal.html", {"page": page, "partner": partner})


@partner_user_required
@require_http_methods(["GET", "POST"])
def portal_deal_new(request, tenant_slug: str):
    form = DealRegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            deal_register(tenant=request.tenant, partner=request.membership.partner, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_to_form(form, exc)
        else:
            messages.success(request, _("Deal registered. Your channel manager will review it."))
            return redirect("portal-deals", tenant_slug=tenant_slug)
    return render(request, "deals/portal_new.html", {"form": form})


# --- Manage ---------------------------------------------------------------------------------------------


@manager_required
def manage_deals(request, tenant_slug: str):
    tenant = request.tenant
    form = DealFilterForm(request.GET or None, tenant=tenant)
    deals = Deal.objects.filter(tenant=tenant).select_related("partner", "decided_by")
    if form.is_valid():
        if form.cleaned_data["stage"]:
            deals = deals.filter(stage=form.cleaned_data["stage"])
        if form.cleaned_data["partner"]:
            deals = deals.filter(partner=form.cleaned_data["partner"])
        if q := form.cleaned_data["q"].strip():
            deals = deals.filter(Q(customer__icontains=q) | Q(product__icontains=q))
    counts = dict(Deal.objects.filter(tenant=tenant).values_list("stage").annotate(n=Count("id")).values_list("stage", "n"))
    page = Paginator(deals.order_by("-created_at", "-id"), 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    ctx = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "stage_counts": [(value, label, counts.get(value, 0)) for value, label in DealStage.choices],
    }
    template = "deals/manage.html#deal-table" if request.htmx and not request.htmx.boosted else "deals/manage.html"
    return render(request, template, ctx)


@manager_required
@require_POST
def manage_deal_action(request, tenant_slug: str, deal_id: int):
    deal = get_for_tenant(Deal, tenant=request.tenant, pk=deal_id)
    form = DealActionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Unknown action."))
    else:
        try:
            deal_transition(
                tenant=request.tenant, deal=deal, stage=form.stage, closed_on=form.cleaned_data["closed_on"], actor=request.user
            )
        except ValidationError:
            messages.error(request, _("This deal cannot move to that stage."))
        else:
            messages.success(request, _("Deal “%(customer)s” is now %(stage)s.") % {
                "customer": deal.customer, "stage": DealStage(form.stage).label})
    target = request.POST.get("next", "")
    if target.startswith(f"/t/{request.tenant.slug}/manage/"):
        return redirect(target)
    return redirect("manage-deals", tenant_slug=tenant_slug)


@manager_required
@require_http_methods(["GET", "POST"])
def manage_deals_import(request, tenant_slug: str):
    """Upload → preview with per-row errors → confirm. Nothing is imported while any row is invalid."""
    tenant = request.tenant
    form = DealImportForm()
    preview = None
    token = ""
    if request.method == "POST" and request.POST.get("step") == "confirm":
        stored = request.session.get(IMPORT_SESSION_KEY) or {}
        if stored.get("tenant") != tenant.pk or stored.get("token") != request.POST.get("token"):
            messages.error(request, _("The preview has expired. Upload the file again."))
            return redirect("manage-deals-import", tenant_slug=tenant_slug)
        preview = deal_import.parse(tenant=tenant, text=stored["text"])
        if preview.is_valid:
            try:
                created, updated = deal_import.import_rows(tenant=tenant, preview=preview, actor=request.user)
            except ValidationError as exc:
                preview.errors.extend(exc.messages)
            else:
                request.session.pop(IMPORT_SESSION_KEY, None)
                messages.success(request, _("Imported %(created)s new and %(updated)s updated deals.") % {
                    "created": created, "updated": updated})
                return redirect("manage-deals", tenant_slug=tenant_slug)
        token = stored["token"]
    elif request.method == "POST":
        form = DealImportForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                text = deal_import.decode(form.cleaned_data["file"].read())
            except UnicodeDecodeError:
                form.add_error("file", _("The file is not UTF-8. Save it as “CSV UTF-8” and upload it again."))
            else:
                preview = deal_import.parse(tenant=tenant, text=text)
                token = secrets.token_urlsafe(16)
                request.session[IMPORT_SESSION_KEY] = {"tenant": tenant.pk, "token": token, "text": text}
    return render(
        request,
        "deals/import.html",
        {"form": form, "preview": preview, "token": token, "columns": deal_import.COLUMNS, "max_rows": deal_import.MAX_ROWS},
    )


@manager_required
def manage_partner_deals(request, tenant_slug: str, partner_id: int):
    """Partial for the partner scorecard: the partner's recent deals and won totals."""
    partner = get_for_tenant(Partner, tenant=request.tenant, pk=partner_id)
    deals = Deal.objects.filter(tenant=request.tenant, partner=partner).order_by("-created_at", "-id")
    totals = deals.aggregate(
        won_count=Count("id", filter=Q(stage=DealStage.WON)),
        won_amount=Sum("amount", filter=Q(stage=DealStage.WON)),
        open_count=Count("id", filter=Q(stage__in=[DealStage.REGISTERED, DealStage.APPROVED])),
    )
    return render(request, "deals/partner_partial.html", {"partner": partner, "deals": deals[:10], "totals": totals})
