"""Writes of KPI definitions: a definition's results form one series, so changing what it measures
starts a new one.

The metric, the period and the partner filter (tier, segment) define what a series' numbers mean.
Changing any of them on a definition that already has results does not edit it in place (which
would leave months next to quarters, or Gold's numbers next to everyone's, in one trend): the old
definition is deactivated with its results kept — still readable in the API and admin — and a new
definition, pointing back at it (``replaces``), starts the new series. Other fields (names,
target, direction, warning band) are edited in place.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from kpis.models import KpiDefinition, KpiResult, KpiTarget
from partners.audit import audit_record, summary
from partners.models import Partner, PartnerTier, Tenant

SERIES_FIELDS = ("metric", "period", "tier_id", "segment")
AUDIT_FIELDS = ("name_en", "metric", "period", "tier", "segment", "target", "direction", "warning_band", "is_active")


@transaction.atomic
def kpi_definition_save(*, tenant: Tenant, definition: KpiDefinition, actor=None) -> KpiDefinition:
    """Save ``definition`` (new or edited). Returns the definition that now carries the series:
    ``definition`` itself, or — when a series field changed and results exist — a new row."""
    definition.tenant = tenant
    if definition.pk is None:
        definition.save()
        audit_record(tenant=tenant, actor=actor, action="kpi_definition.created", target=definition,
                     after=summary(definition, AUDIT_FIELDS))
        return definition
    stored = KpiDefinition.objects.select_for_update().get(tenant=tenant, pk=definition.pk)
    before = summary(stored, AUDIT_FIELDS)
    changed = [f for f in SERIES_FIELDS if getattr(stored, f) != getattr(definition, f)]
    if not changed or not KpiResult.objects.filter(tenant=tenant, definition=stored).exists():
        definition.save()
        after = summary(definition, AUDIT_FIELDS)
        if after != before:
            audit_record(tenant=tenant, actor=actor, action="kpi_definition.changed", target=definition,
                         before=before, after=after)
        return definition
    stored.is_active = False
    stored.save(update_fields=["is_active"])
    definition.pk = None
    definition._state.adding = True
    definition.replaces = stored
    definition.save()
    copied = _copy_targets(tenant=tenant, source=stored, into=definition)
    audit_record(tenant=tenant, actor=actor, action="kpi_definition.replaced", target=definition,
                 before={**before, "id": stored.pk},
                 after={**summary(definition, AUDIT_FIELDS), "id": definition.pk, "targets_copied": copied})
    return definition


def _copy_targets(*, tenant: Tenant, source: KpiDefinition, into: KpiDefinition) -> int:
    """A new series keeps the dated targets of the one it replaces (same scope, date and value)."""
    rows = [
        KpiTarget(tenant=tenant, definition=into, tier_id=t.tier_id, segment=t.segment, partner_id=t.partner_id,
                  effective_from=t.effective_from, target=t.target)
        for t in KpiTarget.objects.filter(tenant=tenant, definition=source)
    ]
    KpiTarget.objects.bulk_create(rows)
    return len(rows)


def kpi_definition_has_results(*, tenant: Tenant, definition: KpiDefinition) -> bool:
    return KpiResult.objects.filter(tenant=tenant, definition=definition).exists()


def kpi_definition_starts_new_series(*, tenant: Tenant, definition: KpiDefinition) -> list[str]:
    """The series fields an unsaved edit of ``definition`` changes, when saving it would start a new
    series (results exist); else an empty list. Read by the manage area's confirmation step."""
    if definition.pk is None:
        return []
    stored = KpiDefinition.objects.get(tenant=tenant, pk=definition.pk)
    changed = [f.removesuffix("_id") for f in SERIES_FIELDS if getattr(stored, f) != getattr(definition, f)]
    if not changed or not kpi_definition_has_results(tenant=tenant, definition=stored):
        return []
    return changed


@transaction.atomic
def kpi_definition_set_active(*, tenant: Tenant, definition: KpiDefinition, active: bool, actor=None) -> KpiDefinition:
    """Deactivate (results kept, no longer computed) or reactivate a definition."""
    stored = KpiDefinition.objects.select_for_update().get(tenant=tenant, pk=definition.pk)
    if stored.is_active == active:
        return stored
    stored.is_active = active
    stored.save(update_fields=["is_active"])
    audit_record(tenant=tenant, actor=actor, action="kpi_definition.activated" if active else "kpi_definition.deactivated",
                 target=stored, before={"is_active": not active}, after={"is_active": active})
    return stored


