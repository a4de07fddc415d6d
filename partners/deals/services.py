"""Writes of deal registration: upsert by external id (API, CSV import), registration in the
portal and the workflow registered → approved → won / lost, rejected or returned for changes (with a
reason), reopened, expired. Every change of stage writes a ``DealEvent`` in the same transaction."""

from __future__ import annotations

import datetime as dt
from datetime import date
from decimal import Decimal

import django.dispatch
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from partners.audit import audit_record
from partners.deals.models import Deal, DealEvent, DealSource, DealStage
from partners.deals.normalize import customer_key, registrable_domain
from partners.models import Partner, Tenant, User

# Sent by the daily expiry task for each open registration that expires in exactly
# ``DEAL_EXPIRY_REMINDER_DAYS`` days (so once per registration period): ``sender=Deal, deal=…, days_left=…``.
# Notifications connect to it; this context sends no mail itself.
deal_expiring = django.dispatch.Signal()
DEAL_EXPIRY_REMINDER_DAYS = 7

# Stages that need a reason, and stages a deal can be reopened from.
REASON_REQUIRED = frozenset({DealStage.REJECTED, DealStage.RETURNED})
REOPENABLE = frozenset({DealStage.REJECTED, DealStage.RETURNED, DealStage.EXPIRED})


def _person(actor) -> User | None:
    """The person behind ``actor`` (None for an API key or the system)."""
    return actor if isinstance(actor, User) else None


def _record(*, deal: Deal, from_stage: str, to_stage: str, actor, reason: str = "") -> DealEvent:
    """The deal's own stage history and the tenant's audit trail, in the same transaction."""
    audit_record(
        tenant=deal.tenant, actor=actor, action="deal.created" if not from_stage else "deal.stage_changed",
        target=deal, before={"stage": from_stage} if from_stage else {},
        after={"stage": to_stage, **({"reason": reason} if reason else {})},
    )
    return DealEvent.objects.create(
        tenant_id=deal.tenant_id, deal=deal, from_stage=from_stage, to_stage=to_stage, actor=_person(actor),
        reason=reason,
    )


def _identify(deal: Deal) -> None:
    deal.customer_key = customer_key(deal.customer)
    deal.customer_domain = registrable_domain(deal.customer_domain)


def _expiry(tenant: Tenant, stage: str, current: date | None) -> date | None:
    if stage not in (DealStage.REGISTERED, DealStage.APPROVED):
        return None
    return current or timezone.localdate() + dt.timedelta(days=tenant.deal_registration_days)


@transaction.atomic
def deal_upsert(
    *,
    tenant: Tenant,
    external_id: str,
    partner: Partner,
    customer: str,
    amount: Decimal,
    currency: str = "",
    stage: str | None = None,
    product: str = "",
    expected_close_on: date | None = None,
    closed_on: date | None = None,
    source: str = DealSource.API,
    customer_domain: str = "",
    actor: User | None = None,
) -> tuple[Deal, bool]:
    """Create or update the deal (outcome) with this external id. Returns ``(deal, created)``.

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
    if stage is None:  # the API: a new deal enters as registered, an existing one keeps its stage
        stage = DealStage.REGISTERED if created else deal.stage
        closed_on = closed_on if stage in (DealStage.WON, DealStage.LOST) else None
        if not created and closed_on is None:
            closed_on = deal.closed_on
    if stage in (DealStage.WON, DealStage.LOST) and closed_on is None:
        closed_on = timezone.localdate()
    if created:
        deal = Deal(tenant=tenant, external_id=external_id, source=source, registered_by=_person(actor))
    from_stage = "" if created else deal.stage
    deal.partner = partner
    deal.customer = customer
    if customer_domain or created:
        deal.customer_domain = customer_domain
    deal.amount = amount
    deal.currency = (currency or tenant.currency).upper()
    deal.stage = stage
    deal.product = product
    deal.expected_close_on = expected_close_on
    deal.closed_on = closed_on
    deal.expires_on = _expiry(tenant, stage, None if from_stage != stage else deal.expires_on)
    _identify(deal)
    deal.full_clean(exclude=["tenant", "partner", "registered_by", "decided_by"], validate_constraints=False)
    deal.save()
    if from_stage != stage:
        _record(deal=deal, from_stage=from_stage, to_stage=stage, actor=actor)
    return deal, created


DEAL_TRANSITIONS: dict[str, frozenset[str]] = {
    DealStage.REGISTERED: frozenset({DealStage.APPROVED, DealStage.REJECTED, DealStage.RETURNED, DealStage.EXPIRED}),
    DealStage.APPROVED: frozenset({DealStage.WON, DealStage.LOST, DealStage.REJECTED, DealStage.EXPIRED}),
    DealStage.RETURNED: frozenset({DealStage.REGISTERED, DealStage.REJECTED}),
    DealStage.REJECTED: frozenset({DealStage.REGISTERED}),
    DealStage.EXPIRED: frozenset({DealStage.REGISTERED}),
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
    currency: str = "",
    product: str = "",
    expected_close_on: date | None = None,
    customer_domain: str = "",
    actor: User | None,
) -> Deal:
    """A partner user registers an opportunity (stage ``registered``, source ``portal``); it expires
    after the tenant's registration days. Conflicts: ``selectors.deal_conflicts``."""
    if partner.tenant_id != tenant.pk:
        raise ValidationError({"partner": "Unknown partner."})
    deal = Deal(
        tenant=tenant,
        partner=partner,
        customer=customer.strip(),
        customer_domain=customer_domain,
        product=product.strip(),
        amount=amount,
        currency=(currency or tenant.currency).upper(),
        expected_close_on=expected_close_on,
        stage=DealStage.REGISTERED,
        source=DealSource.PORTAL,
        registered_by=_person(actor),
        expires_on=_expiry(tenant, DealStage.REGISTERED, None),
    )
    _identify(deal)
    deal.full_clean(exclude=["tenant", "partner", "registered_by", "decided_by"], validate_constraints=False)
    deal.save()
    _record(deal=deal, from_stage="", to_stage=DealStage.REGISTERED, actor=actor)
    return deal


