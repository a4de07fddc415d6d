"""Celery tasks of the KPI engine: thin adapters (tenant id → scope → service).

Idempotent (a rollup is a windowed recompute), ``acks_late`` + ``reject_on_worker_lost`` (a
task lost with its worker is redelivered), retried with backoff only on database
``OperationalError`` (lock timeouts, a restarting server). With no broker configured they run
eagerly (``CELERY_TASK_ALWAYS_EAGER``).
"""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.conf import settings
from django.db import OperationalError
from django.utils import timezone

from kpis.metrics import RECENT_PERIODS_BACK
from kpis.notices import weekly_digest_notify
from kpis.runs import live_lease_tenant_ids
from kpis.services import kpis_refresh_now
from partners.models import Tenant
from partners.tenancy import scopes_disabled, tenant_task

log = logging.getLogger(__name__)

TASK_OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 5,
    "ignore_result": True,
}


def recent_since(tenant: Tenant, days: int):
    """The first of the ``days`` most recent tenant-local days (today included)."""
    return timezone.localdate(timezone=tenant.zoneinfo) - dt.timedelta(days=days - 1)


def _active_tenant_ids() -> list[int]:
    with scopes_disabled():  # the fan-out is cross-tenant by nature
        return list(Tenant.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True))


@shared_task(name="kpis.tasks.rollup_tenant", **TASK_OPTIONS)
@tenant_task
def rollup_tenant(tenant_id: int, periods_back: int = 1, recompute_days: int = 0) -> dict:
    """Roll up one tenant's new events and compute its KPI results. ``recompute_days``: also
    recompute the facts and states of that many recent tenant-local days from the log."""
    tenant = Tenant.objects.get(pk=tenant_id, is_active=True)
    since = recent_since(tenant, recompute_days) if recompute_days else None
    result = kpis_refresh_now(tenant=tenant, periods_back=periods_back, since=since)
    log.info("KPI rollup %s (%s): %s days, %s results (%s, %s written)", tenant.slug, result.stats.mode,
             result.stats.days, result.results, result.scope, result.written)
    return {"tenant": tenant.slug, "days": result.stats.days, "results": result.results, "written": result.written}


@shared_task(name="kpis.tasks.rollup_all_tenants", **TASK_OPTIONS)
def rollup_all_tenants() -> int:
    """Beat entry (every 5 minutes): one ``rollup_tenant`` per active tenant."""
    busy = live_lease_tenant_ids()  # a live run rolls up what is there; the next beat the rest
    ids = [tenant_id for tenant_id in _active_tenant_ids() if tenant_id not in busy]
    for tenant_id in ids:
        rollup_tenant.delay(tenant_id)
    return len(ids)


@shared_task(name="kpis.tasks.recompute_recent_all_tenants", **TASK_OPTIONS)
def recompute_recent_all_tenants() -> int:
    """Nightly beat entry: recompute the recent days of facts and states from the log, and the
    recent KPI periods, of every tenant (late events, changed assignments or targets)."""
    ids = _active_tenant_ids()
    days = settings.KPIS_NIGHTLY_RECOMPUTE_DAYS
    for tenant_id in ids:
        rollup_tenant.delay(tenant_id, periods_back=RECENT_PERIODS_BACK, recompute_days=days)
    return len(ids)


@shared_task(name="kpis.tasks.weekly_digest_tenant", **TASK_OPTIONS)
@tenant_task
def weekly_digest_tenant(tenant_id: int) -> int:
    """This week's digest to one tenant's channel managers (once per manager and ISO week)."""
    return len(weekly_digest_notify(tenant=Tenant.objects.get(pk=tenant_id)))


@shared_task(name="kpis.tasks.weekly_digest_all_tenants", **TASK_OPTIONS)
def weekly_digest_all_tenants() -> int:
    """Weekly beat entry: one ``weekly_digest_tenant`` per active tenant."""
    ids = _active_tenant_ids()
    for tenant_id in ids:
        weekly_digest_tenant.delay(tenant_id)
    return len(ids)
