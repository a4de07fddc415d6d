"""Daily deal-registration expiry: a fan-out over the active tenants, one task per tenant."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from partners.deals.services import deal_expire_due
from partners.models import Tenant
from partners.tenancy import scopes_disabled, tenant_task

TASK_OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": 5,
    "max_retries": 5,
    "ignore_result": True,
}


@shared_task(**TASK_OPTIONS)
def expire_deals_all_tenants() -> None:
    with scopes_disabled():  # the fan-out is cross-tenant by nature
        tenant_ids = list(Tenant.objects.filter(is_active=True).values_list("pk", flat=True))
    for tenant_id in tenant_ids:
        expire_deals_tenant.delay(tenant_id)


@shared_task(**TASK_OPTIONS)
@tenant_task
def expire_deals_tenant(tenant_id: int) -> tuple[int, int]:
    """Expires the tenant's due registrations and sends ``deal_expiring`` for the ones expiring soon
    (today in the tenant's time zone)."""
    from django.utils import timezone

    tenant = Tenant.objects.get(pk=tenant_id)
    return deal_expire_due(tenant=tenant, today=timezone.localdate(timezone=tenant.zoneinfo))
