"""Plausibility rules an external event must pass before it enters the log, and the counter of
events refused by them (per tenant, day, source and reason).

Ingestion (the events API and the xAPI mapping) asks ``event_refusal`` once per row after names
are resolved; a refused row is answered with its reason and never stored.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from enablement.models import AssetKind, IngestRefusal, RefusalReason, Verb
from partners.models import Tenant

# How far ahead of the server clock an event may claim to have happened (clock skew of the sender).
FUTURE_SKEW = dt.timedelta(minutes=5)

# Which verbs may be said of which kind of asset (verbs without an asset are not listed).
VERBS_BY_KIND: dict[str, frozenset[str]] = {
    AssetKind.TRAINING: frozenset({Verb.TRAINING_STARTED, Verb.TRAINING_PROGRESSED, Verb.TRAINING_COMPLETED}),
    AssetKind.DOCUMENT: frozenset({Verb.DOCUMENT_VIEWED, Verb.DOCUMENT_DOWNLOADED, Verb.DOCUMENT_READ}),
    AssetKind.FAQ: frozenset({Verb.FAQ_VIEWED, Verb.FAQ_FEEDBACK}),
    AssetKind.ASSESSMENT: frozenset({Verb.ASSESSMENT_ATTEMPTED, Verb.ASSESSMENT_PASSED, Verb.ASSESSMENT_FAILED}),
}

# Verbs only this server records, from what it measured itself: an external system may not send
# them (``document.read``: the reading time credited in the portal's server-side sessions).
SERVER_ONLY_VERBS: frozenset[str] = frozenset({Verb.DOCUMENT_READ})

MESSAGES: dict[str, tuple[str, str]] = {
    RefusalReason.SERVER_ONLY: ("verb", "Only this server records {verb} (from the reading time it measured)."),
    RefusalReason.VERB_KIND: ("verb", "This verb does not fit the kind of the asset ({kind})."),
    RefusalReason.BEFORE_TENANT: ("occurred_at", "Lies before the tenant existed ({since})."),
    RefusalReason.BEFORE_ASSET: ("occurred_at", "Lies before the asset existed ({since})."),
    RefusalReason.FUTURE: ("occurred_at", "Lies more than 5 minutes ahead of the server clock ({since})."),
    RefusalReason.OUTSIDE_AUDIENCE: ("asset", "The partner is outside the audience of this asset."),
}


def event_refusal(
    *,
    verb: str,
    occurred_at: dt.datetime,
    now: dt.datetime,
    tenant_created_at: dt.datetime,
    asset_kind: str | None = None,
    asset_created_at: dt.datetime | None = None,
) -> tuple[str, str, str] | None:
    """``(reason, field, message)`` when the event cannot have happened as told (or is not the
    sender's to tell: ``SERVER_ONLY_VERBS``), else None."""
    if verb in SERVER_ONLY_VERBS:
        return server_only_refusal(verb)
    if asset_kind is not None and asset_kind in VERBS_BY_KIND and verb not in VERBS_BY_KIND[asset_kind]:
        return _refusal(RefusalReason.VERB_KIND, kind=asset_kind)
    if occurred_at > now + FUTURE_SKEW:
        return _refusal(RefusalReason.FUTURE, since=now.isoformat(timespec="seconds"))
    if occurred_at < tenant_created_at:
        return _refusal(RefusalReason.BEFORE_TENANT, since=tenant_created_at.isoformat(timespec="seconds"))
    if asset_created_at is not None and occurred_at < asset_created_at:
        return _refusal(RefusalReason.BEFORE_ASSET, since=asset_created_at.isoformat(timespec="seconds"))
    return None


def server_only_refusal(verb: str) -> tuple[str, str, str]:
    """A verb only this server records, sent by an external system."""
    return _refusal(RefusalReason.SERVER_ONLY, verb=verb)


def outside_audience_refusal() -> tuple[str, str, str]:
    """The partner may not see the asset (``enablement.audiences``), so it cannot have used it."""
    return _refusal(RefusalReason.OUTSIDE_AUDIENCE)


def _refusal(reason: str, **values) -> tuple[str, str, str]:
    field, message = MESSAGES[reason]
    return reason, field, message.format(**values)


def refusal_reason_for_errors(errors: dict[str, list[str]]) -> str:
    """The counter's reason for a row refused by the shape or name checks."""
    if "partner" in errors and len(errors) == 1:
        return RefusalReason.UNKNOWN_PARTNER
    if "asset" in errors and len(errors) == 1 and any(m.startswith("Unknown asset") for m in errors["asset"]):
        return RefusalReason.UNKNOWN_ASSET
    return RefusalReason.INVALID


@transaction.atomic
def refusals_record(*, tenant: Tenant, source: str, reasons: Counter[str], day: dt.date | None = None) -> None:
    """Add refused events to the day's counters (one UPDATE, or INSERT, per reason)."""
    day = day or timezone.localdate(timezone=tenant.zoneinfo)
    for reason, n in reasons.items():
        if n <= 0:
            continue
        updated = IngestRefusal.objects.filter(tenant=tenant, day=day, source=source, reason=reason).update(
            count=F("count") + n
        )
        if updated:
            continue
        try:
            with transaction.atomic():
                IngestRefusal.objects.create(tenant=tenant, day=day, source=source, reason=reason, count=n)
        except IntegrityError:  # a concurrent request created it first
            IngestRefusal.objects.filter(tenant=tenant, day=day, source=source, reason=reason).update(
                count=F("count") + n
            )

