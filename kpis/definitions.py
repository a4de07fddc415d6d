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

from django.db import transaction

from kpis.models import KpiDefinition, KpiResult
from partners.audit import audit_record, summary
from partners.models import Tenant

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
    audit_record(tenant=tenant, actor=actor, action="kpi_definition.replaced", target=definition,
                 before=before, after=summary(definition, AUDIT_FIELDS))
    return definition
