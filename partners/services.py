"""Writes of the partners app: keyword-only ``<entity>_<action>(*, tenant, ..., actor)`` under
``@transaction.atomic``. Several features add services here: append, do not rewrite."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import date, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from partners.models import ApiKey, ApiKeyScope, Deal, DealSource, DealStage, Partner, Tenant, User

# --- API keys (issue 6) -------------------------------------------------------------------------

API_KEY_PREFIX = "shien"
API_KEY_TOUCH_INTERVAL = timedelta(minutes=1)


def api_key_hash(secret: str) -> str:
    """sha256 of the whole raw key (the secret has 256 bits of entropy: no slow hash needed)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_split(raw: str) -> tuple[str, str] | None:
    """``shien_<prefix>_<secret>`` → ``(prefix, raw)``; None when malformed."""
    parts = raw.strip().split("_")
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], raw.strip()


def api_key_matches(key: ApiKey, raw: str) -> bool:
    return hmac.compare_digest(key.hashed_key, api_key_hash(raw))


@transaction.atomic
def api_key_create(*, tenant: Tenant, name: str, scopes: list[str], actor: User | None) -> tuple[ApiKey, str]:
    """Create a key; returns ``(key, raw_key)``. The raw key is shown once and never stored."""
    scopes = sorted(set(scopes))
    unknown = [s for s in scopes if s not in ApiKeyScope.values]
    if not scopes or unknown:
        raise ValidationError({"scopes": f"Choose at least one of {', '.join(ApiKeyScope.values)}."})
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A name is required."})
    if ApiKey.objects.filter(tenant=tenant, name=name).exists():
        raise ValidationError({"name": "A key with this name already exists."})
    prefix = secrets.token_hex(6)
    raw = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32).replace('_', 'x')}"
    key = ApiKey.objects.create(
        tenant=tenant, name=name, prefix=prefix, hashed_key=api_key_hash(raw), scopes=scopes, created_by=actor
    )
    return key, raw


@transaction.atomic
def api_key_revoke(*, tenant: Tenant, key: ApiKey, actor: User | None) -> ApiKey:
    if key.tenant_id != tenant.pk:
        raise ValueError("Key of another tenant")
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def api_key_touch(*, key: ApiKey) -> None:
    """Record the last use at most once a minute per key (no write per request)."""
    now = timezone.now()
    if key.last_used_at is not None and now - key.last_used_at < API_KEY_TOUCH_INTERVAL:
        return
    ApiKey.objects.filter(tenant_id=key.tenant_id, pk=key.pk).update(last_used_at=now)
    key.last_used_at = now


# --- Partners and deals by external id (API, CSV import) --------------------------------------------
@transaction.atomic
def partner_upsert(
    *, tenant: Tenant, external_id: str, actor: User | None = None, **fields
) -> tuple[Partner, bool]:
    """Create or update the partner with this external id. ``fields``: name, tier, segment, region,
    status, joined_on. Returns ``(partner, created)``."""
    if not external_id:
        raise ValidationError({"external_id": "An external id is required."})
    partner = Partner.objects.select_for_update().filter(tenant=tenant, external_id=external_id).first()
    created = partner is None
    if created:
        partner = Partner(tenant=tenant, external_id=external_id)
    for name, value in fields.items():
        setattr(partner, name, value)
    if partner.tier_id is not None and partner.tier.tenant_id != tenant.pk:
        raise ValidationError({"tier": "Unknown tier."})
    partner.full_clean(exclude=["tenant", "manager"], validate_constraints=False)
    if Partner.objects.filter(tenant=tenant, name=partner.name).exclude(pk=partner.pk).exists():
        raise ValidationError({"name": "Another partner has this name."})
    partner.save()
    return partner, created


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


# --- Deal registration and approval (issue 7: portal and manage area) ----------------------------------
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
    return deal
