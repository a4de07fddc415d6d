"""Reads for the rollup status ("Refresh now" and the freshness line on the dashboards) and for the
manage area's KPI definitions and dated targets."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models.functions import Now
from django.utils.translation import gettext

from kpis.models import KpiDefinition, KpiTarget, RollupState
from kpis.services import is_pending
from partners.models import Tenant


@dataclass(frozen=True)
class Freshness:
    status: str  # idle / requested / running / stale / failed / never
    pending: bool
    computed_at: dt.datetime | None  # KPI results computed, in the tenant's time zone
    rolled_up_at: dt.datetime | None  # last finished rollup, in the tenant's time zone
    watermark: dt.datetime | None
    last_error: str


def kpi_freshness(*, tenant: Tenant) -> Freshness:
    """When the tenant's numbers were last computed and whether a run is pending (1 query)."""
    state = RollupState.objects.filter(tenant=tenant).annotate(db_now=Now()).first()
    zone = tenant.zoneinfo
    if state is None:
        return Freshness("never", False, None, None, None, "")

    def local(value):
        return value.astimezone(zone) if value else None

    return Freshness(
        status=state.effective_status(state.db_now),
        pending=is_pending(state, state.db_now),
        computed_at=local(state.kpis_computed_at),
        rolled_up_at=local(state.finished_at),
        watermark=local(state.watermark),
        last_error=state.last_error,
    )


# --- KPI definitions and their dated targets (manage area) ------------------------------------------


def kpi_definition_list(*, tenant: Tenant):
    """The tenant's definitions, active first, with how many results each has (1 query)."""
    from django.db.models import Count

    return (
        KpiDefinition.objects.filter(tenant=tenant)
        .select_related("tier")
        .annotate(result_count=Count("results", distinct=True), target_count=Count("targets", distinct=True))
        .order_by("-is_active", "metric", "period", "id")
    )


@dataclass(frozen=True)
class TargetSpan:
    """One dated target of a scope and how long it is in force (``until`` None: open-ended)."""

    row: KpiTarget | None  # None: the definition's own target, before any dated one
    starts: dt.date | None
    until: dt.date | None
    target: Decimal


@dataclass(frozen=True)
class TargetScope:
    key: str
    label: str
    spans: list[TargetSpan]
    probe: dict | None  # the partner-like row ``target_in_force`` judges (None: the overall row)


@dataclass(frozen=True)
class TargetPeriod:
    start: dt.date
    end: dt.date
    current: bool
    targets: list[Decimal]  # per scope, in the order of ``TargetTimeline.scopes``


@dataclass(frozen=True)
class TargetTimeline:
    scopes: list[TargetScope]
    periods: list[TargetPeriod]


def kpi_target_timeline(*, tenant: Tenant, definition: KpiDefinition, today: dt.date,
                        back: int = 3, ahead: int = 2) -> TargetTimeline:
    """Which target applies when: per scope (everyone, each tier, segment and partner with a dated
    target) the spans between its dates, and for the recent and coming periods of the definition the
    target each scope is judged by — through ``kpis.metrics.target_in_force``, the rule the KPI
    computation uses, so the page and the numbers agree (2 queries)."""
    from kpis.definitions import target_scope_label
    from kpis.metrics import target_in_force
    from kpis.periods import period_after, period_bounds, recent_periods

    targets = list(
        KpiTarget.objects.filter(tenant=tenant, definition=definition).select_related("tier", "partner")
        .order_by("effective_from", "id")
    )
    groups: dict[tuple, list[KpiTarget]] = {}
    for t in targets:
        groups.setdefault((t.partner_id or 0, t.segment, t.tier_id or 0), []).append(t)
    scopes = []
    everyone = groups.pop((0, "", 0), [])
    spans = [
        TargetSpan(None, None, _day_before(everyone[0].effective_from) if everyone else None, definition.target),
        *_spans(everyone),
    ]
    scopes.append(TargetScope("everyone", gettext("Everyone"), spans, None))

    def rank(key):  # tiers, then segments, then partners, each by name
        first = groups[key][0]
        return (2 if first.partner_id else 1 if first.segment else 0, str(first.partner or first.segment or first.tier))

    for key in sorted(groups, key=rank):
        rows = groups[key]
        first = rows[0]
        spans = _spans(rows)
        if first.partner_id:
            p = first.partner
            probe = {"id": p.pk, "tier_id": p.tier_id, "segment": p.segment}
        elif first.segment:
            probe = {"id": None, "tier_id": None, "segment": first.segment}
        else:
            probe = {"id": None, "tier_id": first.tier_id, "segment": ""}
        scopes.append(TargetScope(f"{key}", target_scope_label(first), spans, probe))

    starts = [s for s, _e in recent_periods(definition.period, today, back)]
    start = starts[-1]
    for _i in range(ahead):
        start = period_after(definition.period, start)
        starts.append(start)
    periods = []
    for start in starts:
        end = period_bounds(definition.period, start)[1]
        periods.append(TargetPeriod(
            start, end, start <= today <= end,
            [target_in_force(definition, targets, start, scope.probe)[0] for scope in scopes],
        ))
    return TargetTimeline(scopes, periods)


def _day_before(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=1)


def _spans(rows: list[KpiTarget]) -> list[TargetSpan]:
    """Dated targets of one scope, oldest first: each in force until the day before the next."""
    return [
        TargetSpan(t, t.effective_from, _day_before(rows[i + 1].effective_from) if i + 1 < len(rows) else None, t.target)
        for i, t in enumerate(rows)
    ]
