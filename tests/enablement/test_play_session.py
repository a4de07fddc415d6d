"""Completion that cannot be forged: credit only within a server-side play session
(elapsed wall-clock time x 2), and the per-user rate limit of the log-writing portal endpoints."""

from __future__ import annotations

import json
import uuid

import pytest
from django.urls import reverse
from django_scopes import scope

from enablement.models import ActivityEvent, AssetKind, PlaySession, Verb
from enablement.services.training import MAX_PLAYBACK_RATE
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def hour_long(portal):
    with scope(tenant=portal["tenant"].pk):
        return f.AssetFactory(tenant=portal["tenant"], kind=AssetKind.TRAINING, title="1 時間の研修", duration_seconds=3600)


def _url(name, asset, slug="acme"):
    return reverse(name, kwargs={"tenant_slug": slug, "asset_id": asset.pk})


def open_training(client, asset) -> str:
    response = client.get(_url("portal-training", asset))
    assert response.status_code == 200
    token = response.context["play_session"]
    return token


def beat(client, asset, token, segments, *, event_id=None):
    body = {"event_id": event_id or str(uuid.uuid4()), "session": token, "played_segments": segments, "position": 0}
    return client.post(_url("portal-training-progress", asset), data=json.dumps(body), content_type="application/json")


def completions(tenant):
    with scope(tenant=tenant.pk):
        return ActivityEvent.objects.filter(tenant=tenant, verb=Verb.TRAINING_COMPLETED).count()


def test_forged_heartbeat_right_after_opening_does_not_complete(client, login, portal, hour_long, clock):
    login(portal["member"])
    token = open_training(client, hour_long)
    clock.advance(seconds=1)
    result = beat(client, hour_long, token, [[0, 3600]]).json()
    assert result["completed"] is False
    assert result["share"] == pytest.approx(100 * 2 / 3600, abs=0.1)  # 1 s elapsed x 2 = 2 s credited
    assert result["deferred"] == pytest.approx(3598)
    # Replaying the same claim a minute later credits at most 2 minutes of video.
    clock.advance(seconds=60)
    result = beat(client, hour_long, token, [[0, 3600]]).json()
    assert result["completed"] is False and result["share"] == pytest.approx(100 * 122 / 3600, abs=0.1)
    assert completions(portal["tenant"]) == 0
    with scope(tenant=portal["tenant"].pk):
        last = ActivityEvent.objects.filter(verb=Verb.TRAINING_PROGRESSED).order_by("-id").first()
        assert last.played_segments == [[0.0, 122.0]] and last.seconds == 122.0


def test_many_tabs_share_one_budget(client, login, portal, hour_long, clock):
    login(portal["member"])
    tokens = [open_training(client, hour_long) for _ in range(5)]
    with scope(tenant=portal["tenant"].pk):
        assert PlaySession.objects.filter(tenant=portal["tenant"]).count() == 1
    clock.advance(seconds=60)
    for i, token in enumerate(tokens):
        beat(client, hour_long, token, [[i * 600, i * 600 + 600]])
    result = beat(client, hour_long, tokens[0], []).json()
    assert result["share"] == pytest.approx(100 * 120 / 3600, abs=0.1)  # 60 s x 2, not x 10


@pytest.mark.parametrize("rate", [1.0, 2.0])
def test_honest_playing_completes(client, login, portal, hour_long, clock, rate, settings):
    """The player reports what it played since the page opened (here once a minute of wall-clock
    time); at 1x and at 2x everything is credited as it comes and the training completes at 90 %."""
    settings.PORTAL_LOG_RATE = "off"  # one simulated hour of heartbeats is sent in a second of real time
    login(portal["member"])
    token = open_training(client, hour_long)
    clock.advance(seconds=3)  # the video loads, the user presses play
    played, completed_at = 0.0, None
    while played < 3600:
        clock.advance(seconds=60)
        played = min(3600.0, played + 60 * rate)
        result = beat(client, hour_long, token, [[0, played]]).json()
        assert result["deferred"] == 0
        if result["completed"] and completed_at is None:
            completed_at = played
    assert completed_at == pytest.approx(3240, abs=60 * rate)  # 90 % of 3600 s
    assert result["share"] == 100.0
    assert completions(portal["tenant"]) == 1


def test_faster_than_twice_is_deferred_then_credited(client, login, portal, clock):
    training = portal["training"]  # 100 s
    login(portal["member"])
    token = open_training(client, training)
    clock.advance(seconds=30)
    result = beat(client, training, token, [[0, 100]]).json()
    assert (result["share"], result["deferred"], result["completed"]) == (60.0, 40.0, False)
    clock.advance(seconds=20)  # the player offers the deferred part again on its next heartbeat
    result = beat(client, training, token, [[0, 100]]).json()
    assert (result["share"], result["deferred"], result["completed"]) == (100.0, 0.0, True)
    assert MAX_PLAYBACK_RATE == 2.0


def test_token_of_another_user_or_training_or_garbled_is_refused(client, login, portal, hour_long, clock, make_member):
    login(portal["member"])
    token = open_training(client, hour_long)
    clock.advance(seconds=600)
    assert beat(client, portal["training"], token, [[0, 10]]).status_code == 400  # another training
    assert beat(client, hour_long, token + "x", [[0, 10]]).status_code == 400
    assert beat(client, hour_long, "", [[0, 10]]).status_code == 400
    other = make_member(portal["tenant"], "partner_user", partner=portal["partner"])
    client.logout()
    login(other)
    assert beat(client, hour_long, token, [[0, 10]]).status_code == 400  # someone else's session
    with scope(tenant=portal["tenant"].pk):
        assert not ActivityEvent.objects.filter(verb=Verb.TRAINING_PROGRESSED).exists()


