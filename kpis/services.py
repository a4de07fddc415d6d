"""Writes of the KPI engine: run the rollup and the KPI computation, request a refresh."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.db.models.functions import Now

from kpis import jobs
from kpis.metrics import compute_kpis
from kpis.models import RollupState
from kpis.rollup import RollupStats, rollup_tenant
from kpis.scope import KpiTouched
from partners.models import Tenant, User
from partners.tenancy import tenant_scope

log = logging.getLogger(__name__)


@dataclass
class RefreshResult:
    stats: RollupStats
    results: int  # KPI results computed
    written: int = 0  # of which inserted, updated or deleted (0 when nothing changed)
    scope: str = "full"  # "scoped": only the periods and partners whose inputs changed (kpis.scope)


def kpis_refresh_now(
    *,
    tenant: Tenant,
    since: dt.date | None = None,
    full: bool = False,
    periods_back: int = 1,
    progress: Callable[[str], None] | None = None,
    scoped: bool = True,
) -> RefreshResult:
    """Roll up the tenant's new events, then compute its KPI results (current + ``periods_back``):
    only the periods and partners the rollup or any other input changed (``kpis.scope``), or
    everything on the first run of a day, after a full or ``since`` rollup, when a change asks, or
    with ``scoped=False`` (a run by hand).

    Not one big transaction on purpose: the rollup commits its facts and its watermark
    atomically and records ``failed`` + the error outside its transaction; the KPI computation
    is a second atomic step (rerunnable on its own). Must run inside the tenant's scope.
    """
    stats = rollup_tenant(tenant, since=since, full=full, progress=progress)
    if progress:
        progress("KPI results")
    report: dict = {}
    try:
        results = compute_kpis(tenant, periods_back=periods_back, report=report, touched=KpiTouched.from_stats(stats) if scoped else None)
    except Exception as exc:
        RollupState.objects.filter(tenant=tenant).update(
            status=RollupState.Status.FAILED, last_error=f"KPI computation: {type(exc).__name__}: {exc}"[:4000]
        )
        raise
    return RefreshResult(stats=stats, results=results, written=report.get("written", 0), scope=report.get("scope", "full"))


QUEUE_UNREACHABLE = "The job queue did not answer; the next scheduled rollup picks this request up."


@transaction.atomic
def kpis_refresh_request(*, tenant: Tenant, actor: User) -> RollupState:
    """"Refresh now": record the request and enqueue the tenant's rollup once the transaction commits.

    The request thread never waits on the broker for more than about a second (``kpis.jobs``).
    When the broker is down or hung the state stays ``requested`` with a note, and the scheduled
    rollup (every 5 minutes, for every tenant) does the work. A run already pending is not
    requested twice.
    """
    RollupState.objects.get_or_create(tenant=tenant)
    state = RollupState.objects.select_for_update().annotate(db_now=Now()).get(tenant=tenant)
    if not is_pending(state, state.db_now):
        RollupState.objects.filter(pk=state.pk).update(
            status=RollupState.Status.REQUESTED, requested_at=Now(), last_error=""
        )
        transaction.on_commit(functools.partial(_enqueue_rollup, tenant.pk))
        state.refresh_from_db()
    log.info("KPI refresh requested for %s by user %s", tenant.slug, actor.pk)
    return state


def _enqueue_rollup(tenant_id: int) -> None:
    if not jobs.enqueue(ROLLUP_TASK, tenant_id):
        # Only a request nobody took up yet is annotated (an eager run records its own outcome).
        with tenant_scope(tenant_id):
            RollupState.objects.filter(tenant_id=tenant_id, status=RollupState.Status.REQUESTED).update(
                last_error=QUEUE_UNREACHABLE
            )


ROLLUP_TASK = "kpis.tasks.rollup_tenant"
REQUEST_STALE_AFTER = dt.timedelta(minutes=15)  # three beat runs: by then the request was served or lost


def is_pending(state: RollupState | None, now: dt.datetime) -> bool:
    """A run is pending while it is requested (for a while) or running under a live lease.
    ``now`` is the database's clock (the lease and the request times are)."""
    if state is None:
        return False
    if state.status == RollupState.Status.REQUESTED:
        return state.requested_at is not None and now - state.requested_at < REQUEST_STALE_AFTER
    return state.effective_status(now) == RollupState.Status.RUNNING
