"""Reads for the rollup status ("Refresh now" and the freshness line on the dashboards)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models.functions import Now

from kpis.models import RollupState
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