def test_session_of_another_tenant_is_refused(client, login, portal, hour_long, clock, tenant_b, make_member):
    """A token is bound to its tenant: the same user's session in tenant A does not open B's."""
    login(portal["member"])
    token = open_training(client, hour_long)
    with scope(tenant=tenant_b.pk):
        b_training = f.AssetFactory(tenant=tenant_b, kind=AssetKind.TRAINING, duration_seconds=100)
    member_b = make_member(tenant_b, "partner_user", user=portal["member"].user)
    clock.advance(seconds=600)
    body = {"event_id": str(uuid.uuid4()), "session": token, "played_segments": [[0, 100]], "position": 0}
    response = client.post(
        reverse("portal-training-progress", kwargs={"tenant_slug": tenant_b.slug, "asset_id": b_training.pk}),
        data=json.dumps(body),
        content_type="application/json",
    )
    assert member_b.tenant_id == tenant_b.pk
    assert response.status_code in {400, 404}
    with scope(tenant=tenant_b.pk):
        assert not ActivityEvent.objects.filter(tenant=tenant_b, asset=b_training).exists()


def test_an_old_session_starts_again_from_now(client, login, portal, hour_long, clock):
    login(portal["member"])
    token = open_training(client, hour_long)
    clock.advance(hours=13)  # beyond the session's maximum age: no 26 hours of credit
    result = beat(client, hour_long, token, [[0, 3600]]).json()
    assert result["share"] == 0.0 and result["session"] != token
    clock.advance(seconds=30)
    result = beat(client, hour_long, result["session"], [[0, 3600]]).json()
    assert result["share"] == pytest.approx(100 * 60 / 3600, abs=0.1)


# --- rate limit -----------------------------------------------------------------------------------


def test_rate_limit_answers_429_and_loses_no_accepted_event(client, login, portal, clock, settings, monkeypatch):
    from enablement.throttling import PortalLogThrottle

    settings.PORTAL_LOG_RATE = "5/min"
    now = [1_000_000.0]
    monkeypatch.setattr(PortalLogThrottle, "timer", lambda self: now[0])
    training = portal["training"]
    login(portal["member"])
    token = open_training(client, training)
    clock.advance(seconds=600)
    answers = []
    ids = [str(uuid.uuid4()) for _ in range(8)]
    for i, event_id in enumerate(ids):
        answers.append(beat(client, training, token, [[0, 5 * (i + 1)]], event_id=event_id))
    statuses = [a.status_code for a in answers]
    assert statuses == [200] * 5 + [429] * 3
    assert all(int(a["Retry-After"]) >= 1 for a in answers[5:])
    with scope(tenant=portal["tenant"].pk):
        stored = set(ActivityEvent.objects.filter(verb=Verb.TRAINING_PROGRESSED).values_list("event_id", flat=True))
    assert stored == set(ids[:5])  # every 200 is stored; nothing of a 429
    # The player retries a refused heartbeat with the same id once the window has passed.
    now[0] += 61
    assert beat(client, training, token, [[0, 40]], event_id=ids[5]).status_code == 200
    with scope(tenant=portal["tenant"].pk):
        assert ActivityEvent.objects.filter(verb=Verb.TRAINING_PROGRESSED, event_id=ids[5]).count() == 1
    # Document views, downloads and FAQ writes share the same per-user budget.
    for _ in range(4):
        assert client.get(_url("portal-document", portal["document"])).status_code == 200
    refused = client.get(_url("portal-document", portal["document"]))
    assert refused.status_code == 429 and refused["Retry-After"]
    assert client.post(_url("portal-faq-feedback", portal["faq"]), {"resolved": "yes"}).status_code == 429
    with scope(tenant=portal["tenant"].pk):
        assert ActivityEvent.objects.filter(verb=Verb.DOCUMENT_VIEWED).count() == 4
        assert not ActivityEvent.objects.filter(verb=Verb.FAQ_FEEDBACK).exists()


def test_rate_limit_is_per_user(client, login, portal, clock, settings, make_member):
    settings.PORTAL_LOG_RATE = "2/min"
    login(portal["member"])
    for _ in range(2):
        assert client.get(_url("portal-document", portal["document"])).status_code == 200
    assert client.get(_url("portal-document", portal["document"])).status_code == 429
    client.logout()
    login(make_member(portal["tenant"], "partner_user", partner=portal["partner"]))
    assert client.get(_url("portal-document", portal["document"])).status_code == 200


def test_untrusted_api_completion_is_not_shown_as_done_in_the_portal(client, login, portal, hour_long):
    with scope(tenant=portal["tenant"].pk):
        common = {"tenant": portal["tenant"], "partner": portal["partner"], "user": portal["member"].user, "asset": hour_long}
        f.ActivityEventFactory(**common, verb=Verb.TRAINING_PROGRESSED, source="api", trusted=False, progress=100.0,
                               played_segments=[[0, 3600]])
        f.ActivityEventFactory(**common, verb=Verb.TRAINING_COMPLETED, source="api", trusted=False, progress=100.0)
        f.AssignmentFactory(tenant=portal["tenant"], asset=hour_long, partner=portal["partner"])
    login(portal["member"])
    page = client.get(_url("portal-training", hour_long))
    assert page.context["state"].completed is False and page.context["share_percent"] == 0
    home = client.get(reverse("portal-home", kwargs={"tenant_slug": "acme"}))
    (row,) = [r for r in home.context["rows"] if r.asset.pk == hour_long.pk]
    assert not row.done and row.percent == 0
