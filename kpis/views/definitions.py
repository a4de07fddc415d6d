"""KPI definitions and their dated targets in the manage area.

Tenant admins create and edit; channel managers may look (the list, a definition and its target
timeline) but every write answers 403. Objects are fetched by ``(tenant, id)``: another tenant's
definition or target is a 404. A change of metric, period or partner filter on a definition with
results starts a new series (``kpis.definitions``): the page asks for confirmation first.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kpis import definitions as services
from kpis.forms import KpiDefinitionForm, KpiTargetForm
from kpis.models import KpiDefinition, KpiTarget
from kpis.selectors import kpi_definition_list, kpi_target_timeline
from partners.errors import add_to_form
from partners.permissions import admin_required, manager_required
from partners.tenancy import get_for_tenant

DETAIL = "kpis/manage_definition.html"


def _definition(request, definition_id: int) -> KpiDefinition:
    return get_for_tenant(KpiDefinition.objects.select_related("tier", "replaces"), tenant=request.tenant,
                          pk=definition_id)


@manager_required
@require_GET
def definition_list(request, tenant_slug: str):
    return render(request, "kpis/manage_definitions.html", {"definitions": kpi_definition_list(tenant=request.tenant)})


def _detail(request, definition: KpiDefinition, *, target_form: KpiTargetForm | None = None):
    tenant = request.tenant
    today = timezone.now().astimezone(tenant.zoneinfo).date()
    context = {
        "definition": definition,
        "name": definition.name_for(request.LANGUAGE_CODE),
        "timeline": kpi_target_timeline(tenant=tenant, definition=definition, today=today),
        "has_results": services.kpi_definition_has_results(tenant=tenant, definition=definition),
        "replaced_by": KpiDefinition.objects.filter(tenant=tenant, replaces=definition).first(),
        "target_form": target_form or (KpiTargetForm(tenant=tenant) if request.membership.is_admin else None),
    }
    template = DETAIL
    if request.htmx and not request.htmx.boosted:
        template += "#targets"
    return render(request, template, context)


@manager_required
@require_GET
def definition_detail(request, tenant_slug: str, definition_id: int):
    return _detail(request, _definition(request, definition_id))


@admin_required
@require_http_methods(["GET", "POST"])
def definition_form(request, tenant_slug: str, definition_id: int | None = None):
    """Create or edit. An edit that would start a new series is shown for confirmation first; the
    confirmation page posts the same fields back with ``confirmed``."""
    tenant = request.tenant
    definition = _definition(request, definition_id) if definition_id is not None else KpiDefinition(tenant=tenant)
    stored = KpiDefinition.objects.get(tenant=tenant, pk=definition.pk) if definition.pk else None
    form = KpiDefinitionForm(request.POST or None, tenant=tenant, instance=definition)
    if request.method == "POST" and form.is_valid():
        edited = form.save(commit=False)
        changed = services.kpi_definition_starts_new_series(tenant=tenant, definition=edited)
        if changed and request.POST.get("confirmed") != "1":
            return render(request, "kpis/manage_definition_confirm.html", {
                "form": form, "definition": stored, "name": stored.name_for(request.LANGUAGE_CODE),
                "changes": _changes(stored, form, changed),
            })
        try:
            saved = services.kpi_definition_save(tenant=tenant, definition=edited, actor=request.user)
        except ValidationError as exc:
            add_to_form(form, exc)
        else:
            if stored is None:
                messages.success(request, _("KPI created."))
            elif saved.pk != stored.pk:
                messages.success(request, _("A new series started. The previous one is deactivated and stays readable."))
            else:
                messages.success(request, _("KPI saved."))
            return redirect("manage-kpi-definition", tenant_slug=tenant_slug, definition_id=saved.pk)
    return render(request, "kpis/manage_definition_form.html", {
        "form": form, "definition": stored,
        "name": stored.name_for(request.LANGUAGE_CODE) if stored else "",
        "has_results": bool(stored) and services.kpi_definition_has_results(tenant=tenant, definition=stored),
    })


def _changes(stored: KpiDefinition, form: KpiDefinitionForm, changed: list[str]) -> list[tuple[str, str, str]]:
    """(label, before, after) of each series field the edit changes, as the person sees them."""
    rows = []
    for name in changed:
        field = form.fields[name]
        before = getattr(stored, name)
        after = form.cleaned_data.get(name)
        if name in ("metric", "period"):
            labels = dict(field.choices)
            before, after = labels.get(before, before), labels.get(after, after)
        rows.append((str(field.label), str(before or "—"), str(after or "—")))
    return rows


@admin_required
@require_POST
def definition_status(request, tenant_slug: str, definition_id: int):
    """Deactivate, reactivate or delete (only without results: otherwise deactivate)."""
    tenant = request.tenant
    definition = _definition(request, definition_id)
    action = request.POST.get("action")
    try:
        if action == "delete":
            services.kpi_definition_delete(tenant=tenant, definition=definition, actor=request.user)
            messages.success(request, _("KPI deleted."))
            return redirect("manage-kpi-definitions", tenant_slug=tenant_slug)
        if action in ("deactivate", "activate"):
            services.kpi_definition_set_active(tenant=tenant, definition=definition, active=action == "activate",
                                               actor=request.user)
            messages.success(request, _("KPI reactivated.") if action == "activate" else _("KPI deactivated."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("manage-kpi-definition", tenant_slug=tenant_slug, definition_id=definition.pk)


@admin_required
@require_POST
def target_add(request, tenant_slug: str, definition_id: int):
    tenant = request.tenant
    definition = _definition(request, definition_id)
    form = KpiTargetForm(request.POST, tenant=tenant)
    if form.is_valid():
        try:
            services.kpi_target_add(tenant=tenant, definition=definition, actor=request.user, **form.service_kwargs())
        except ValidationError as exc:
            add_to_form(form, exc)
        else:
            messages.success(request, _("Target added."))
            if request.htmx:
                return _detail(request, definition)
            return redirect("manage-kpi-definition", tenant_slug=tenant_slug, definition_id=definition.pk)
    return _detail(request, definition, target_form=form)


@admin_required
@require_POST
def target_delete(request, tenant_slug: str, definition_id: int, target_id: int):
    tenant = request.tenant
    definition = _definition(request, definition_id)
    target = get_for_tenant(KpiTarget, tenant=tenant, definition=definition, pk=target_id)
    services.kpi_target_delete(tenant=tenant, target=target, actor=request.user)
    messages.success(request, _("Target deleted."))
    if request.htmx:
        return _detail(request, definition)
    return redirect("manage-kpi-definition", tenant_slug=tenant_slug, definition_id=definition.pk)
