"""The real player against the play-session and rate-limit rules (Playwright + Chromium).

The first heartbeat is answered 429 (Retry-After: 1) by the browser-side route: the player keeps
it and sends it again with the same event id; every heartbeat the server accepted is stored, and
the training still completes — played for real at 2x, within the session's budget.
"""

from __future__ import annotations

import json

import pytest
from django.core.files.base import ContentFile
from django_scopes import scope

from enablement.models import ActivityEvent, AssetKind, PlaySession, Verb
from tests import factories as f
from tests.e2e.conftest import SHOTS, open_page
from tests.e2e.test_portal import make_webm

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_player_retries_a_429_and_completes_within_the_session(live_server, tenant_a, partner_user_a):
    tenant = tenant_a
    with scope(tenant=tenant.pk):
        training = f.AssetFactory(tenant=tenant, kind=AssetKind.TRAINING, title="6 秒の研修", duration_seconds=6)
        training.video_file.save("six.webm", ContentFile(make_webm(6)), save=True)
    sent: list[tuple[str, int]] = []  # (event_id, status the player saw)
    refused_once: set[str] = set()

    def handle(route, request):
        body = json.loads(request.post_data or "{}")
        event_id = body.get("event_id", "")
        assert body.get("session"), "every heartbeat carries the page's play session"
        if not refused_once:
            refused_once.add(event_id)
            sent.append((event_id, 429))
            route.fulfill(status=429, headers={"Retry-After": "1"}, body="slow down")
            return
        response = route.fetch()
        sent.append((event_id, response.status))
        route.fulfill(response=response)

    with open_page(extra_args=("--autoplay-policy=no-user-gesture-required",), locale="ja-JP") as (page, errors, _ext):
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=login]", partner_user_a.user.email)
        page.fill("input[name=password]", f.PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        page.route("**/progress/", handle)
        page.goto(f"{live_server.url}/t/{tenant.slug}/portal/trainings/{training.pk}/")
        page.wait_for_function("() => document.querySelector('video').readyState >= 1")
        page.evaluate("() => { const v = document.querySelector('video'); v.muted = true; v.playbackRate = 2; return v.play(); }")
        page.wait_for_function("() => document.querySelector('video').currentTime > 1.5")
        page.evaluate("() => document.querySelector('video').pause()")  # a report now: answered 429
        page.wait_for_timeout(300)
        page.evaluate("() => document.querySelector('video').play()")
        page.wait_for_selector("[data-status] .badge-ok", timeout=40_000)
        page.screenshot(path=str(SHOTS / "player_integrity.png"), full_page=True)
        # Console errors from the deliberately refused request are expected; nothing else.
        assert all("429" in e or "Failed to load resource" in e for e in errors), errors

    (refused,) = refused_once
    accepted = {event_id for event_id, status in sent if status == 200}
    assert refused in accepted, "the refused heartbeat was sent again with the same id and accepted"
    with scope(tenant=tenant.pk):
        stored = set(
            ActivityEvent.objects.filter(tenant=tenant, verb=Verb.TRAINING_PROGRESSED).values_list("event_id", flat=True)
        )
        assert stored == accepted  # every accepted heartbeat is stored, nothing else
        assert ActivityEvent.objects.filter(tenant=tenant, verb=Verb.TRAINING_COMPLETED).count() == 1
        session = PlaySession.objects.get(tenant=tenant, asset=training)
        assert session.credited_seconds <= 6.01
