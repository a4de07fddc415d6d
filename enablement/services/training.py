"""Writes of the partner portal's training player (heartbeats). Logs only through activity_record."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from enablement.models import ActivityEvent, Asset, EventSource, Verb
from enablement.services.log import activity_record
from partners.models import Partner, Tenant, User

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
    client_duration: float | None = None,
    session_key: str = "",
) -> dict[str, Any]:
    """One player heartbeat: merge the played segments server-side and log the training verbs.

    * ``training.started`` once per (user, asset), on the first heartbeat;
    * ``training.progressed`` per heartbeat (``event_id`` from the client: a retry is stored once),
      carrying the merged union of everything this user played, its length (``seconds``) and
      the watched share (``progress``, percent);
    * ``training.completed`` exactly once, when the watched share (not the position) reaches the
      asset's threshold: seeking to the end does not complete a training.
    """
    from enablement.selectors.catalog import training_state

    state = training_state(tenant=tenant, user=user, asset=asset)
    duration = float(asset.duration_seconds or 0)
    if duration <= 0 and client_duration:  # unknown duration: trust the player once, bounded
        duration = max(1.0, min(float(client_duration), 24 * 3600.0))
    existing = ActivityEvent.objects.filter(tenant=tenant, source=EventSource.PORTAL, event_id=event_id).first()
    if existing is not None:  # a retried heartbeat: stored once, answer with the current state
        return {"share": round(state.share * 100, 1), "completed": state.completed, "duplicate": True}
    merged = segments_merge([*state.segments, *(played_segments or [])], duration=duration)
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
    activity_record(**common, verb=Verb.TRAINING_PROGRESSED, event_id=event_id, **figures)
    completed = state.completed
    if not completed and share * 100 >= asset.completion_threshold:
        _, completed = activity_record(
            **common,
            verb=Verb.TRAINING_COMPLETED,
            event_id=f"training.completed:{user.pk}:{asset.pk}",
            **figures,
        )
        completed = True
    return {"share": round(share * 100, 1), "completed": completed, "duplicate": False}
