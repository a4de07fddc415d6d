"""Writes of deal registration: upsert by external id (API, CSV import), registration in the
portal and the approval workflow registered → approved → won / lost (or rejected)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from partners.audit import audit_record, summary
from partners.deals.models import Deal, DealSource, DealStage
from partners.models import Partner, Tenant, User

DEAL_AUDIT_FIELDS = ("partner", "customer", "product", "amount", "currency", "stage", "expected_close_on", "closed_on")


def _person(actor) -> User | None:
    """The person behind ``actor`` (None for an API key or the system)."""
    return actor if isinstance(actor, User) else None


@transaction.atomic
def deal_upsert(
    *,
    tenant: Tenant,
    external_id: str,
    partner: Partner,
    customer: str,
    amount: Decimal,
    currency: str = "JPY",
    stage: str | None = None,
    product: str = "",
    expected_close_on: date | None = None,
    closed_on: date | None = None,
    source: str = DealSource.API,
    actor: User | None = None,
) -> tuple[Deal, bool]:
    """Create or update the deal (outcome) with this external id. Returns ``(deal, created)``.

    ``stage=None`` keeps an existing deal's stage and starts a new one as ``registered`` (the API:
    stage changes go through ``deal_transition``). The CSV import of a manager passes the stage.
    Won/lost deals without ``closed_on`` are closed today; the partner must be the tenant's.
    """
    if not external_id:
        raise ValidationError({"external_id": "An external id is required."})
    if partner.tenant_id != tenant.pk:
        raise ValidationError({"partner": "Unknown partner."})
    if stage is not None and stage not in DealStage.values:
        raise ValidationError({"stage": f"One of {', '.join(DealStage.values)}."})
    deal = Deal.objects.select_for_update().filter(tenant=tenant, external_id=external_id).first()
    created = deal is None
    if stage is None:
        stage = DealStage.REGISTERED if created else deal.stage
        closed_on = closed_on if stage in (DealStage.WON, DealStage.LOST) else None
        if not created and closed_on is None:
            closed_on = deal.closed_on
    if stage in (DealStage.WON, DealStage.LOST) and closed_on is None:
        closed_on = timezone.localdate()
    before = {} if created else summary(deal, DEAL_AUDIT_FIELDS)
    if created:
        deal = Deal(tenant=tenant, external_id=external_id, source=source, registered_by=_person(actor))
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
    after = summary(deal, DEAL_AUDIT_FIELDS)
    if created or after != before:
        action = "deal.created" if created else (
            "deal.stage_changed" if before.get("stage") != after.get("stage") else "deal.updated")
        audit_record(tenant=tenant, actor=actor, action=action, target=deal, before=before, after=after)
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
        registered_by=_person(actor),
    )
    deal.full_clean(exclude=["tenant", "partner", "registered_by", "decided_by"], validate_constraints=False)
    deal.save()
    audit_record(tenant=tenant, actor=actor, action="deal.registered", target=deal,
                 after=summary(deal, DEAL_AUDIT_FIELDS))
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
    before = summary(deal, ("stage", "closed_on"))
    deal.stage = stage
    fields = ["stage", "updated_at"]
    if stage in (DealStage.WON, DealStage.LOST):
        deal.closed_on = closed_on or timezone.localdate()
        fields.append("closed_on")
    if stage in (DealStage.APPROVED, DealStage.REJECTED):
        deal.decided_by = _person(actor)
        fields.append("decided_by")
    deal.save(update_fields=fields)
    audit_record(tenant=tenant, actor=actor, action="deal.stage_changed", target=deal, before=before,
                 after=summary(deal, ("stage", "closed_on")))
    return deal
