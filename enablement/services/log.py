"""Writes to the activity log. Every path that logs activity (portal, API, xAPI, import, demo)
goes through ``activity_record`` or ``activity_record_many``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models.expressions import DatabaseDefault
from django.utils import timezone

from enablement.certifications.services import certificates_evaluate_after_log
from enablement.completion import COMPLETION_VERBS, asset_completes
from enablement.models import ActivityEvent, ActivityEventKey, Asset, EventSource, Verb
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
    if user is not None and asset is not None and asset_completes(asset, verb):
        certificates_evaluate_after_log(tenant_id=tenant.pk, user_ids=[user.pk])
    return event, True


_INSERT_CHUNK = 500


def _insert_sql(rows: int, fields: list) -> str:
    """``INSERT … RETURNING`` of ``rows`` rows that answers, per row, whether it was stored now.

    SQLite: ``INSERT … ON CONFLICT DO NOTHING RETURNING`` on the log's unique key (SQLite >= 3.35).
    PostgreSQL: the log is partitioned by month, so its idempotency key lives in
    ``enablement_activityeventkey``; one statement inserts the keys (in key order, ``ON CONFLICT DO
    NOTHING RETURNING``) and then exactly the events whose key it stored.
    ``received_at`` is the database's clock unless the caller gave one (imports, tests)."""
    columns = [f.column for f in fields]
    table = ActivityEvent._meta.db_table
    if connection.vendor != "postgresql":
        now = "strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now')"
        one = ", ".join(f"COALESCE(%s, {now})" if c == "received_at" else "%s" for c in columns)
        return (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([f'({one})'] * rows)} "  # noqa: S608 (names only)
            f"ON CONFLICT (tenant_id, source, event_id) DO NOTHING RETURNING source, event_id"
        )
    casts = [f"%s::{f.db_type(connection)}" for f in fields]
    one = ", ".join(f"COALESCE({cast}, statement_timestamp())" if f.column == "received_at" else cast
                    for f, cast in zip(fields, casts, strict=True))
    keys = ActivityEventKey._meta.db_table
    names = ", ".join(columns)
    return (
        f"WITH v ({names}) AS (VALUES {', '.join([f'({one})'] * rows)}), "  # noqa: S608 (names only)
        f"k AS (INSERT INTO {keys} (tenant_id, source, event_id) SELECT tenant_id, source, event_id FROM v "
        f"ORDER BY tenant_id, source, event_id ON CONFLICT DO NOTHING RETURNING source, event_id) "
        f"INSERT INTO {table} ({names}) SELECT {', '.join('v.' + c for c in columns)} FROM v "
        f"JOIN k ON k.source = v.source AND k.event_id = v.event_id RETURNING source, event_id"
    )


@transaction.atomic
def activity_record_many(*, tenant: Tenant, events: list[ActivityEvent]) -> list[bool]:
    """Append many events set-based. Returns, per input, True when stored now and False when it
    was a duplicate of a stored event or of an earlier one in the same batch (idempotent on
    ``(tenant, source, event_id)``).

    The answer comes from the database itself (``INSERT … ON CONFLICT DO NOTHING RETURNING``, on
    PostgreSQL into the key table of the partitioned log, see ``_insert_sql``):
    when two clients send the same ids at once, each id is reported ``True`` to exactly one of
    them. On PostgreSQL rows are inserted in key order, so concurrent batches take their index
    locks in the same order and never deadlock.
    """
    postgres = connection.vendor == "postgresql"
    # PostgreSQL: ids are drawn from the sequence first and handed out in input order, so the log's
    # id order still follows the batch while the rows go in sorted by key. SQLite has one writer at
    # a time (no deadlock to avoid): rows go in input order.
    fields = [f for f in ActivityEvent._meta.concrete_fields if postgres or not f.primary_key]
    first: dict[tuple[str, str], int] = {}
    for index, event in enumerate(events):
        if event.tenant_id != tenant.pk:
            raise ValueError("Event of another tenant")
        first.setdefault((event.source, event.event_id), index)
    ordered = sorted(first.items()) if postgres else list(first.items())
    ids: dict[int, int] = {}
    if postgres and ordered:
        with connection.cursor() as cursor:
            cursor.execute(
                # the batch's ids and, in the same query, the flag that tells the log's key trigger
                # these statements write the keys themselves (transaction-local; reset after them)
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')), set_config('shien.keys_written', 'on', true) "
                "FROM generate_series(1, %s)",
                [ActivityEvent._meta.db_table, len(ordered)],
            )
            ids = dict(zip(sorted(first.values()), sorted(r[0] for r in cursor.fetchall()), strict=True))
    stored: set[tuple[str, str]] = set()
    with connection.cursor() as cursor:
        for at in range(0, len(ordered), _INSERT_CHUNK):
            chunk = ordered[at : at + _INSERT_CHUNK]
            params: list = []
            for _key, index in chunk:
                event = events[index]
                for field in fields:
                    value = ids[index] if field.primary_key else getattr(event, field.attname)
                    if field.attname == "received_at" and (value is None or isinstance(value, DatabaseDefault)):
                        params.append(None)
                    else:
                        params.append(field.get_db_prep_save(value, connection))
            cursor.execute(_insert_sql(len(chunk), fields), params)
            stored.update((source, event_id) for source, event_id in cursor.fetchall())
        if postgres and ordered:
            cursor.execute("SELECT set_config('shien.keys_written', '', true)")
    result = [(e.source, e.event_id) in stored and first[(e.source, e.event_id)] == i for i, e in enumerate(events)]
    completing = {v for verbs in COMPLETION_VERBS.values() for v in verbs}
    certificates_evaluate_after_log(
        tenant_id=tenant.pk,
        user_ids=[e.user_id for e, new in zip(events, result, strict=True)
                  if new and e.verb in completing and e.trusted is not False],
    )
    return result
