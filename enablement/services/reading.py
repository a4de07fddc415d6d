"""Writes of the partner portal's document reader: reading time for documents completed by time.

A document whose rule is *time* (``Asset.completion_requires``) is completed by ``document.read``,
a verb only this server logs (external systems may not send it: ``enablement.validation``).
Opening the document in the portal starts (or resumes) a server-side reading session — the
training player's signed play session, bound to the user, the asset and its start time
(``enablement.services.training``). The page posts a heartbeat every few seconds while it is
visible, claiming the seconds it was visible since the previous one; the server credits a claim
only within the session's budget (wall-clock time elapsed since the session started minus what it
already credited), so no client can claim more time than really passed. When the credited time of
all the user's sessions on the document reaches its ``completion_min_seconds``, ``document.read``
is logged, exactly once per user and document (a fixed event id: repeats and concurrent
heartbeats store it once). Heartbeats themselves are not logged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Sum

from enablement.models import (
    ActivityEvent,
    Asset,
    AssetKind,
    DocumentCompletion,
    PlaySession,
    Verb,
)
from enablement.services import training as play
from enablement.services.log import activity_record
from partners.models import Partner, Tenant, User

# The most one heartbeat may claim (the page sends one every 15 s while visible; a longer gap is a
# hidden or sleeping page, whose time is not reading).
MAX_BEAT_SECONDS = 60.0

PlaySessionInvalid = play.PlaySessionInvalid


class ReadingNotRequired(Exception):
    """The document is not completed by reading time (no reading to credit)."""


@dataclass(frozen=True)
class ReadingState:
    credited: float  # seconds credited over all the user's reading sessions on the document
    required: int  # the document's completion_min_seconds
    done: bool  # document.read is logged

    @property
    def percent(self) -> int:
        if self.done:
            return 100
        return min(99, math.floor(self.credited * 100 / self.required)) if self.required else 0

    @property
    def remaining(self) -> int:
        return 0 if self.done else max(0, math.ceil(self.required - self.credited))

    @property
    def remaining_minutes(self) -> int:
        return math.ceil(self.remaining / 60)


def reads_by_time(asset: Asset) -> bool:
    return asset.kind == AssetKind.DOCUMENT and asset.completion_requires == DocumentCompletion.TIME


def event_id_for(*, user_id: int, asset_id: int) -> str:
    """The one id of a user's ``document.read`` of a document: logged once, however often it is sent."""
    return f"document.read:{user_id}:{asset_id}"


def reading_state(*, tenant: Tenant, user: User, asset: Asset) -> ReadingState:
    credited = PlaySession.objects.filter(tenant=tenant, user=user, asset=asset).aggregate(
        total=Sum("credited_seconds")
    )["total"]
    done = ActivityEvent.objects.filter(tenant=tenant, user=user, asset=asset, verb=Verb.DOCUMENT_READ).exists()
    return ReadingState(credited=float(credited or 0.0), required=int(asset.completion_min_seconds or 0), done=done)


def reading_start(*, tenant: Tenant, user: User, asset: Asset) -> tuple[PlaySession, str]:
    """Opening the document: the user's running reading session on it, or a new one from now."""
    if not reads_by_time(asset):
        raise ReadingNotRequired
    return play.play_session_start(tenant=tenant, user=user, asset=asset)


@transaction.atomic
def reading_record(
    *,
    tenant: Tenant,
    partner: Partner,
    user: User,
    asset: Asset,
    token: str,
    seconds: float,
    session_key: str = "",
) -> dict[str, Any]:
    """One heartbeat claiming ``seconds`` of visible reading since the previous one.

    ``PlaySessionInvalid`` when the token names no session of this user on this document,
    ``ReadingNotRequired`` when the document is not completed by reading time. The claim is capped
    at ``MAX_BEAT_SECONDS`` and credited within the session's budget (elapsed wall-clock seconds
    minus seconds already credited in it); the rest is answered as ``deferred``."""
    if not reads_by_time(asset):
        raise ReadingNotRequired
    session = play.play_session_for(tenant=tenant, user=user, asset=asset, token=token)  # locked
    now = play.clock()
    claim = max(0.0, min(float(seconds), MAX_BEAT_SECONDS)) if math.isfinite(seconds) else 0.0
    budget = max(0.0, (now - session.started_at).total_seconds() - session.credited_seconds)
    credited = min(claim, budget)
    if credited > 0:
        session.credited_seconds += credited
    session.last_seen_at = now
    session.save(update_fields=["credited_seconds", "last_seen_at"])
    state = reading_state(tenant=tenant, user=user, asset=asset)
    done = state.done
    if not done and state.credited >= state.required > 0:
        activity_record(
            tenant=tenant,
            partner=partner,
            user=user,
            asset=asset,
            verb=Verb.DOCUMENT_READ,
            event_id=event_id_for(user_id=user.pk, asset_id=asset.pk),
            occurred_at=now,
            seconds=round(state.credited, 2),
            session_key=session_key,
            extra={"play_session": session.pk, "required": state.required},
        )
        done = True
    final = ReadingState(credited=state.credited, required=state.required, done=done)
    return {
        "credited": round(credited, 2),
        "deferred": round(claim - credited, 2),
        "total": round(final.credited, 2),
        "required": final.required,
        "percent": final.percent,
        "remaining": final.remaining,
        "completed": final.done,
        "session": play.play_session_token(session),
    }
