"""Browser: a manager opens the success-patterns page, creates and assigns the playbook, and a
nurturing partner's portal home then shows the next best action. Data from factories + services."""

import datetime as dt
import os
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from django_scopes import scope

from kpis.patterns import mine_patterns
from tests import factories as f
from tests.factories import PASSWORD
from tests.patterns.helpers import build_world, consume

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

if not settings.MEDIA_URL:
    # MEDIA_URL is None (uploads are private), which Django's live-server media handler cannot parse
    # (urlparse(None) → bytes). Give that handler a path that never matches; the app never serves media.
    from django.test import testcases

    testcases._MediaFilesHandler.get_base_url = lambda self: "/__no-public-media__/"
SHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no chromium")]


@pytest.fixture
def world(transactional_db, tenant_a, manager_a, make_member):
    today = timezone.localdate()
    with scope(tenant=tenant_a.pk):
        top, others = build_world(tenant_a, today=today)
        masterclass = f.AssetFactory(tenant=tenant_a, title="案件登録マスタークラス", external_id="deal-registration-masterclass")
        for p in top:
            consume(tenant_a, p, masterclass, today - dt.timedelta(days=130))
        consume(tenant_a, others[15], masterclass, today - dt.timedelta(days=30))
        mine_patterns(tenant=tenant_a)
    nurturing = others[0]
    assert nurturing.status == "nurturing"
    partner_member = make_member(tenant_a, "partner_user", partner=nurturing, user=f.UserFactory(email="nurture@acme.test"))
    return {"manager": manager_a, "partner_member": partner_member, "masterclass": masterclass, "nurturing": nurturing}


def _login(page, base, email):
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_load_state("networkidle")


def test_manager_assigns_playbook_and_partner_sees_next_best_action(live_server, world, tenant_a):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        ctx = browser.new_context(viewport={"width": 1366, "height": 900})
        page = ctx.new_page()
        page.on("console", lambda m: errors.append(f"{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        base = live_server.url

        _login(page, base, world["manager"].user.email)
        page.goto(f"{base}/t/{tenant_a.slug}/manage/patterns/")
        assert page.locator("#lift-table tbody tr").first.inner_text().find("案件登録マスタークラス") >= 0
        page.screenshot(path=str(SHOTS / "patterns_page.png"), full_page=True)

        page.click("#playbook form button[type=submit]")  # create the suggested playbook
        page.wait_for_load_state("networkidle")
        assert page.locator("#playbook-items li").count() == 1
        page.click("#assign-form button[type=submit]")  # one click: assign to the nurturing cohort
        page.wait_for_load_state("networkidle")
        assert page.locator("#adoption-table tbody tr").count() >= 1
        assert world["nurturing"].name in page.locator("#adoption-table").inner_text()
        page.screenshot(path=str(SHOTS / "patterns_assigned.png"), full_page=True)

        ctx.clear_cookies()
        _login(page, base, world["partner_member"].user.email)
        page.goto(f"{base}/t/{tenant_a.slug}/portal/")
        nba = page.locator("#nba-card")
        nba.wait_for(timeout=10_000)
        text = nba.inner_text()
        assert "案件登録マスタークラス" in text
        assert "トップパートナーの100%が初受注の前にこれを修了しています" in text
        page.screenshot(path=str(SHOTS / "patterns_portal_nba.png"), full_page=True)
        browser.close()
    assert not errors, errors
