"""Celery tasks of enablement: thin adapters (tenant id → scope → service)."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from enablement.notices import overdue_assignments_notify
from partners.models import Tenant
from partners.tenancy import scopes_disabled, tenant_task

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


@shared_task(name="enablement.tasks.overdue_assignments_notify_tenant", **TASK_OPTIONS)
@tenant_task
def overdue_assignments_notify_tenant(tenant_id: int) -> int:
    """Notify the partner users of every overdue assignment of one tenant (deduped: idempotent)."""
    tenant = Tenant.objects.get(pk=tenant_id)
    return len(overdue_assignments_notify(tenant=tenant))


@shared_task(name="enablement.tasks.overdue_assignments_notify_all_tenants", **TASK_OPTIONS)
def overdue_assignments_notify_all_tenants() -> int:
    """Daily beat entry: one ``overdue_assignments_notify_tenant`` per active tenant."""
    with scopes_disabled():  # the fan-out is cross-tenant by nature
        ids = list(Tenant.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True))
    for tenant_id in ids:
        overdue_assignments_notify_tenant.delay(tenant_id)
    return len(ids)


@shared_task(name="enablement.tasks.log_partitions_ensure", **TASK_OPTIONS)
def log_partitions_ensure() -> int:
    """Daily beat entry (PostgreSQL): the activity log's partitions for this month and the next
    three exist (idempotent; also done at every ``migrate``). Returns how many were created."""
    from enablement.logstore import partitions_ensure

    with scopes_disabled():
        return partitions_ensure()


@shared_task(name="enablement.tasks.log_archive_tenant", **TASK_OPTIONS)
@tenant_task
def log_archive_tenant(tenant_id: int) -> int:
    """Archive and remove one tenant's events older than its retention policy."""
    from enablement.services.retention import log_archive_tenant as archive

    return archive(tenant=Tenant.objects.get(pk=tenant_id)).rows


@shared_task(name="enablement.tasks.log_archive_all_tenants", **TASK_OPTIONS)
def log_archive_all_tenants() -> int:
    """Nightly beat entry: one ``log_archive_tenant`` per tenant with a retention policy."""
    with scopes_disabled():
        ids = list(
            Tenant.objects.filter(log_retention_months__isnull=False).order_by("pk").values_list("pk", flat=True)
        )
    for tenant_id in ids:
        log_archive_tenant.delay(tenant_id)
    return len(ids)