@transaction.atomic
def deal_transition(
    *, tenant: Tenant, deal: Deal, stage: str, closed_on: date | None = None, reason: str = "", actor: User | None
) -> Deal:
    """Move a deal along its workflow (``DEAL_TRANSITIONS``). Rejecting and returning for changes need
    a reason; reopening (back to ``registered``) starts a new registration period."""
    if deal.tenant_id != tenant.pk:
        raise ValidationError({"deal": "Unknown deal."})
    deal = Deal.objects.select_for_update().get(tenant=tenant, pk=deal.pk)
    if stage not in DEAL_TRANSITIONS.get(deal.stage, frozenset()):
        raise ValidationError({"stage": f"A {deal.stage} deal cannot become {stage}."})
    reason = (reason or "").strip()
    if stage in REASON_REQUIRED and not reason:
        raise ValidationError({"reason": "A reason is required."})
    from_stage = deal.stage
    deal.stage = stage
    fields = ["stage", "expires_on", "updated_at"]
    if stage in (DealStage.WON, DealStage.LOST):
        deal.closed_on = closed_on or timezone.localdate()
        fields.append("closed_on")
    if stage in (DealStage.APPROVED, DealStage.REJECTED, DealStage.RETURNED):
        deal.decided_by = _person(actor)
        fields.append("decided_by")
    deal.expires_on = _expiry(tenant, stage, deal.expires_on if stage == DealStage.APPROVED else None)
    deal.save(update_fields=fields)
    _record(deal=deal, from_stage=from_stage, to_stage=stage, actor=actor, reason=reason)
    return deal


@transaction.atomic
def deal_update(
    *,
    tenant: Tenant,
    deal: Deal,
    customer: str,
    amount: Decimal,
    currency: str = "",
    product: str = "",
    expected_close_on: date | None = None,
    customer_domain: str = "",
    actor: User | None,
) -> Deal:
    """The partner changes a registration returned for changes and sends it again (→ registered)."""
    if deal.tenant_id != tenant.pk:
        raise ValidationError({"deal": "Unknown deal."})
    deal = Deal.objects.select_for_update().get(tenant=tenant, pk=deal.pk)
    if deal.stage != DealStage.RETURNED:
        raise ValidationError({"stage": "Only a deal returned for changes can be changed."})
    deal.customer, deal.product, deal.amount = customer.strip(), product.strip(), amount
    deal.currency = (currency or tenant.currency).upper()
    deal.expected_close_on, deal.customer_domain = expected_close_on, customer_domain
    _identify(deal)
    deal.full_clean(exclude=["tenant", "partner", "registered_by", "decided_by"], validate_constraints=False)
    deal.save()
    return deal_transition(tenant=tenant, deal=deal, stage=DealStage.REGISTERED, actor=actor)


def deal_expire_due(*, tenant: Tenant, today: date | None = None) -> tuple[int, int]:
    """Expire open registrations past their date and announce (``deal_expiring``) those expiring
    in ``DEAL_EXPIRY_REMINDER_DAYS`` days. Run once a day. Returns ``(expired, reminded)``."""
    today = today or timezone.localdate()
    expired = 0
    due = Deal.objects.filter(
        tenant=tenant, stage__in=[DealStage.REGISTERED, DealStage.APPROVED], expires_on__lt=today
    ).values_list("pk", flat=True)
    for pk in list(due):
        with transaction.atomic():
            deal = Deal.objects.select_for_update().get(tenant=tenant, pk=pk)
            if deal.stage in (DealStage.REGISTERED, DealStage.APPROVED) and deal.expires_on and deal.expires_on < today:
                deal_transition(tenant=tenant, deal=deal, stage=DealStage.EXPIRED, actor=None)
                expired += 1
    soon = Deal.objects.filter(
        tenant=tenant,
        stage__in=[DealStage.REGISTERED, DealStage.APPROVED],
        expires_on=today + dt.timedelta(days=DEAL_EXPIRY_REMINDER_DAYS),
    ).select_related("partner")
    reminded = 0
    for deal in soon:
        deal_expiring.send(sender=Deal, deal=deal, days_left=(deal.expires_on - today).days)
        reminded += 1
    return expired, reminded

