"""Batch event ingestion: validate each event, resolve names set-based, one multi-row insert.

A constant number of queries per batch, whatever its size: one for partners by external id,
one for memberships by email (partners named by a user's email, and users), one for assets,
then ``activity_record_many`` (one lookup of known ids, one INSERT).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from enablement.audiences import pairs_outside_audience
from enablement.models import ActivityEvent, Asset, EventSource, Verb
from enablement.services.log import activity_record_many
from enablement.validation import (
    SERVER_ONLY_VERBS,
    event_refusal,
    outside_audience_refusal,
    refusal_reason_for_errors,
    refusals_record,
    server_only_refusal,
)
from partners.models import Membership, Partner, Role, Tenant

MAX_EVENTS = 500
MAX_BYTES = 1024 * 1024

ALLOWED_FIELDS = frozenset(
    {
        "event_id",
        "verb",
        "occurred_at",
        "partner",
        "user",
        "asset",
        "progress",
        "seconds",
        "position",
        "played_segments",
        "query",
        "result_count",
        "resolved",
        "score",
        "extra",
    }
)
ASSET_VERBS = frozenset(
    {
        Verb.TRAINING_STARTED,
        Verb.TRAINING_PROGRESSED,
        Verb.TRAINING_COMPLETED,
        Verb.DOCUMENT_VIEWED,
        Verb.DOCUMENT_DOWNLOADED,
        Verb.DOCUMENT_READ,
        Verb.FAQ_VIEWED,
        Verb.ASSESSMENT_ATTEMPTED,
        Verb.ASSESSMENT_PASSED,
        Verb.ASSESSMENT_FAILED,
    }
)
# The scaled score (0..1) of a graded attempt: kept in ``extra.score`` like the portal's own.
SCORED_VERBS = frozenset({Verb.ASSESSMENT_PASSED, Verb.ASSESSMENT_FAILED})
MAX_SEGMENTS = 2000


@dataclass
class Pending:
    index: int
    data: dict[str, Any]
    errors: dict[str, list[str]] = field(default_factory=dict)
    occurred_at: datetime | None = None
    reason: str = ""  # why it was refused (enablement.models.RefusalReason)

    def err(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)


def _number(p: Pending, name: str, *, lo: float | None = None, hi: float | None = None, integer: bool = False):
    value = p.data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or (isinstance(value, float) and not math.isfinite(value)):
        p.err(name, "Must be a number.")
        return None
    if integer and not isinstance(value, int):
        p.err(name, "Must be an integer.")
        return None
    if lo is not None and value < lo or hi is not None and value > hi:
        bounds = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        p.err(name, f"Must be {bounds}.")
        return None
    return value


def _string(p: Pending, name: str, *, max_length: int, required: bool = False) -> str | None:
    value = p.data.get(name)
    if value is None or value == "":
        if required:
            p.err(name, "This field is required.")
        return None
    if not isinstance(value, str):
        p.err(name, "Must be a string.")
        return None
    if len(value) > max_length:
        p.err(name, f"At most {max_length} characters.")
        return None
    return value


MAX_EXTRA_DEPTH = 8


def _unstorable(value: Any, depth: int = 0) -> str | None:
    """Why a JSON value cannot be stored as text (PostgreSQL refuses NUL bytes and unpaired
    surrogates; deep nesting is refused before it costs anything), or None."""
    if isinstance(value, str):
        if "\x00" in value:
            return "Contains a NUL character (\\u0000)."
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "Contains an unpaired UTF-16 surrogate."
        return None
    if depth > MAX_EXTRA_DEPTH:
        return f"Nested deeper than {MAX_EXTRA_DEPTH} levels."
    if isinstance(value, dict):
        for key, item in value.items():
            reason = _unstorable(key, depth + 1) or _unstorable(item, depth + 1)
            if reason:
                return reason
    elif isinstance(value, list):
        for item in value:
            reason = _unstorable(item, depth + 1)
            if reason:
                return reason
    return None


def _validate_shape(p: Pending, now: datetime) -> None:
    d = p.data
    for name, value in d.items():
        reason = _unstorable(name) or _unstorable(value)
        if reason:
            p.err(name if isinstance(name, str) and not _unstorable(name) else "non_field_errors", reason)
    if p.errors:
        return
    unknown = sorted(set(d) - ALLOWED_FIELDS)
    if unknown:
        p.err("non_field_errors", f"Unknown fields: {', '.join(unknown)}.")
    _string(p, "event_id", max_length=100, required=True)
    verb = _string(p, "verb", max_length=32, required=True)
    if verb is not None and verb not in Verb.values:
        p.err("verb", f"Unknown verb. One of: {', '.join(Verb.values)}.")
    elif verb in SERVER_ONLY_VERBS:  # refused whatever else the row says
        p.reason, name, message = server_only_refusal(verb)
        p.err(name, message)
    raw_when = d.get("occurred_at")
    if raw_when in (None, ""):
        p.err("occurred_at", "This field is required.")
    elif not isinstance(raw_when, str):
        p.err("occurred_at", "Must be an ISO 8601 date-time string.")
    else:
        try:
            when = parse_datetime(raw_when)
        except ValueError:
            when = None
        if when is None:
            p.err("occurred_at", "Must be an ISO 8601 date-time, e.g. 2026-04-01T09:30:00+09:00.")
        elif when.tzinfo is None:
            p.err("occurred_at", "Include a time zone offset (e.g. Z or +09:00).")
        else:  # plausibility (clock skew, before the tenant or asset existed): enablement.validation
            p.occurred_at = when
    _string(p, "partner", max_length=254, required=True)
    _string(p, "user", max_length=300)
    asset = d.get("asset")
    if asset is not None and (isinstance(asset, bool) or not isinstance(asset, int | str) or asset == ""):
        p.err("asset", "An asset id (integer) or external id (string).")
    elif isinstance(asset, str) and len(asset) > 200:
        p.err("asset", "At most 200 characters.")
    if verb in ASSET_VERBS and asset in (None, ""):
        p.err("asset", "This verb needs an asset.")
    _number(p, "progress", lo=0, hi=100)
    _number(p, "seconds", lo=0, hi=10**7)
    _number(p, "position", lo=0, hi=10**7)
    _number(p, "result_count", lo=0, hi=10**9, integer=True)
    _number(p, "score", lo=0, hi=1)
    if d.get("score") is not None and verb not in SCORED_VERBS:
        p.err("score", "Only assessment.passed and assessment.failed carry a score.")
    if d.get("resolved") is not None and not isinstance(d["resolved"], bool):
        p.err("resolved", "Must be true, false or null.")
    query = _string(p, "query", max_length=300)
    if verb == Verb.FAQ_SEARCHED and not query:
        p.err("query", "A search needs its query.")
    segments = d.get("played_segments")
    if segments is not None:
        ok = isinstance(segments, list) and len(segments) <= MAX_SEGMENTS
        if ok:
            for seg in segments:
                if not (
                    isinstance(seg, list)
                    and len(seg) == 2
                    and all(isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) for x in seg)
                    and 0 <= seg[0] <= seg[1]
                ):
                    ok = False
                    break
        if not ok:
            p.err("played_segments", f"A list of at most {MAX_SEGMENTS} [start, end] pairs with 0 ≤ start ≤ end.")
    extra = d.get("extra")
    if extra is not None and not isinstance(extra, dict):
        p.err("extra", "Must be an object.")


def ingest_events(
    *, tenant: Tenant, items: list[Any], source: str = EventSource.API, trusted: bool | None = None
) -> list[dict[str, Any]]:
    """Validate, resolve and store a batch. Returns one result per input, in order:
    ``{"index", "event_id", "status": accepted|duplicate|rejected, "reason"?, "errors"?}``.

    ``trusted`` is the sending key's "trusted source" setting, stamped on every stored event:
    completions from an untrusted source are kept but never count. Refused rows are counted per
    reason (``enablement.validation.refusals_record``)."""
    now = timezone.now()
    pending: list[Pending] = []
    for index, item in enumerate(items):
        p = Pending(index=index, data=item if isinstance(item, dict) else {})
        if not isinstance(item, dict):
            p.err("non_field_errors", "Each event must be a JSON object.")
        else:
            _validate_shape(p, now)
        pending.append(p)

    valid = [p for p in pending if not p.errors]
    # -- resolution: a constant number of queries -----------------------------------------------
    partner_refs = {p.data["partner"] for p in valid}
    partner_ext = {r for r in partner_refs if "@" not in r}
    emails = {r.lower() for r in partner_refs if "@" in r}
    emails |= {p.data["user"].lower() for p in valid if isinstance(p.data.get("user"), str) and "@" in p.data["user"]}
    partners_by_ext: dict[str, int] = {}
    if partner_ext:
        partners_by_ext = dict(
            Partner.objects.filter(tenant=tenant, external_id__in=partner_ext).values_list("external_id", "pk")
        )
    members_by_email: dict[str, tuple[int, int | None]] = {}
    if emails:
        for email, user_id, partner_id in Membership.objects.filter(
            tenant=tenant, is_active=True, role=Role.PARTNER_USER, user__email__in=emails
        ).values_list("user__email", "user_id", "partner_id"):
            members_by_email[email.lower()] = (user_id, partner_id)
    asset_ids = {p.data["asset"] for p in valid if isinstance(p.data.get("asset"), int)}
    asset_ext = {p.data["asset"] for p in valid if isinstance(p.data.get("asset"), str)}
    assets_by_id: dict[int, int] = {}
    assets_by_ext: dict[str, int] = {}
    asset_facts: dict[int, tuple[str, datetime]] = {}  # pk -> (kind, created_at)
    if asset_ids or asset_ext:
        for pk, ext, kind, created_at in Asset.objects.filter(tenant=tenant).filter(
            Q(pk__in=[i for i in asset_ids if 0 < i < 2**63]) | Q(external_id__in=asset_ext)
        ).values_list("pk", "external_id", "kind", "created_at"):
            assets_by_id[pk] = pk
            asset_facts[pk] = (kind, created_at)
            if ext:
                assets_by_ext[ext] = pk

    to_store: list[tuple[Pending, ActivityEvent]] = []
    for p in valid:
        d = p.data
        ref = d["partner"]
        if "@" in ref:
            member = members_by_email.get(ref.lower())
            partner_id = member[1] if member else None
        else:
            partner_id = partners_by_ext.get(ref)
        if partner_id is None:
            p.err("partner", "Unknown partner (external id or a partner user's email).")
        user_id = None
        actor_ref = ""
        user_ref = d.get("user")
        if user_ref:
            member = members_by_email.get(user_ref.lower()) if "@" in user_ref else None
            if member and member[1] == partner_id:
                user_id = member[0]
            else:
                actor_ref = user_ref
        elif "@" in ref and partner_id is not None:
            user_id = members_by_email[ref.lower()][0]
        asset_id = None
        asset_ref = d.get("asset")
        if asset_ref is not None:
            asset_id = assets_by_id.get(asset_ref) if isinstance(asset_ref, int) else assets_by_ext.get(asset_ref)
            if asset_id is None:
                p.err("asset", "Unknown asset (id or external id).")
        if p.errors:
            continue
        kind, asset_created_at = asset_facts.get(asset_id, (None, None)) if asset_id else (None, None)
        refusal = event_refusal(
            verb=d["verb"],
            occurred_at=p.occurred_at,
            now=now,
            tenant_created_at=tenant.created_at,
            asset_kind=kind,
            asset_created_at=asset_created_at,
        )
        if refusal is not None:
            p.reason, name, message = refusal
            p.err(name, message)
            continue
        to_store.append(
            (
                p,
                ActivityEvent(
                    tenant=tenant,
                    partner_id=partner_id,
                    user_id=user_id,
                    actor_ref=actor_ref,
                    asset_id=asset_id,
                    verb=d["verb"],
                    occurred_at=p.occurred_at,
                    progress=d.get("progress"),
                    seconds=d.get("seconds"),
                    position=d.get("position"),
                    played_segments=d.get("played_segments"),
                    query=d.get("query") or "",
                    result_count=d.get("result_count"),
                    resolved=d.get("resolved"),
                    source=source,
                    event_id=d["event_id"],
                    extra=_extra(d),
                    trusted=trusted,
                ),
            )
        )
    to_store = _within_audiences(tenant, to_store)
    created = activity_record_many(tenant=tenant, events=[e for _p, e in to_store]) if to_store else []
    status_by_index = {p.index: ("accepted" if c else "duplicate") for (p, _e), c in zip(to_store, created, strict=True)}

    results: list[dict[str, Any]] = []
    refused: Counter[str] = Counter()
    for p in pending:
        event_id = p.data.get("event_id") if isinstance(p.data.get("event_id"), str) else None
        if event_id is not None and _unstorable(event_id):
            event_id = None  # not echoed: it could not even be encoded in the answer
        if p.index in status_by_index:
            results.append({"index": p.index, "event_id": event_id, "status": status_by_index[p.index]})
        else:
            reason = p.reason or refusal_reason_for_errors(p.errors)
            refused[reason] += 1
            results.append(
                {"index": p.index, "event_id": event_id, "status": "rejected", "reason": reason, "errors": p.errors}
            )
    if refused:
        refusals_record(tenant=tenant, source=source, reasons=refused)
    return results


def _extra(d: dict[str, Any]) -> dict[str, Any]:
    extra = dict(d.get("extra") or {})
    if d.get("score") is not None:
        extra["score"] = round(float(d["score"]), 4)
    return extra


def _within_audiences(tenant: Tenant, to_store: list) -> list:
    """Refuse rows whose partner is outside the audience of the asset (two queries per batch)."""
    outside = pairs_outside_audience(
        tenant=tenant, pairs={(e.partner_id, e.asset_id) for _p, e in to_store if e.asset_id is not None}
    )
    if not outside:
        return to_store
    kept = []
    for p, event in to_store:
        if (event.partner_id, event.asset_id) in outside:
            p.reason, name, message = outside_audience_refusal()
            p.err(name, message)
        else:
            kept.append((p, event))
    return kept

