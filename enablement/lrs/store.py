"""Storing xAPI statements (the LRS write path) and mapping them onto the activity log.

``xapi_statements_store`` is the service: one transaction per request; conflicts abort it.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from enablement.audiences import pairs_outside_audience
from enablement.lrs.attachments import attachments_store
from enablement.lrs.mapping import VOIDED, actor_email, actor_key, asset_ref, build_event
from enablement.lrs.models import Activity, StatementActivity, StatementAgent, XapiStatement
from enablement.lrs.shapes import (
    activities_with_definitions,
    comparable,
    merge_definition,
    normalise,
    related,
)
from enablement.lrs.validation import XapiInvalid, parse_timestamp
from enablement.models import ActivityEvent, Asset, EventSource, RefusalReason
from enablement.services.log import activity_record_many
from enablement.validation import event_refusal, outside_audience_refusal, refusals_record
from partners.models import Membership, Role, Tenant


class XapiConflict(Exception):
    pass


@dataclass
class StoreReport:
    ids: list[str]
    stored: int = 0
    unchanged: int = 0
    mapped: int = 0
    unmapped: dict[str, int] = field(default_factory=dict)


def _same(stored: dict[str, Any], incoming: dict[str, Any]) -> bool:
    """Data 2.3.1: the same statement, ignoring what the LRS may set or re-serialise."""
    if "timestamp" in incoming and not stored.get("_timestamp_set_by_lrs") and "timestamp" in stored:
        try:
            if parse_timestamp(stored["timestamp"], "t") != parse_timestamp(incoming["timestamp"], "t"):
                return False
        except XapiInvalid:
            return False
    if "timestamp" in incoming and stored.get("_timestamp_set_by_lrs"):
        return False
    return comparable({k: v for k, v in stored.items() if not k.startswith("_")}) == comparable(incoming)


def _used(statements: list[dict[str, Any]], sha2: str) -> bool:
    return any(str(a.get("sha2", "")).lower() == sha2 for s in statements for a in s.get("attachments") or [])


def _activity_id(stmt: dict[str, Any]) -> str:
    obj = stmt["object"]
    return obj["id"] if obj.get("objectType", "Activity") == "Activity" else ""


@transaction.atomic
def xapi_statements_store(
    *,
    tenant: Tenant,
    statements: list[dict[str, Any]],
    authority: dict[str, Any],
    attachments=None,
    actor=None,
    trusted: bool | None = None,
) -> StoreReport:
    """Store validated statements as received (ids assigned where absent), map what we know onto
    the activity log, void the targets of voiding statements. ``trusted`` (the key's "trusted
    source" setting) is stamped on the mapped events; a statement that cannot have happened as told
    (``enablement.validation.event_refusal``) is kept unmapped and counted as refused. Raises ``XapiConflict`` (409) when
    an id exists with other content, ``XapiInvalid`` (400) for duplicate ids in one batch or a
    voiding statement that targets a voiding statement. ``attachments`` (parts by SHA-2, already
    checked against the statements) are kept in the tenant's storage."""
    now = timezone.now()
    prepared: list[dict[str, Any]] = []
    seen: set[str] = set()
    for stmt in statements:
        stmt = normalise(stmt)
        stmt["id"] = str(uuid.UUID(stmt["id"])) if "id" in stmt else str(uuid.uuid4())
        if stmt["id"] in seen:
            raise XapiInvalid(f"Statement id {stmt['id']} appears twice in the batch")
        seen.add(stmt["id"])
        prepared.append(stmt)
    existing = {
        str(s.statement_id): s.payload
        for s in XapiStatement.objects.filter(tenant=tenant, statement_id__in=list(seen)).only(
            "statement_id", "payload"
        )
    }
    report = StoreReport(ids=[s["id"] for s in prepared])
    new: list[dict[str, Any]] = []
    for stmt in prepared:
        if stmt["id"] in existing:
            if not _same(existing[stmt["id"]], stmt):
                raise XapiConflict(f"Statement {stmt['id']} already exists with different content")
            report.unchanged += 1
            continue
        new.append(stmt)
    if not new:
        return report
    attachments_store(tenant=tenant, parts={s: p for s, p in (attachments or {}).items() if _used(new, s)})

    # voiding: targets must not be voiding statements themselves
    targets = {s["object"]["id"].lower() for s in new if s["verb"]["id"] == VOIDED}
    if targets:
        bad = XapiStatement.objects.filter(
            tenant=tenant, statement_id__in=list(targets), verb_id=VOIDED
        ).exists()
        if bad or any(s["id"] in targets and s["verb"]["id"] == VOIDED for s in new):
            raise XapiInvalid("A voiding statement cannot be voided")

    # resolution, set-based: members by email, assets by IRI / tail
    emails = {e for s in new if (e := actor_email(s["actor"]))}
    members: dict[str, tuple[int, int]] = {}
    if emails:
        for email, user_id, partner_id in Membership.objects.filter(
            tenant=tenant, is_active=True, role=Role.PARTNER_USER, user__email__in=emails
        ).values_list("user__email", "user_id", "partner_id"):
            members[email.lower()] = (user_id, partner_id)
    iris = {a for s in new if (a := _activity_id(s))}
    tails = {t[1] for a in iris if (t := asset_ref(a))}
    numeric = {int(t) for t in tails if re.fullmatch(r"\d{1,18}", t)}
    by_ext: dict[str, Asset] = {}
    by_pk: dict[int, Asset] = {}
    if iris:
        for asset in (
            Asset.objects.filter(tenant=tenant)
            .filter(Q(external_id__in=iris | tails) | Q(pk__in=numeric))
            .only("pk", "kind", "external_id", "tenant_id", "created_at")
        ):
            by_pk[asset.pk] = asset
            if asset.external_id:
                by_ext[asset.external_id] = asset

    def find_asset(iri: str) -> Asset | None:
        if iri in by_ext:
            return by_ext[iri]
        t = asset_ref(iri)
        if t is None:
            return None
        return by_ext.get(t[1]) or (by_pk.get(int(t[1])) if t[1].isdigit() and len(t[1]) <= 18 else None)

    rows: list[XapiStatement] = []
    events: list[ActivityEvent] = []
    refused: Counter[str] = Counter()
    for stmt in new:
        lrs_timestamp = "timestamp" not in stmt
        stmt["stored"] = now.isoformat()
        stmt.setdefault("timestamp", stmt["stored"])
        stmt["authority"] = authority
        stmt.setdefault("version", "1.0.0")
        timestamp: datetime = parse_timestamp(stmt["timestamp"], "timestamp")
        if timezone.is_naive(timestamp):
            timestamp = timezone.make_aware(timestamp, timezone.UTC)
        verb_id = stmt["verb"]["id"]
        reg = (stmt.get("context") or {}).get("registration")
        payload = dict(stmt)
        if lrs_timestamp:
            payload["_timestamp_set_by_lrs"] = True
        row = XapiStatement(
            tenant=tenant,
            statement_id=uuid.UUID(stmt["id"]),
            payload=payload,
            verb_id=verb_id[:500],
            actor_key=actor_key(stmt["actor"])[:500],
            activity_id=_activity_id(stmt)[:1000],
            registration=uuid.UUID(reg) if reg else None,
            timestamp=timestamp,
            stored=now,
            voids_statement_id=uuid.UUID(stmt["object"]["id"]) if verb_id == VOIDED else None,
            ref_statement_id=uuid.UUID(stmt["object"]["id"])
            if stmt["object"].get("objectType") == "StatementRef"
            else None,
        )
        if verb_id != VOIDED:
            email = actor_email(stmt["actor"])
            member = members.get(email) if email else None
            asset = find_asset(row.activity_id) if row.activity_id else None
            event, reason = build_event(tenant=tenant, stmt=stmt, member=member, asset=asset, occurred_at=timestamp)
            if event is not None:
                refusal = event_refusal(
                    verb=event.verb,
                    occurred_at=timestamp,
                    now=now,
                    tenant_created_at=tenant.created_at,
                    asset_kind=asset.kind if event.asset_id else None,
                    asset_created_at=asset.created_at if event.asset_id else None,
                )
                if refusal is not None:
                    refused[refusal[0]] += 1
                    event, reason = None, f"refused ({refusal[0]}): {refusal[2]}"
            elif reason == "verb for this kind of asset":
                refused[RefusalReason.VERB_KIND] += 1
            if event is None:
                row.unmapped = True
                row.unmapped_reason = (reason if reason.startswith("refused") else f"unknown {reason}")[:200]
                report.unmapped[row.unmapped_reason] = report.unmapped.get(row.unmapped_reason, 0) + 1
            else:
                event.trusted = trusted
                events.append(event)
        rows.append(row)
    events = _within_audiences(tenant=tenant, events=events, rows=rows, report=report, refused=refused)
    if refused:
        refusals_record(tenant=tenant, source=EventSource.XAPI, reasons=refused)
    if events:
        activity_record_many(tenant=tenant, events=events)
        pks = dict(
            ActivityEvent.objects.filter(
                tenant=tenant, source=EventSource.XAPI, event_id__in=[e.event_id for e in events]
            ).values_list("event_id", "pk")
        )
        for row in rows:
            pk = pks.get(str(row.statement_id))
            if pk is not None and not row.unmapped and row.voids_statement_id is None:
                row.mapped_event_id = pk
                report.mapped += 1
    XapiStatement.objects.bulk_create(rows)
    _index(tenant=tenant, rows=rows, statements=new, now=now)
    if targets:
        XapiStatement.objects.filter(tenant=tenant, statement_id__in=[uuid.UUID(t) for t in targets]).exclude(
            verb_id=VOIDED
        ).update(voided=True)
    report.stored = len(rows)
    return report


def _within_audiences(*, tenant: Tenant, events: list[ActivityEvent], rows, report, refused) -> list[ActivityEvent]:
    """A statement about an asset whose audience excludes the learner's partner is stored but not
    mapped into the log (refused as ``outside_audience``)."""
    outside_pairs = pairs_outside_audience(
        tenant=tenant, pairs={(e.partner_id, e.asset_id) for e in events if e.asset_id is not None}
    )
    outside = {e.event_id for e in events if (e.partner_id, e.asset_id) in outside_pairs}
    if not outside:
        return events
    reason, _field, message = outside_audience_refusal()
    for row in rows:
        if str(row.statement_id) in outside:
            row.unmapped = True
            row.unmapped_reason = f"refused ({reason}): {message}"[:200]
            report.unmapped[row.unmapped_reason] = report.unmapped.get(row.unmapped_reason, 0) + 1
            refused[reason] += 1
    return [e for e in events if e.event_id not in outside]


def _index(*, tenant: Tenant, rows: list[XapiStatement], statements: list[dict[str, Any]], now) -> None:
    """Write the agent/activity index rows of new statements; merge their activity definitions."""
    if rows and rows[0].pk is None:  # databases that do not return ids from a bulk insert
        pks = dict(
            XapiStatement.objects.filter(
                tenant=tenant, statement_id__in=[r.statement_id for r in rows]
            ).values_list("statement_id", "pk")
        )
        for r in rows:
            r.pk = pks[r.statement_id]
    agent_rows: list[StatementAgent] = []
    activity_rows: list[StatementActivity] = []
    definitions: dict[str, dict[str, Any]] = {}
    for row, stmt in zip(rows, statements, strict=True):
        agents, activities = related(stmt)
        agent_rows += [
            StatementAgent(tenant=tenant, statement_id=row.pk, agent_key=k[:500], direct=d, stored=now)
            for k, d in sorted(agents)
        ]
        activity_rows += [
            StatementActivity(tenant=tenant, statement_id=row.pk, activity_id=a[:1000], direct=d, stored=now)
            for a, d in sorted(activities)
        ]
        for activity in activities_with_definitions(stmt):
            if activity.get("definition"):
                definitions[activity["id"]] = merge_definition(
                    definitions.get(activity["id"], {}), activity["definition"]
                )
            else:
                definitions.setdefault(activity["id"], {})
    StatementAgent.objects.bulk_create(agent_rows, ignore_conflicts=True)
    StatementActivity.objects.bulk_create(activity_rows, ignore_conflicts=True)
    ids = [a for a in definitions if len(a) <= 1000]
    if not ids:
        return
    known = dict(
        Activity.objects.filter(tenant=tenant, activity_id__in=ids).values_list("activity_id", "definition")
    )
    Activity.objects.bulk_create(
        [
            Activity(
                tenant=tenant,
                activity_id=a,
                definition=merge_definition(known.get(a) or {}, definitions[a]),
                updated=now,
            )
            for a in sorted(ids)
        ],
        update_conflicts=True,
        unique_fields=["tenant", "activity_id"],
        update_fields=["definition", "updated"],
    )


def public_payload(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if not k.startswith("_")}
