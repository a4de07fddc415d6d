"""Writes of the partner portal's training player (heartbeats). Logs only through activity_record."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.db import transaction
from django.utils import timezone

from enablement.models import ActivityEvent, Asset, EventSource, PlaySession, Verb
from enablement.services.log import activity_record
from partners.models import Partner, Tenant, User

# --- Play sessions --------------------------------------------------------------------------------

MAX_PLAYBACK_RATE = 2.0  # the fastest speed the player offers: credited time <= elapsed time x this
PLAY_SESSION_MAX_AGE = dt.timedelta(hours=12)
_SIGNING_SALT = "enablement.play-session"


def clock() -> dt.datetime:
    """The server's clock for play sessions (tests replace it to move time without sleeping)."""
    return timezone.now()


class PlaySessionInvalid(Exception):
    """The heartbeat names no session of this user on this training (forged, foreign or garbled)."""


@transaction.atomic
def play_session_start(*, tenant: Tenant, user: User, asset: Asset) -> tuple[PlaySession, str]:
    """Opening a training: the user's running session on it (one budget however many tabs are
    open), or a new one starting now. Returns the session and its signed token for the page."""
    now = clock()
    session = (
        PlaySession.objects.filter(tenant=tenant, user=user, asset=asset, started_at__gt=now - PLAY_SESSION_MAX_AGE)
        .order_by("-started_at")
        .first()
    )
    if session is None:
        session = PlaySession.objects.create(tenant=tenant, user=user, asset=asset, started_at=now, last_seen_at=now)
    return session, play_session_token(session)


def play_session_token(session: PlaySession) -> str:
    payload = {"s": session.pk, "t": session.tenant_id, "u": session.user_id, "a": session.asset_id}
    return signing.dumps(payload, salt=_SIGNING_SALT, compress=True)


def _play_session_for(*, tenant: Tenant, user: User, asset: Asset, token: str) -> PlaySession:
    """The session named by a token, locked, if it is this user's on this asset; a new one when
    it has aged out (credit starts again from now); ``PlaySessionInvalid`` otherwise."""
    try:
        payload = signing.loads(token or "", salt=_SIGNING_SALT)
    except signing.BadSignature as exc:
        raise PlaySessionInvalid from exc
    if not isinstance(payload, dict) or (payload.get("t"), payload.get("u"), payload.get("a")) != (
        tenant.pk,
        user.pk,
        asset.pk,
    ):
        raise PlaySessionInvalid
    session = (
        PlaySession.objects.select_for_update()
        .filter(tenant=tenant, user=user, asset=asset, pk=payload.get("s"))
        .first()
    )
    if session is None:
        raise PlaySessionInvalid
    now = clock()
    if session.started_at <= now - PLAY_SESSION_MAX_AGE:
        session = PlaySession.objects.create(tenant=tenant, user=user, asset=asset, started_at=now, last_seen_at=now)
    return session


def play_session_for(*, tenant: Tenant, user: User, asset: Asset, token: str) -> PlaySession:
    """The play session a token names, locked (other writers than the video player: packaged courses)."""
    return _play_session_for(tenant=tenant, user=user, asset=asset, token=token)


@dataclass(frozen=True)
class Credit:
    segments: list[list[float]]  # what may be added to the user's watched union now
    credited: float  # seconds newly credited
    deferred: float  # seconds offered but beyond the session's budget (offered again later)


def segments_subtract(segments: list[list[float]], known: list[list[float]]) -> list[list[float]]:
    """The parts of merged ``segments`` not covered by merged ``known``."""
    out: list[list[float]] = []
    for start, end in segments:
        cursor = start
        for k_start, k_end in known:
            if k_end <= cursor or k_start >= end:
                continue
            if k_start > cursor:
                out.append([cursor, k_start])
            cursor = max(cursor, k_end)
            if cursor >= end:
                break
        if cursor < end:
            out.append([cursor, end])
    return [s for s in out if s[1] - s[0] > 0.001]


def play_credit(*, session: PlaySession, known: list[list[float]], offered: list[list[float]], now: dt.datetime) -> Credit:
    """Credit the newly played parts of ``offered`` in playing order, up to the session's budget:
    (elapsed wall-clock seconds x MAX_PLAYBACK_RATE) - seconds already credited in it."""
    fresh = segments_subtract(offered, known)
    budget = max(0.0, (now - session.started_at).total_seconds() * MAX_PLAYBACK_RATE - session.credited_seconds)
    taken: list[list[float]] = []
    credited = 0.0
    for start, end in fresh:
        room = budget - credited
        if room <= 0.001:
            break
        piece_end = min(end, start + room)
        taken.append([start, piece_end])
        credited += piece_end - start
    offered_total = segments_length(fresh)
    return Credit(segments=taken, credited=credited, deferred=max(0.0, offered_total - credited))


# --- Training progress (portal player heartbeats) -----------------------------------------------

MAX_SEGMENTS = 1000


