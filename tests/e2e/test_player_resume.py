"""The training player resumes where the person left off, also when the video is already cached
(its metadata loaded before player.js runs, so loadedmetadata never reaches the listener)."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django_scopes import scope

from enablement.models import AssetKind
from tests import factories as f
from tests.e2e.conftest import SHOTS, open_page
from tests.e2e.test_portal import make_webm

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_player_resumes_after_reload_and_when_cached(live_server, tenant_a, partner_user_a):
    tenant = tenant_a
    with scope(tenant=tenant.pk):
        training = f.AssetFactory(tenant=tenant, kind=AssetKind.TRAINING, title="再開テスト", duration_seconds=12)
        training.video_file.save("resume.webm", ContentFile(make_webm(12)), save=True)
    base = f"{live_server.url}/t/{tenant.slug}/portal"
    with open_page(extra_args=("--autoplay-policy=no-user-gesture-required",), locale="ja-JP") as (page, errors, _x):
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=login]", partner_user_a.user.email)
        page.fill("input[name=password]", f.PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")

        # Play about 4 seconds, pause: the pause reports the position to the server.
        url = f"{base}/trainings/{training.pk}/"
        page.goto(url)
        page.wait_for_function("() => document.querySelector('video').readyState >= 1")
        page.evaluate("() => { const v = document.querySelector('video'); v.muted = true; v.playbackRate = 2; return v.play(); }")
        page.wait_for_function("() => document.querySelector('video').currentTime >= 4", timeout=20_000)
        with page.expect_response(lambda r: "progress" in r.url and r.request.method == "POST"):
            page.evaluate("() => document.querySelector('video').pause()")

        # Reload: the player starts where it stopped, not at 0:00.
        page.reload()
        page.wait_for_function("() => document.querySelector('video').currentTime > 0", timeout=10_000)
        resume = float(page.get_attribute("[data-player]", "data-resume"))
        assert resume >= 3
        assert page.evaluate("document.querySelector('video').currentTime") == pytest.approx(resume, abs=0.6)
        page.screenshot(path=str(SHOTS / "player_resumed.png"))

        # Cached case: the metadata is there before the player script runs.
        page.evaluate("() => { const v = document.querySelector('video'); v.currentTime = 0; }")
        page.wait_for_function("() => document.querySelector('video').currentTime === 0")
        assert page.evaluate("document.querySelector('video').readyState") >= 1
        page.add_script_tag(url="/static/js/player.js")
        page.wait_for_function("() => document.querySelector('video').currentTime > 0", timeout=5_000)
        assert errors == []
