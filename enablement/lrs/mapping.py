"""xAPI ⇄ activity log: map received statements onto ``ActivityEvent`` rows, and export the log
as xAPI statements.

Mapped verbs (statement verb id → log verb, by the asset's kind where it matters):

* ADL ``completed`` → training.completed (progress 100 unless given); on a document it maps to
  document.viewed only — a document is completed by what this server measured (its reading rule),
  never by a client's claim
* ADL ``progressed`` → training.progressed (progress from the video profile extension or score.scaled)
* ADL ``experienced`` / ``launched`` → training.started, document.viewed or faq.viewed by asset kind
* video profile ``played`` / ``paused`` / ``seeked`` → training.progressed with ``played-segments``
  (``"0[.]12.5[,]20[.]30"``) and ``progress``; video ``initialized`` → training.started
* ``downloaded`` (tincan / ADL) → document.downloaded
* activity streams ``read`` on a document → document.read, which only this server records (from
  the reading time it measured): such a statement is stored unmapped and counted as refused
  (``server_only``, ``enablement.validation``)
* ``searched`` (tincan / acrossx) → faq.searched with ``result.response`` as the keyword
* ADL ``attempted`` / ``passed`` / ``failed`` on an assessment → assessment.attempted / .passed /
  .failed, ``result.score.scaled`` (0..1) kept as ``extra.score`` and ``result.success`` as
  ``extra.success`` (a pass from a key that is not a trusted source completes nothing, like
  training.completed); ``launched`` / ``experienced`` on an assessment → assessment.attempted

Actors are matched to partner users by ``mbox`` (``mailto:email``) or ``account.name`` (the
user's email). Activities are matched to ``Asset.external_id`` or an IRI ending in
``/assets/<id>``. Anything else is stored and reported as unmapped, with a reason.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

from enablement.models import ActivityEvent, Asset, AssetKind, EventSource, Verb

ADL = "http://adlnet.gov/expapi/verbs/"
VIDEO = "https://w3id.org/xapi/video/verbs/"
VIDEO_EXT = "https://w3id.org/xapi/video/extensions/"
VOIDED = ADL + "voided"

SEARCH_VERBS = frozenset(
    {
        "http://id.tincanapi.com/verb/searched",
        "https://w3id.org/xapi/acrossx/verbs/searched",
        "https://w3id.org/xapi/adl/verbs/searched",
    }
)
DOWNLOAD_VERBS = frozenset(
    {
        "http://id.tincanapi.com/verb/downloaded",
        "https://w3id.org/xapi/adl/verbs/downloaded",
        "http://activitystrea.ms/schema/1.0/download",
    }
)
READ_VERBS = frozenset({"http://activitystrea.ms/schema/1.0/read"})
VIEW_VERBS = frozenset({ADL + "experienced", ADL + "launched", VIDEO + "initialized"})
PROGRESS_VERBS = frozenset({ADL + "progressed", VIDEO + "played", VIDEO + "paused", VIDEO + "seeked"})
COMPLETE_VERBS = frozenset({ADL + "completed"})
ASSESSMENT_VERBS = {
    ADL + "attempted": Verb.ASSESSMENT_ATTEMPTED,
    ADL + "passed": Verb.ASSESSMENT_PASSED,
    ADL + "failed": Verb.ASSESSMENT_FAILED,
}
KNOWN_VERBS = SEARCH_VERBS | DOWNLOAD_VERBS | READ_VERBS | VIEW_VERBS | PROGRESS_VERBS | COMPLETE_VERBS | frozenset(ASSESSMENT_VERBS)

ASSET_IRI = re.compile(r"/assets/([^/?#]+)/?$")


def actor_key(actor: dict[str, Any]) -> str:
    """A stable identity string of an Agent/Group (its inverse functional identifier)."""
    if "mbox" in actor:
        return actor["mbox"].lower()
    if "mbox_sha1sum" in actor:
        return "sha1:" + actor["mbox_sha1sum"].lower()
    if "openid" in actor:
        return actor["openid"]
    if "account" in actor:
        return f"{actor['account']['homePage']}|{actor['account']['name']}"
    return "group:anonymous"


def actor_email(actor: dict[str, Any]) -> str | None:
    if actor.get("objectType") == "Group":
        return None
    if "mbox" in actor:
        return actor["mbox"][len("mailto:") :].lower()
    account = actor.get("account")
    if account and "@" in account.get("name", ""):
        return account["name"].lower()
    return None


def asset_ref(activity_id: str) -> tuple[str, str] | None:
    """``("ext", iri)`` always; plus the trailing ``/assets/<x>`` part as id or external id."""
    m = ASSET_IRI.search(activity_id)
    return ("tail", m.group(1)) if m else None


def parse_segments(text: str) -> list[list[float]] | None:
    """``"0[.]12.5[,]20[.]30"`` → ``[[0, 12.5], [20, 30]]``; None when malformed."""
    if not text:
        return None
    out = []
    for part in text.split("[,]"):
        bounds = part.split("[.]")
        if len(bounds) != 2:
            return None
        try:
            start, end = float(bounds[0]), float(bounds[1])
        except ValueError:
            return None
        if start < 0 or end < 0:
            return None
        out.append([min(start, end), max(start, end)])
    return out


def format_segments(segments: list[list[float]] | None) -> str:
    return "[,]".join(f"{s:g}[.]{e:g}" for s, e in (segments or []))


def _progress(stmt: dict[str, Any]) -> float | None:
    result = stmt.get("result") or {}
    ext = result.get("extensions") or {}
    value = ext.get(VIDEO_EXT + "progress")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (
            round(max(0.0, min(1.0, float(value))) * 100, 2)
            if value <= 1
            else max(0.0, min(100.0, float(value)))
        )
    scaled = (result.get("score") or {}).get("scaled")
    if isinstance(scaled, int | float) and not isinstance(scaled, bool) and 0 <= scaled <= 1:
        return round(float(scaled) * 100, 2)
    return None


def log_verb(verb_id: str, kind: str | None) -> str | None:
    if verb_id in SEARCH_VERBS:
        return Verb.FAQ_SEARCHED
    if kind is None:
        return None
    if verb_id in ASSESSMENT_VERBS:
        return ASSESSMENT_VERBS[verb_id] if kind == AssetKind.ASSESSMENT else None
    if verb_id in DOWNLOAD_VERBS:
        return Verb.DOCUMENT_DOWNLOADED if kind == AssetKind.DOCUMENT else None
    if verb_id in READ_VERBS:
        return Verb.DOCUMENT_READ if kind == AssetKind.DOCUMENT else None
    if verb_id in VIEW_VERBS:
        return {
            AssetKind.TRAINING: Verb.TRAINING_STARTED,
            AssetKind.DOCUMENT: Verb.DOCUMENT_VIEWED,
            AssetKind.FAQ: Verb.FAQ_VIEWED,
            AssetKind.ASSESSMENT: Verb.ASSESSMENT_ATTEMPTED,
        }.get(kind)
    if verb_id in PROGRESS_VERBS:
        return Verb.TRAINING_PROGRESSED if kind == AssetKind.TRAINING else None
    if verb_id in COMPLETE_VERBS:
        return (
            Verb.TRAINING_COMPLETED
            if kind == AssetKind.TRAINING
            else (Verb.DOCUMENT_VIEWED if kind == AssetKind.DOCUMENT else None)
        )
    return None


def build_event(
    *, tenant, stmt: dict[str, Any], member: tuple[int, int] | None, asset: Asset | None, occurred_at
) -> tuple[ActivityEvent | None, str]:
    """One statement → an unsaved event, or ``(None, reason)``."""
    verb_id = stmt["verb"]["id"]
    if verb_id not in KNOWN_VERBS:
        return None, "verb"
    if member is None:
        return None, "actor"
    is_search = verb_id in SEARCH_VERBS
    if asset is None and not is_search:
        return None, "activity"
    verb = log_verb(verb_id, asset.kind if asset else None)
    if verb is None:
        return None, "verb for this kind of asset"
    result = stmt.get("result") or {}
    user_id, partner_id = member
    event = ActivityEvent(
        tenant=tenant,
        partner_id=partner_id,
        user_id=user_id,
        asset=asset if not is_search else None,
        verb=verb,
        occurred_at=occurred_at,
        source=EventSource.XAPI,
        event_id=str(stmt["id"]),
        extra={"xapi_verb": verb_id},
    )
    if is_search:
        response = result.get("response")
        if not isinstance(response, str) or not response.strip():
            return None, "search without result.response"
        event.query = response.strip()[:300]
        count = (result.get("extensions") or {}).get("https://w3id.org/xapi/acrossx/extensions/result-count")
        if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
            event.result_count = count
        if isinstance(result.get("success"), bool):
            event.resolved = result["success"]
        return event, ""
    if verb in ASSESSMENT_VERBS.values():
        scaled = (result.get("score") or {}).get("scaled")
        if isinstance(scaled, int | float) and not isinstance(scaled, bool) and 0 <= scaled <= 1:
            event.extra["score"] = round(float(scaled), 4)
        if isinstance(result.get("success"), bool):
            event.extra["success"] = result["success"]
        return event, ""
    progress = _progress(stmt)
    if verb == Verb.TRAINING_COMPLETED and progress is None:
        progress = 100.0
    event.progress = progress
    ext = result.get("extensions") or {}
    segments = (
        parse_segments(ext.get(VIDEO_EXT + "played-segments", ""))
        if isinstance(ext.get(VIDEO_EXT + "played-segments"), str)
        else None
    )
    if segments:
        event.played_segments = segments
        event.seconds = round(sum(e - s for s, e in segments), 3)
    time = ext.get(VIDEO_EXT + "time")
    if isinstance(time, int | float) and not isinstance(time, bool) and time >= 0:
        event.position = float(time)
    return event, ""


# --- export ---------------------------------------------------------------------------------------
EXPORT_VERBS = {
    Verb.TRAINING_STARTED: (ADL + "launched", "launched"),
    Verb.TRAINING_PROGRESSED: (ADL + "progressed", "progressed"),
    Verb.TRAINING_COMPLETED: (ADL + "completed", "completed"),
    Verb.DOCUMENT_VIEWED: (ADL + "experienced", "experienced"),
    Verb.DOCUMENT_DOWNLOADED: ("http://id.tincanapi.com/verb/downloaded", "downloaded"),
    Verb.DOCUMENT_READ: ("http://activitystrea.ms/schema/1.0/read", "read"),
    Verb.FAQ_SEARCHED: ("http://id.tincanapi.com/verb/searched", "searched"),
    Verb.FAQ_VIEWED: (ADL + "experienced", "experienced"),
    Verb.FAQ_FEEDBACK: ("http://id.tincanapi.com/verb/rated", "rated"),
    Verb.PORTAL_LOGIN: ("https://w3id.org/xapi/adl/verbs/logged-in", "logged-in"),
    Verb.ASSESSMENT_ATTEMPTED: (ADL + "attempted", "attempted"),
    Verb.ASSESSMENT_PASSED: (ADL + "passed", "passed"),
    Verb.ASSESSMENT_FAILED: (ADL + "failed", "failed"),
}
EXPORT_NS = uuid.UUID("6f1f3c8e-1d7b-4f7e-9a55-2b1c0d5e8a10")


def event_to_statement(row: dict[str, Any], *, base: str) -> dict[str, Any]:
    """One log row (``values()`` dict) → an xAPI statement. ``base`` is the site origin."""
    if row["user__email"]:
        actor = {"objectType": "Agent", "mbox": f"mailto:{row['user__email']}"}
    else:
        actor = {
            "objectType": "Agent",
            "account": {
                "homePage": f"{base}/partners/{row['partner__external_id'] or row['partner_id']}",
                "name": row["actor_ref"] or "partner",
            },
        }
    verb_id, verb_name = EXPORT_VERBS[row["verb"]]
    if row["asset_id"]:
        obj = {
            "objectType": "Activity",
            "id": f"{base}/api/xapi/activities/assets/{row['asset_id']}",
            "definition": {"name": {"und": row["asset__title"] or ""}},
        }
    else:
        obj = {"objectType": "Activity", "id": f"{base}/api/xapi/activities/{row['verb'].replace('.', '/')}"}
    stmt: dict[str, Any] = {
        "id": str(uuid.uuid5(EXPORT_NS, f"{row['tenant_id']}:{row['id']}")),
        "actor": actor,
        "verb": {"id": verb_id, "display": {"en-US": verb_name}},
        "object": obj,
        "timestamp": row["occurred_at"].isoformat(),
        "stored": row["received_at"].isoformat(),
        "version": "1.0.3",
        "context": {
            "platform": "Shien PRM",
            "extensions": {f"{base}/api/xapi/extensions/event-id": row["event_id"]},
        },
    }
    result: dict[str, Any] = {}
    extensions: dict[str, Any] = {}
    if row["progress"] is not None:
        extensions[VIDEO_EXT + "progress"] = round(row["progress"] / 100, 3)
    if row["played_segments"]:
        extensions[VIDEO_EXT + "played-segments"] = format_segments(row["played_segments"])
    if row["verb"] == Verb.TRAINING_COMPLETED:
        result["completion"] = True
    if row["verb"] in (Verb.ASSESSMENT_PASSED, Verb.ASSESSMENT_FAILED):
        result["success"] = row["verb"] == Verb.ASSESSMENT_PASSED
        result["completion"] = True
        score = (row.get("extra") or {}).get("score")
        if isinstance(score, int | float) and not isinstance(score, bool) and 0 <= score <= 1:
            result["score"] = {"scaled": round(float(score), 4)}
    if row["query"]:
        result["response"] = row["query"]
    if row["resolved"] is not None:
        result["success"] = row["resolved"]
    if extensions:
        result["extensions"] = extensions
    if result:
        stmt["result"] = result
    return stmt


EXPORT_FIELDS = (
    "id",
    "tenant_id",
    "event_id",
    "verb",
    "partner_id",
    "partner__external_id",
    "user__email",
    "actor_ref",
    "asset_id",
    "asset__title",
    "occurred_at",
    "received_at",
    "progress",
    "played_segments",
    "query",
    "resolved",
    "extra",
)


def export_rows(qs) -> Iterator[dict[str, Any]]:
    yield from qs.values(*EXPORT_FIELDS).iterator(chunk_size=2000)
