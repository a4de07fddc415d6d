"""Deals: registration in the portal, approval and stages in the manage area, CSV import of outcomes."""

from __future__ import annotations

import secrets

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q, Sum
from django.http import HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from partners.deals import imports as deal_import
from partners.deals import selectors
from partners.deals.exports import deals_csv
from partners.deals.forms import DealActionForm, DealFilterForm, DealImportForm, DealRegisterForm
from partners.deals.models import Deal, DealStage
from partners.deals.services import deal_register, deal_transition, deal_update
from partners.errors import add_to_form
from partners.models import Partner
from partners.permissions import manager_required, partner_user_required
from partners.tenancy import get_for_tenant

IMPORT_SESSION_KEY = "deal_import"


# --- Portal ---------------------------------------------------------------------------------------------


@partner_user_required
def portal_deals(request, tenant_slug: str):
    partner = request.membership.partner
    deals = Deal.objects.filter(tenant=request.tenant, partner=partner).select_related("registered_by").order_by("-created_at", "-id")
    page = Paginator(deals, 25).get_page(request.GET.get("page"))
    return render(request, "deals/portal.html", {"page": page, "partner": partner})


@partner_user_required
@require_http_methods(["GET", "POST"])
def portal_deal_new(request, tenant_slug: str):
    form = DealRegisterForm(request.POST or None, tenant=request.tenant)
    if request.method == "POST" and form.is_valid():
        try:
            deal = deal_register(tenant=request.tenant, partner=request.membership.partner, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_to_form(form, exc)
        else:
            messages.success(request, _("Deal registered. Your channel manager will review it."))
            return redirect("portal-deal", tenant_slug=tenant_slug, deal_id=deal.pk)
    return render(request, "deals/portal_new.html", {"form": form})


def _own_deal(request, deal_id: int) -> Deal:
    """The deal of this tenant *and* this partner user's partner: anything else is the same 404."""
    return get_for_tenant(Deal.objects.filter(partner=request.membership.partner), tenant=request.tenant, pk=deal_id)


@partner_user_required
def portal_deal(request, tenant_slug: str, deal_id: int):
    deal = _own_deal(request, deal_id)
    return render(request, "deals/portal_deal.html", {
        "deal": deal,
        "history": selectors.deal_history(tenant=request.tenant, deal=deal),
        "reason": selectors.deal_latest_reason(tenant=request.tenant, deal=deal),
    })


@partner_user_required
@require_http_methods(["GET", "POST"])
def portal_deal_edit(request, tenant_slug: str, deal_id: int):
    """Change a registration returned for changes and send it again."""
    deal = _own_deal(request, deal_id)
    if deal.stage != DealStage.RETURNED:
        messages.error(request, _("Only a deal returned for changes can be changed."))
        return redirect("portal-deal", tenant_slug=tenant_slug, deal_id=deal.pk)
    initial = {f: getattr(deal, f) for f in ("customer", "customer_domain", "product", "amount", "currency", "expected_close_on")}
    form = DealRegisterForm(request.POST or None, initial=initial, tenant=request.tenant)
    if request.method == "POST" and form.is_valid():
        try:
            deal_update(tenant=request.tenant, deal=deal, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_to_form(form, exc)
        else:
            messages.success(request, _("Deal sent again. Your channel manager will review it."))
            return redirect("portal-deal", tenant_slug=tenant_slug, deal_id=deal.pk)
    return render(request, "deals/portal_new.html", {
        "form": form, "deal": deal, "reason": selectors.deal_latest_reason(tenant=request.tenant, deal=deal)})


# --- Manage ---------------------------------------------------------------------------------------------


@manager_required
def manage_deals(request, tenant_slug: str):
    tenant = request.tenant
    form = DealFilterForm(request.GET or None, tenant=tenant)
    deals = _filtered(tenant, form)
    counts = dict(Deal.objects.filter(tenant=tenant).values_list("stage").annotate(n=Count("id")).values_list("stage", "n"))
    conflict_count = selectors.deal_list(tenant=tenant).filter(has_conflict=True).count()
    page = Paginator(deals, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    ctx = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "conflict_count": conflict_count,
        "stage_counts": [(value, label, counts.get(value, 0)) for value, label in DealStage.choices],
    }
    template = "deals/manage.html#deal-table" if request.htmx and not request.htmx.boosted else "deals/manage.html"
    return render(request, template, ctx)


def _filtered(tenant, form):
    deals = selectors.deal_list(tenant=tenant)
    if form.is_valid():
        if form.cleaned_data["stage"]:
            deals = deals.filter(stage=form.cleaned_data["stage"])
        if form.cleaned_data["partner"]:
            deals = deals.filter(partner=form.cleaned_data["partner"])
        if q := form.cleaned_data["q"].strip():
            deals = deals.filter(Q(customer__icontains=q) | Q(product__icontains=q))
        if form.cleaned_data["conflicts"]:
            deals = deals.filter(has_conflict=True)
    return deals


@manager_required
def manage_deals_export(request, tenant_slug: str):
    """The deals list as CSV, with the list's filters."""
    form = DealFilterForm(request.GET or None, tenant=request.tenant)
    return deals_csv(tenant=request.tenant, deals=_filtered(request.tenant, form))


@manager_required
def manage_deal(request, tenant_slug: str, deal_id: int):
    """One deal: its details, the competing registrations side by side, its full stage history."""
    tenant = request.tenant
    deal = get_for_tenant(selectors.deal_list(tenant=tenant), tenant=tenant, pk=deal_id)
    return render(request, "deals/manage_deal.html", {
        "deal": deal,
        "conflicts": selectors.deal_conflicts(tenant=tenant, deal=deal) if deal.stage in ("registered", "approved", "returned") else [],
        "history": selectors.deal_history(tenant=tenant, deal=deal),
        "reason": selectors.deal_latest_reason(tenant=tenant, deal=deal),
    })


@manager_required
@require_http_methods(["GET", "POST"])
def manage_deal_action(request, tenant_slug: str, deal_id: int):
    """Approve / win / lose / reopen in one step; reject and return for changes first show a
    confirmation page that asks for the (required) reason."""
    deal = get_for_tenant(Deal, tenant=request.tenant, pk=deal_id)
    if request.method == "GET" and request.GET.get("action") not in DealActionForm.CONFIRMED:
        return HttpResponseNotAllowed(["POST"])  # only the confirmation pages are pages
    form = DealActionForm(request.POST if request.method == "POST" else request.GET)
    if not form.is_valid() and "action" in form.errors:
        messages.error(request, _("Unknown action."))
        return redirect("manage-deal", tenant_slug=tenant_slug, deal_id=deal.pk)
    if request.method == "GET" or not form.is_valid() or form.needs_confirmation:
        if request.method == "GET" or form.needs_confirmation:
            form = DealActionForm(initial={"action": form.cleaned_data["action"], "confirmed": True})
        return render(request, "deals/manage_confirm.html", {
            "deal": deal, "form": form, "action": form["action"].value(),
            "conflicts": selectors.deal_conflicts(tenant=request.tenant, deal=deal)})
    try:
        deal_transition(
            tenant=request.tenant, deal=deal, stage=form.stage, closed_on=form.cleaned_data["closed_on"],
            reason=form.cleaned_data["reason"], actor=request.user,
        )
    except ValidationError:
        messages.error(request, _("This deal cannot move to that stage."))
    else:
        messages.success(request, _("Deal “%(customer)s” is now %(stage)s.") % {
            "customer": deal.customer, "stage": DealStage(form.stage).label})
    target = request.POST.get("next", "")
    if target.startswith(f"/t/{request.tenant.slug}/manage/"):
        return redirect(target)
    return redirect("manage-deal", tenant_slug=tenant_slug, deal_id=deal.pk)


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
                form.add_error("file", _("The file is neither UTF-8 nor Shift_JIS. Save it as “CSV UTF-8” and upload it again."))
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


@manager_required
def manage_deals_import_template(request, tenant_slug: str):
    """A CSV template with the header and one example row (UTF-8 with BOM: Excel opens it correctly)."""
    response = HttpResponse(deal_import.template_csv(tenant=request.tenant), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="deals-template.csv"'
    return response
