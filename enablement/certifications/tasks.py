"""Celery adapters of certifications (tenant id → scope → service)."""

from __future__ import annotations

from celery import shared_task

from enablement.certifications.services import certificate_reminders_send, certificates_evaluate
from enablement.tasks import TASK_OPTIONS
from partners.models import Tenant
from partners.tenancy import scopes_disabled, tenant_task


@shared_task(name="certifications.tasks.certificates_evaluate_tenant", **TASK_OPTIONS)
@tenant_task
def certificates_evaluate_tenant(tenant_id: int, user_ids: list[int] | None = None) -> int:
    """Issue the certificates due in one tenant (for ``user_ids``, or everyone). Idempotent."""
    tenant = Tenant.objects.get(pk=tenant_id)
    return len(certificates_evaluate(tenant=tenant, user_ids=user_ids))


@shared_task(name="certifications.tasks.certificate_reminders_tenant", **TASK_OPTIONS)
@tenant_task
def certificate_reminders_tenant(tenant_id: int) -> int:
    """Mail the reminders before expiry that are due in one tenant (each stage once)."""
    tenant = Tenant.objects.get(pk=tenant_id)
    return certificate_reminders_send(tenant=tenant)


@shared_task(name="certifications.tasks.certifications_nightly_all_tenants", **TASK_OPTIONS)
def certifications_nightly_all_tenants() -> int:
    """Nightly beat entry: the full issuing sweep, then the reminders, per active tenant."""
    with scopes_disabled():  # the fan-out is cross-tenant by nature
        ids = list(Tenant.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True))
    for tenant_id in ids:
        certificates_evaluate_tenant.delay(tenant_id, None)
        certificate_reminders_tenant.delay(tenant_id)
    return len(ids)
