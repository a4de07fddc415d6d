"""Celery adapters for success patterns (thin: tenant id → scope → service).

Celery's autodiscovery imports ``kpis.tasks``; that module imports this one at its end.
"""

from __future__ import annotations

from celery import shared_task

from kpis.patterns.mining import mine_patterns
from kpis.patterns.notices import next_actions_weekly_notify
from kpis.patterns.selectors import clean_params
from partners.models import Tenant
from partners.tenancy import scopes_disabled, tenant_task


@shared_task(name="kpis.patterns.tasks.mine_patterns_tenant", acks_late=True, reject_on_worker_lost=True)
@tenant_task
def mine_patterns_tenant(tenant_id: int, window_days=None, top_share=None, metric=None) -> int:
    """Compute the success patterns of one tenant; returns the PatternRun id."""
    days, share, metric = clean_params(window_days, top_share, metric)
    tenant = Tenant.objects.get(pk=tenant_id)
    return mine_patterns(tenant=tenant, window_days=days, top_share=share, metric=metric).pk


@shared_task(name="kpis.patterns.tasks.mine_patterns_all_tenants", acks_late=True, reject_on_worker_lost=True)
def mine_patterns_all_tenants() -> int:
    """Fan out one mining task per active tenant (for a nightly beat entry)."""
    ids = list(Tenant.objects.filter(is_active=True).values_list("pk", flat=True))
    for tenant_id in ids:
        mine_patterns_tenant.delay(tenant_id)
    return len(ids)


@shared_task(name="kpis.patterns.tasks.next_actions_weekly_tenant", acks_late=True, reject_on_worker_lost=True,
             ignore_result=True)
@tenant_task
def next_actions_weekly_tenant(tenant_id: int) -> int:
    """This week's next-best-action notice to one tenant's partner users (once per user and ISO week)."""
    return len(next_actions_weekly_notify(tenant=Tenant.objects.get(pk=tenant_id)))


@shared_task(name="kpis.patterns.tasks.next_actions_weekly_all_tenants", acks_late=True, reject_on_worker_lost=True,
             ignore_result=True)
def next_actions_weekly_all_tenants() -> int:
    """Weekly beat entry: one ``next_actions_weekly_tenant`` per active tenant."""
    with scopes_disabled():
        ids = list(Tenant.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True))
    for tenant_id in ids:
        next_actions_weekly_tenant.delay(tenant_id)
    return len(ids)