@transaction.atomic
def kpi_definition_delete(*, tenant: Tenant, definition: KpiDefinition, actor=None) -> None:
    """Delete a definition that has no results yet; one with results can only be deactivated (its
    numbers stay readable)."""
    stored = KpiDefinition.objects.select_for_update().get(tenant=tenant, pk=definition.pk)
    if kpi_definition_has_results(tenant=tenant, definition=stored):
        raise ValidationError(_("This KPI already has results: deactivate it instead, so its numbers stay readable."))
    audit_record(tenant=tenant, actor=actor, action="kpi_definition.deleted", target=stored,
                 before=summary(stored, AUDIT_FIELDS))
    stored.delete()


# --- Dated targets ---------------------------------------------------------------------------------

TARGET_AUDIT_FIELDS = ("definition", "tier", "segment", "partner", "effective_from", "target")


def target_scope_label(target: KpiTarget) -> str:
    if target.partner_id:
        return _("Partner: %(name)s") % {"name": target.partner}
    if target.segment:
        return _("Segment: %(name)s") % {"name": target.segment}
    if target.tier_id:
        return _("Tier: %(name)s") % {"name": target.tier}
    return _("Everyone")


@transaction.atomic
def kpi_target_add(
    *,
    tenant: Tenant,
    definition: KpiDefinition,
    effective_from: dt.date,
    target: Decimal,
    tier: PartnerTier | None = None,
    segment: str = "",
    partner: Partner | None = None,
    actor=None,
) -> KpiTarget:
    """Add a dated target for everyone, one tier, one segment or one partner of the tenant.

    A target applies from ``effective_from`` until the next one of the same scope; two targets of
    one scope on one date would make the target in force ambiguous, so that is refused (replace
    the old one by deleting it first)."""
    definition = KpiDefinition.objects.select_for_update().get(tenant=tenant, pk=definition.pk)
    segment = (segment or "").strip()
    errors: dict[str, str] = {}
    if sum(bool(x) for x in (tier, segment, partner)) > 1:
        errors["__all__"] = _("Choose one of tier, segment or partner (or none: everyone).")
    if tier is not None and tier.tenant_id != tenant.pk:
        errors["tier"] = _("Unknown tier.")
    if partner is not None and partner.tenant_id != tenant.pk:
        errors["partner"] = _("Unknown partner.")
    if segment and not Partner.objects.filter(tenant=tenant, segment=segment).exists():
        errors["segment"] = _("No partner is in this segment.")
    if target is None or target < 0:
        errors["target"] = _("A target cannot be negative.")
    elif definition.is_rate and target > 100:
        errors["target"] = _("This metric is a percentage: the target must be between 0 and 100.")
    if errors:
        raise ValidationError(errors)
    same_scope = KpiTarget.objects.filter(
        tenant=tenant, definition=definition, effective_from=effective_from,
        tier=tier, segment=segment, partner=partner,
    )
    if same_scope.exists():
        raise ValidationError({"effective_from": _(
            "This scope already has a target from this date. Delete it first, or choose another date."
        )})
    row = KpiTarget(tenant=tenant, definition=definition, tier=tier, segment=segment, partner=partner,
                    effective_from=effective_from, target=target)
    row.full_clean(exclude=["tenant", "definition", "tier", "partner"], validate_constraints=False)
    row.save()
    audit_record(tenant=tenant, actor=actor, action="kpi_target.created", target=definition,
                 after=summary(row, TARGET_AUDIT_FIELDS))
    return row


@transaction.atomic
def kpi_target_delete(*, tenant: Tenant, target: KpiTarget, actor=None) -> None:
    # of=self: PostgreSQL cannot lock the nullable side (tier, partner) of the outer joins
    row = KpiTarget.objects.select_for_update(of=("self",)).select_related("definition", "tier", "partner").get(
        tenant=tenant, pk=target.pk
    )
    audit_record(tenant=tenant, actor=actor, action="kpi_target.deleted", target=row.definition,
                 before=summary(row, TARGET_AUDIT_FIELDS))
    row.delete()
