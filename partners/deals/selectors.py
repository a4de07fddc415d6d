"""Reads of deal registration: lists for the manager and the partner, conflicts, stage history."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet

from partners.deals.models import OPEN_STAGES, Deal, DealEvent
from partners.models import Partner, Tenant


def _competing(tenant: Tenant, *, key_ref, domain_ref, partner_ref) -> QuerySet[Deal]:
    same_customer = (Q(customer_key=key_ref) & ~Q(customer_key="")) | (Q(customer_domain=domain_ref) & ~Q(customer_domain=""))
    return Deal.objects.filter(tenant=tenant, stage__in=OPEN_STAGES).filter(same_customer).exclude(partner_id=partner_ref)


def deal_list(*, tenant: Tenant, partner: Partner | None = None) -> QuerySet[Deal]:
    """Deals of the tenant (or one partner), newest first, each annotated ``has_conflict``: it is open
    and another partner holds an open registration for the same customer (name key or domain)."""
    others = _competing(
        tenant, key_ref=OuterRef("customer_key"), domain_ref=OuterRef("customer_domain"), partner_ref=OuterRef("partner_id")
    )
    qs = Deal.objects.filter(tenant=tenant)
    if partner is not None:
        qs = qs.filter(partner=partner)
    return (
        qs.annotate(has_conflict=Exists(others) & Q(stage__in=OPEN_STAGES))
        .select_related("partner", "decided_by")
        .order_by("-created_at", "-id")
    )


def deal_conflicts(*, tenant: Tenant, deal: Deal) -> QuerySet[Deal]:
    """Open registrations of other partners for the same customer as ``deal`` (oldest first: the
    first registration is usually the one that holds)."""
    if not deal.customer_key and not deal.customer_domain:
        return Deal.objects.none()
    return (
        _competing(tenant, key_ref=deal.customer_key, domain_ref=deal.customer_domain, partner_ref=deal.partner_id)
        .exclude(pk=deal.pk)
        .select_related("partner", "registered_by")
        .order_by("created_at", "id")
    )


def conflicts_for_customer(*, tenant: Tenant, customer_key: str, customer_domain: str, partner: Partner) -> QuerySet[Deal]:
    """Open registrations of other partners for a customer not saved yet (registration, import preview)."""
    if not customer_key and not customer_domain:
        return Deal.objects.none()
    return _competing(tenant, key_ref=customer_key, domain_ref=customer_domain, partner_ref=partner.pk).select_related(
        "partner"
    )


def deal_history(*, tenant: Tenant, deal: Deal) -> QuerySet[DealEvent]:
    """The deal's stage history, oldest first."""
    return DealEvent.objects.filter(tenant=tenant, deal=deal).select_related("actor").order_by("at", "id")


def deal_latest_reason(*, tenant: Tenant, deal: Deal) -> DealEvent | None:
    """The latest change with a reason (the reason the partner must see for a rejected or returned deal)."""
    return DealEvent.objects.filter(tenant=tenant, deal=deal).exclude(reason="").order_by("-at", "-id").first()
