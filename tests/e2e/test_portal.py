"""Browser test of the partner portal (Playwright + Debian Chromium).

A partner user logs in through the login form, plays a training to completion, downloads a
document, searches the FAQ and answers "did this solve your problem?", then sees the progress
on the portal home. The training video is a real 6-second WebM generated for the test with the
ffmpeg binary shipped by the ``imageio-ffmpeg`` package (a dependency); it is played for real
(muted, at 2x speed), so the player's timeupdate/pause/ended handlers report genuine played
segments. Screenshots go to artifacts/screenshots/portal_*.png.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from django_scopes import scope

from enablement.models import ActivityEvent, AssetKind, Verb
from tests import factories as f
from tests.e2e.conftest import SHOTS, open_page
from tests.enablement.conftest import add_version

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]



def make_webm(seconds: int = 6) -> bytes:
    import imageio_ffmpeg  # ships an ffmpeg binary
    cmd = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "lavfi",
        "-i", f"testsrc=duration={seconds}:size=320x180:rate=15", "-c:v", "libvpx", "-b:v", "200k",
        "-f", "webm", "pipe:1",
    ]
    return subprocess.run(cmd, check=True, capture_output=True, timeout=60).stdout  # noqa: S603


@pytest.fixture
def browser_page():
    with open_page(extra_args=("--autoplay-policy=no-user-gesture-required",), viewport={"width": 1280, "height": 900},
                   accept_downloads=True, locale="ja-JP") as (page, errors, _external):
        yield page, errors


def test_partner_user_journey(live_server, browser_page, tenant_a, partner_user_a):
    page, errors = browser_page
    SHOTS.mkdir(parents=True, exist_ok=True)
    tenant, partner = tenant_a, partner_user_a.partner
    video = make_webm(6)
    today = timezone.localdate()
    with scope(tenant=tenant.pk):
        training = f.AssetFactory(
            tenant=tenant, kind=AssetKind.TRAINING, title="はじめての製品トレーニング", duration_seconds=6,
            description="製品の概要を6秒で紹介します。", category="製品",
        )
        training.video_file.save("intro.webm", ContentFile(video), save=True)
        document = f.AssetFactory(tenant=tenant, kind=AssetKind.DOCUMENT, title="提案書テンプレート", category="営業")
        faq = f.AssetFactory(
            tenant=tenant, kind=AssetKind.FAQ, title="請求書を再発行するには？",
            body="管理画面の **契約** メニューから再発行できます。\n\n1. 契約を開く\n2. 「請求書」を選ぶ",
        )
        f.AssignmentFactory(tenant=tenant, asset=training, partner=partner, due_on=today + dt.timedelta(days=10))
        f.AssignmentFactory(tenant=tenant, asset=document, partner=partner, due_on=today - dt.timedelta(days=2))
    add_version(document, name="提案書テンプレート_2026.pdf")
    base = f"{live_server.url}/t/{tenant.slug}/portal"

    # Log in through the form.
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", partner_user_a.user.email)
    page.fill("input[name=password]", f.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    assert page.locator("#assignments").is_visible()
    assert page.locator("#assignments .status-overdue").count() == 1  # the document is overdue
    page.screenshot(path=str(SHOTS / "portal_home_before.png"), full_page=True)

    # Catalog.
    page.click(".subnav >> text=カタログ")
    page.wait_for_url(f"{base}/catalog/")
    page.select_option("#catalog-kind", "training")
    page.wait_for_function("() => document.querySelectorAll('#catalog-results .catalog-item').length === 1")
    assert "kind=training" in page.url
    page.screenshot(path=str(SHOTS / "portal_catalog.png"), full_page=True)

    # Play the training for real to the end (muted, 2x) and wait for the server's completion.
    page.goto(f"{base}/trainings/{training.pk}/")
    page.wait_for_function("() => document.querySelector('video').readyState >= 1")
    page.evaluate("() => { const v = document.querySelector('video'); v.muted = true; v.playbackRate = 2; return v.play(); }")
    page.wait_for_selector("[data-status] .badge-ok", timeout=30_000)
    assert page.locator("[data-progress-text]").inner_text() in {"95", "96", "97", "98", "99", "100"}
    page.screenshot(path=str(SHOTS / "portal_training.png"), full_page=True)

    # Download the document: the original Japanese file name.
    page.goto(f"{base}/documents/{document.pk}/")
    with page.expect_download() as info:
        page.click("text=ダウンロード")
    download = info.value
    assert download.suggested_filename == "提案書テンプレート_2026.pdf"
    assert Path(download.path()).read_bytes().startswith(b"%PDF")
    page.screenshot(path=str(SHOTS / "portal_document.png"), full_page=True)

    # Search the FAQ (htmx), open the answer, say it helped.
    page.goto(f"{base}/faq/")
    page.fill("#faq-q", "請求書")
    page.click("#faq-results >> xpath=preceding::button[@type='submit'][1]")
    page.wait_for_selector("#faq-results .faq-results a")
    assert "**" not in page.locator("#faq-results").inner_text()  # snippet is plain text, not Markdown
    page.screenshot(path=str(SHOTS / "portal_faq_search.png"), full_page=True)
    page.click("#faq-results .faq-results a")
    page.wait_for_url(f"{base}/faq/{faq.pk}/?q=*")
    page.wait_for_selector(".faq-answer strong")
    page.click("button[value=yes]")
    page.wait_for_selector("#faq-feedback .notice-success")
    page.screenshot(path=str(SHOTS / "portal_faq_detail.png"), full_page=True)

    # Back home: the training and the document are done.
    page.click(".subnav >> text=ホーム")
    page.wait_for_url(f"{base}/")
    done_badges = page.locator("#assignments .badge-ok")
    assert done_badges.count() == 2
    assert page.locator("#assignments .status-overdue").count() == 0
    page.screenshot(path=str(SHOTS / "portal_home_after.png"), full_page=True)

    with scope(tenant=tenant.pk):
        verbs = list(ActivityEvent.objects.filter(tenant=tenant, user=partner_user_a.user).values_list("verb", flat=True))
    for verb in (Verb.PORTAL_LOGIN, Verb.TRAINING_STARTED, Verb.TRAINING_PROGRESSED, Verb.TRAINING_COMPLETED,
                 Verb.DOCUMENT_VIEWED, Verb.DOCUMENT_DOWNLOADED, Verb.FAQ_SEARCHED, Verb.FAQ_VIEWED, Verb.FAQ_FEEDBACK):
        assert verb in verbs, verb
    assert verbs.count(Verb.TRAINING_COMPLETED) == 1
    assert errors == []
