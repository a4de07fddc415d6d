"""Writes of deal registration: upsert by external id (API, CSV import), registration in the
portal and the approval workflow registered → approved → won / lost (or rejected)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from partners.deals.models import Deal, DealSource, DealStage
from partners.deals.notices import deal_decision_notify
from partners.models import Partner, Tenant, User


@transaction.atomic
def deal_upsert(
    *,
    tenant: Tenant,
    external_id: str,
    partner: Partner,
    customer: str,
    amount: Decimal,
    currency: str = "JPY",
    stage: str = DealStage.REGISTERED,
    product: str = "",
    expected_close_on: date | None = None,
    closed_on: date | None = None,
    source: str = DealSource.API,
    actor: User | None = None,
) -> tuple[Deal, bool]:
    """Create or update the deal (outcome) with this external id. Returns ``(deal, created)``.

    Won/lost deals without ``closed_on`` are closed today; the partner must be the tenant's.
    """
    if not external_id:
        raise ValidationError({"external_id": "An external id is required."})
    if partner.tenant_id != tenant.pk:
        raise ValidationError({"partner": "Unknown partner."})
    if stage not in DealStage.values:
        raise ValidationError({"stage": f"One of {', '.join(DealStage.values)}."})
    if stage in (DealStage.WON, DealStage.LOST) and closed_on is None:
        closed_on = timezone.localdate()
    deal = Deal.objects.select_for_update().filter(tenant=tenant, external_id=external_id).first()
    created = deal is None
    if created:
        deal = Deal(tenant=tenant, external_id=external_id, source=source, registered_by=actor)
    deal.partner = partner
    deal.customer = customer
    deal.amount = amount
    deal.currency = (currency or "JPY").upper()
    deal.stage = stage
    deal.product = product
    deal.expected_close_on = expected_close_on
    deal.closed_on = closed_on
    deal.full_clean(exclude=["tenant", "partner", "registered_by", "decided_by"], validate_constraints=False)
    deal.save()
    return deal, created


DEAL_TRANSITIONS: dict[str, frozenset[str]] = {
    DealStage.REGISTERED: frozenset({DealStage.APPROVED, DealStage.REJECTED}),
    DealStage.APPROVED: frozenset({DealStage.WON, DealStage.LOST, DealStage.REJECTED}),
    DealStage.REJECTED: frozenset(),
    DealStage.WON: frozenset(),
    DealStage.LOST: frozenset(),
}


@transaction.atomic
def deal_register(
    *,
    tenant: Tenant,
    partner: Partner,
    customer: str,
    amount: Decimal,
    currency: str = "JPY",
    product: str = "",
    expected_close_on: date | None = None,
    actor: User | None,
) -> Deal:
    """A partner user registers an opportunity (stage ``registered``, source ``portal``)."""
    if partner.tenant_id != tenant.pk:
        raise ValidationError({"partner": "Unknown partner."})
    deal = Deal(
        tenant=tenant,
        partner=partner,
        customer=customer.strip(),
        product=product.strip(),
        amount=amount,
        currency=(currency or "JPY").upper(),
        expected_close_on=expected_close_on,
        stage=DealStage.REGISTERED,
        source=DealSource.PORTAL,
        registered_by=actor,
    )
    deal.full_clean(exclude=["tenant", "partner", "registered_by", "decided_by"], validate_constraints=False)
    deal.save()
    return deal


@transaction.atomic
def deal_transition(
    *, tenant: Tenant, deal: Deal, stage: str, closed_on: date | None = None, actor: User | None
) -> Deal:
    """Move a deal along registered → approved → won / lost (or rejected). Refuses other moves."""
    if deal.tenant_id != tenant.pk:
        raise ValidationError({"deal": "Unknown deal."})
    deal = Deal.objects.select_for_update().get(tenant=tenant, pk=deal.pk)
    if stage not in DEAL_TRANSITIONS.get(deal.stage, frozenset()):
        raise ValidationError({"stage": f"A {deal.stage} deal cannot become {stage}."})
    deal.stage = stage
    fields = ["stage", "updated_at"]
    if stage in (DealStage.WON, DealStage.LOST):
        deal.closed_on = closed_on or timezone.localdate()
        fields.append("closed_on")
    if stage in (DealStage.APPROVED, DealStage.REJECTED):
        deal.decided_by = actor
        fields.append("decided_by")
    deal.save(update_fields=fields)
    deal_decision_notify(tenant=tenant, deal=deal)  # approved/rejected: the registering user, e-mail on commit
    return deal
