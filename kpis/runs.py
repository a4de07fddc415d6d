"""Who may write a tenant's facts and KPI results, and whether a run is still alive.

* ``tenant_lock(tenant_id)``: taken first thing inside the transaction of every writer of the
  tenant's facts, states and KPI results (the rollup, the KPI computation). Concurrent runs of
  one tenant queue behind each other and both succeed (the second finds little left to do).
  PostgreSQL: ``pg_advisory_xact_lock`` (released by COMMIT/ROLLBACK, or when a killed worker's
  connection drops). SQLite: a write to the tenant's ``RollupState`` row, which takes the
  database's single write lock (transactions are IMMEDIATE anyway).
* ``rollup_lease(tenant)``: marks the state ``running`` under a fresh ``run_id`` with a lease
  (``lease_until``), renewed by a heartbeat thread while the run lives (PostgreSQL); a run killed
  with its worker stops renewing, its state reads ``stale`` once the lease runs out, and the next
  run (the 5-minute beat) simply takes the state over. All times are the database's clock.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection, connections
from django.db.models import F
from django.db.models.functions import Now
from django_scopes import scope, scopes_disabled

from kpis.models import RollupState

log = logging.getLogger(__name__)

LOCK_NAMESPACE = 0x6B706973  # "kpis": the first key of the two-key advisory lock


def lease_seconds() -> int:
    """How long a run stays ``running`` without a heartbeat. SQLite has no heartbeat (the run
    holds the only write lock), so there the lease covers the longest possible task."""
    if connection.vendor == "postgresql":
        return settings.KPIS_ROLLUP_LEASE_SECONDS
    return settings.CELERY_TASK_TIME_LIMIT


def tenant_lock(tenant_id: int) -> None:
    """Serialise the writers of one tenant until the current transaction ends."""
    if not connection.in_atomic_block:
        raise RuntimeError("tenant_lock() must be called inside transaction.atomic()")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, int(tenant_id) & 0x7FFFFFFF])
    else:
        RollupState.objects.filter(tenant_id=tenant_id).update(tenant_id=F("tenant_id"))


class Heartbeat(threading.Thread):
    """Renews the lease of one run every ``interval`` seconds on its own connection."""

    def __init__(self, *, tenant_id: int, run_id: str, lease: int, interval: float):
        super().__init__(name=f"rollup-heartbeat-{tenant_id}", daemon=True)
        self.tenant_id, self.run_id, self.lease, self.interval = tenant_id, run_id, lease, interval
        self.stopped = threading.Event()

    def beat(self) -> int:
        with scope(tenant=self.tenant_id):
            return RollupState.objects.filter(tenant_id=self.tenant_id, run_id=self.run_id).update(
                heartbeat_at=Now(), lease_until=Now() + dt.timedelta(seconds=self.lease)
            )

    def run(self) -> None:
        try:
            while not self.stopped.wait(self.interval):
                try:
                    self.beat()
                except Exception:  # a database blip: the next beat tries again
                    log.warning("Rollup heartbeat of tenant %s failed", self.tenant_id, exc_info=True)
        finally:
            connections.close_all()

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=self.interval + 30)


@contextmanager
def rollup_lease(tenant) -> Iterator[str]:
    """Hold the tenant's rollup lease for the duration of the block (see the module docstring).

    Yields the run id. On success the state returns to ``idle``, on an exception to ``failed``
    with the error; either only if no later run took the state over meanwhile.
    """
    run_id = uuid.uuid4().hex
    lease = lease_seconds()
    RollupState.objects.get_or_create(tenant=tenant)
    RollupState.objects.filter(tenant=tenant).update(
        status=RollupState.Status.RUNNING, run_id=run_id, started_at=Now(), heartbeat_at=Now(),
        lease_until=Now() + dt.timedelta(seconds=lease), last_error="",
    )
    heartbeat = None
    # The heartbeat writes on its own connection: only worth it when this run's state change is
    # committed (not inside an outer transaction) and the database takes concurrent writers.
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        heartbeat = Heartbeat(tenant_id=tenant.pk, run_id=run_id, lease=lease, interval=max(1.0, lease / 4))
        heartbeat.start()
    mine = RollupState.objects.filter(tenant=tenant, run_id=run_id)
    try:
        yield run_id
    except BaseException as exc:
        if heartbeat:
            heartbeat.stop()
        mine.update(
            status=RollupState.Status.FAILED, finished_at=Now(), lease_until=None,
            last_error="".join(traceback.format_exception_only(type(exc), exc)).strip()[:4000],
        )
        raise
    if heartbeat:
        heartbeat.stop()
    mine.update(status=RollupState.Status.IDLE, lease_until=None, last_error="")


def live_lease_tenant_ids() -> set[int]:
    """Tenants whose rollup is running under a live lease (the fan-out skips them). Cross-tenant."""
    with scopes_disabled():
        return set(
            RollupState.objects.filter(status=RollupState.Status.RUNNING, lease_until__gt=Now()).values_list(
                "tenant_id", flat=True
            )
        )