def segments_merge(segments, *, duration: float) -> list[list[float]]:
    """Union of played ``[start, end]`` ranges, clipped to ``[0, duration]``, sorted and merged.

    Malformed entries are dropped. Only touching or overlapping ranges are merged: a skipped
    part of the video never counts as watched.
    """
    clean: list[tuple[float, float]] = []
    for seg in list(segments or [])[: MAX_SEGMENTS * 2]:
        if not isinstance(seg, list | tuple) or len(seg) != 2:
            continue
        try:
            start, end = float(seg[0]), float(seg[1])
        except (TypeError, ValueError):
            continue
        if start != start or end != end:  # NaN
            continue
        start = max(0.0, start)
        end = min(end, duration) if duration > 0 else end
        if end - start > 0:
            clean.append((start, end))
    clean.sort()
    merged: list[list[float]] = []
    for start, end in clean:
        if merged and start <= merged[-1][1] + 0.001:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [[round(s, 2), round(e, 2)] for s, e in merged[:MAX_SEGMENTS]]


def segments_length(segments: list[list[float]]) -> float:
    return sum(end - start for start, end in segments)


@transaction.atomic
def training_progress_record(
    *,
    tenant: Tenant,
    partner: Partner,
    user: User,
    asset: Asset,
    event_id: str,
    played_segments,
    position: float | None,
    play_session: str,
    session_key: str = "",
) -> dict[str, Any]:
    """One player heartbeat: credit what was played within the play session, log the training verbs.

    * the heartbeat must carry the signed token of a play session of this user on this asset
      (``PlaySessionInvalid`` otherwise); newly played parts are credited only within the
      session's budget (elapsed wall-clock time x ``MAX_PLAYBACK_RATE``), the rest is answered as
      ``deferred`` and offered again by the player later;
    * ``training.started`` once per (user, asset), on the first heartbeat;
    * ``training.progressed`` per heartbeat (``event_id`` from the client: a retry is stored once),
      carrying the merged union of everything credited to this user, its length (``seconds``) and
      the watched share (``progress``, percent);
    * ``training.completed`` exactly once, when the credited watched share (not the position)
      reaches the asset's threshold: this server alone decides it. The share is measured against
      the asset's ``duration_seconds`` (read from the uploaded file, ``enablement.media``, or set by
      a manager), never a duration the player reports: a training whose duration is unknown (0)
      records what was played but cannot complete (``duration_unknown`` in the answer).
    """
    from enablement.selectors.catalog import training_state

    session = _play_session_for(tenant=tenant, user=user, asset=asset, token=play_session)
    token = play_session_token(session)
    state = training_state(tenant=tenant, user=user, asset=asset)
    duration = float(asset.duration_seconds or 0)  # 0: unknown — no share, no completion
    existing = ActivityEvent.objects.filter(tenant=tenant, source=EventSource.PORTAL, event_id=event_id).first()
    if existing is not None:  # a retried heartbeat: stored once, answer with the current state
        return {
            "share": round(state.share * 100, 1),
            "completed": state.completed,
            "duplicate": True,
            "deferred": 0.0,
            "session": token,
            "duration_unknown": duration <= 0,
        }
    now = clock()
    known = segments_merge(state.segments, duration=duration)
    offered = segments_merge(played_segments or [], duration=duration)
    credit = play_credit(session=session, known=known, offered=offered, now=now)
    session.credited_seconds += credit.credited
    session.last_seen_at = now
    session.save(update_fields=["credited_seconds", "last_seen_at"])
    merged = segments_merge([*known, *credit.segments], duration=duration)
    watched = segments_length(merged)
    share = min(watched / duration, 1.0) if duration > 0 else 0.0
    pos = max(0.0, min(float(position or 0), duration)) if duration > 0 else max(0.0, float(position or 0))
    common = {"tenant": tenant, "partner": partner, "user": user, "asset": asset, "session_key": session_key}
    if not state.segments and not state.position:
        activity_record(
            **common,
            verb=Verb.TRAINING_STARTED,
            event_id=f"training.started:{user.pk}:{asset.pk}",
            position=pos,
            progress=0.0,
            seconds=0.0,
            played_segments=[],
        )
    figures = {"progress": round(share * 100, 2), "seconds": round(watched, 2), "position": pos, "played_segments": merged}
    extra = {"play_session": session.pk, "credited": round(credit.credited, 2)}
    if credit.deferred:
        extra["deferred"] = round(credit.deferred, 2)
    activity_record(**common, verb=Verb.TRAINING_PROGRESSED, event_id=event_id, extra=extra, **figures)
    completed = state.completed
    if not completed and duration > 0 and share * 100 >= asset.completion_threshold:
        activity_record(
            **common,
            verb=Verb.TRAINING_COMPLETED,
            event_id=f"training.completed:{user.pk}:{asset.pk}",
            extra={"play_session": session.pk},
            **figures,
        )
        completed = True
    return {
        "share": round(share * 100, 1),
        "completed": completed,
        "duplicate": False,
        "deferred": round(credit.deferred, 2),
        "session": token,
        "duration_unknown": duration <= 0,
    }
