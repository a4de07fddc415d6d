"""Writes of the KPI engine: run the rollup and the KPI computation, request a refresh."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from kpis.metrics import compute_kpis
from kpis.models import RollupState
from kpis.rollup import RollupStats, rollup_tenant
from partners.models import Tenant, User

log = logging.getLogger(__name__)


@dataclass
class RefreshResult:
    stats: RollupStats
    results: int


def kpis_refresh_now(
    *,
    tenant: Tenant,
    since: dt.date | None = None,
    full: bool = False,
    periods_back: int = 1,
    progress: Callable[[str], None] | None = None,
) -> RefreshResult:
    """Roll up the tenant's new events, then compute its KPI results (current + ``periods_back``).

    Not one big transaction on purpose: the rollup commits its facts and its watermark
    atomically and records ``failed`` + the error outside its transaction; the KPI computation
    is a second atomic step (rerunnable on its own). Must run inside the tenant's scope.
    """
    stats = rollup_tenant(tenant, since=since, full=full, progress=progress)
    if progress:
        progress("KPI results")
    try:
        results = compute_kpis(tenant, periods_back=periods_back)
    except Exception as exc:
        RollupState.objects.filter(tenant=tenant).update(
            status=RollupState.Status.FAILED, last_error=f"KPI computation: {type(exc).__name__}: {exc}"[:4000]
        )
        raise
    return RefreshResult(stats=stats, results=results)


@transaction.atomic
def kpis_refresh_request(*, tenant: Tenant, actor: User) -> RollupState:
    """"Refresh now": mark the tenant's rollup as pending and enqueue it once the transaction commits.

    A broker that is down does not fail the request: the state records the error and the
    scheduled rollup catches up later.
    """
    from kpis import tasks  # tasks import services: keep the cycle lazy

    state, _ = RollupState.objects.select_for_update().get_or_create(tenant=tenant)
    if not is_pending(state):
        state.status = RollupState.Status.RUNNING
        state.started_at = timezone.now()
        state.last_error = ""
        state.save(update_fields=["status", "started_at", "last_error"])

        def enqueue() -> None:
            try:
                tasks.rollup_tenant.delay(tenant.pk)
            except Exception as exc:  # broker unreachable (eager mode raises the task's own errors)
                log.warning("Could not enqueue the KPI rollup of %s: %s", tenant.slug, exc)
                RollupState.objects.filter(tenant=tenant, status=RollupState.Status.RUNNING).update(
                    status=RollupState.Status.FAILED, finished_at=timezone.now(), last_error=str(exc)[:4000]
                )

        transaction.on_commit(enqueue)
    log.info("KPI refresh requested for %s by user %s", tenant.slug, actor.pk)
    return state


STALE_AFTER = dt.timedelta(minutes=10)


def is_pending(state: RollupState | None) -> bool:
    """A run is pending while it is marked running and not stale (a lost run stops polling)."""
    if state is None or state.status != RollupState.Status.RUNNING or state.started_at is None:
        return False
    return timezone.now() - state.started_at < STALE_AFTER
