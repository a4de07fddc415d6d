"""Writes to the activity log. Every path that logs activity (portal, API, xAPI, import, demo)
goes through ``activity_record`` or ``activity_record_many``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from enablement.models import ActivityEvent, Asset, EventSource, Verb
from partners.models import Partner, Tenant, User


@transaction.atomic
def activity_record(
    *,
    tenant: Tenant,
    partner: Partner,
    verb: str,
    user: User | None = None,
    actor_ref: str = "",
    asset: Asset | None = None,
    occurred_at: datetime | None = None,
    source: str = EventSource.PORTAL,
    event_id: str | None = None,
    progress: float | None = None,
    seconds: float | None = None,
    position: float | None = None,
    played_segments: list[list[float]] | None = None,
    query: str = "",
    result_count: int | None = None,
    resolved: bool | None = None,
    session_key: str = "",
    extra: dict[str, Any] | None = None,
) -> tuple[ActivityEvent, bool]:
    """Append one event to the log. Returns ``(event, created)``.

    Idempotent on ``(tenant, source, event_id)``: sending the same event twice stores it once
    and returns the stored row with ``created=False``.
    """
    if verb not in Verb.values:
        raise ValueError(f"Unknown verb {verb!r}")
    if partner.tenant_id != tenant.pk or (asset is not None and asset.tenant_id != tenant.pk):
        raise ValueError("Partner and asset must belong to the tenant")
    event = ActivityEvent(
        tenant=tenant,
        partner=partner,
        user=user,
        actor_ref=actor_ref,
        asset=asset,
        verb=verb,
        occurred_at=occurred_at or timezone.now(),
        progress=progress,
        seconds=seconds,
        position=position,
        played_segments=played_segments,
        query=query[:300],
        result_count=result_count,
        resolved=resolved,
        source=source,
        event_id=event_id or uuid.uuid4().hex,
        session_key=session_key[:64],
        extra=extra or {},
    )
    try:
        with transaction.atomic():
            event.save(force_insert=True)
    except IntegrityError:
        existing = ActivityEvent.objects.filter(tenant=tenant, source=source, event_id=event.event_id).first()
        if existing is None:
            raise
        return existing, False
    return event, True


@transaction.atomic
def activity_record_many(*, tenant: Tenant, events: list[ActivityEvent]) -> list[bool]:
    """Append many events set-based: one query for known ids, one multi-row INSERT.

    ``events`` are unsaved ``ActivityEvent`` objects of this tenant. Returns, per input, True
    when stored now and False when it was a duplicate of a stored event or of an earlier one in
    the same batch (idempotent on ``(tenant, source, event_id)``).
    """
    keys = [(e.source, e.event_id) for e in events]
    existing: set[tuple[str, str]] = set()
    by_source: dict[str, list[str]] = {}
    for source, event_id in keys:
        by_source.setdefault(source, []).append(event_id)
    for source, ids in by_source.items():
        existing.update(
            (source, eid)
            for eid in ActivityEvent.objects.filter(tenant=tenant, source=source, event_id__in=ids).values_list(
                "event_id", flat=True
            )
        )
    created: list[bool] = []
    fresh: list[ActivityEvent] = []
    seen: set[tuple[str, str]] = set()
    for event, key in zip(events, keys, strict=True):
        if event.tenant_id != tenant.pk:
            raise ValueError("Event of another tenant")
        if key in existing or key in seen:
            created.append(False)
            continue
        seen.add(key)
        fresh.append(event)
        created.append(True)
    # ignore_conflicts: a concurrent writer of the same id wins; the row is still stored once.
    ActivityEvent.objects.bulk_create(fresh, batch_size=1000, ignore_conflicts=True)
    return created
