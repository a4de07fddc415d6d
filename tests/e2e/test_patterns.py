"""Browser: a manager opens the success-patterns page, creates and assigns the playbook, and a
nurturing partner's portal home then shows the next best action. Data from factories + services."""

import datetime as dt

import pytest
from django.utils import timezone
from django_scopes import scope

from kpis.patterns.mining import mine_patterns
from tests import factories as f
from tests.e2e.conftest import ARGS, CHROMIUM, SHOTS
from tests.factories import PASSWORD
from tests.patterns.helpers import build_world, consume, long_ago

pytestmark = pytest.mark.e2e


@pytest.fixture
def world(transactional_db, tenant_a, manager_a, make_member):
    today = timezone.localdate()
    with scope(tenant=tenant_a.pk):
        top, others = build_world(tenant_a, today=today)
        masterclass = f.AssetFactory(tenant=tenant_a, title="案件登録マスタークラス", external_id="deal-registration-masterclass",
                                     published_at=long_ago())  # existed before the top partners' first wins
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
    page.fill("input[name=login]", email)
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


def test_partner_registers_deal_manager_approves_and_imports(live_server, transactional_db, tenant_a, manager_a, make_member,
                                                             tmp_path):
    from playwright.sync_api import sync_playwright

    from partners.deals.models import Deal

    with scope(tenant=tenant_a.pk):
        partner = f.PartnerFactory(tenant=tenant_a, name="さくら商事", external_id="P-001")
    member = make_member(tenant_a, "partner_user", partner=partner, user=f.UserFactory(email="rep@acme.test"))
    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    bad = tmp_path / "deals.csv"
    bad.write_text("\ufeffpartner_external_id,deal_id,customer,product,amount,currency,stage,closed_on\n"
                   "P-001,D-1,東都銀行,クラウド,1200000,JPY,won,2026-05-01\n"
                   "P-999,D-2,Unknown,,100,JPY,registered,\n"
                   "P-001,D-3,Bad,,12abc,JPY,won,2026-13-01\n", encoding="utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        ctx = browser.new_context(viewport={"width": 1366, "height": 900})
        page = ctx.new_page()
        page.on("console", lambda m: errors.append(f"{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        base = live_server.url
        _login(page, base, member.user.email)
        page.goto(f"{base}/t/{tenant_a.slug}/portal/deals/new/")
        page.fill("input[name=customer]", "みなと病院")
        page.fill("input[name=amount]", "3500000")
        page.fill("input[name=expected_close_on]", (timezone.localdate() + dt.timedelta(days=40)).isoformat())
        page.click("form.card button[type=submit]")
        page.wait_for_load_state("networkidle")
        assert "みなと病院" in page.inner_text("main")
        page.screenshot(path=str(SHOTS / "patterns_portal_deals.png"), full_page=True)

        ctx.clear_cookies()
        _login(page, base, manager_a.user.email)
        page.goto(f"{base}/t/{tenant_a.slug}/manage/deals/")
        page.click("button[name=action][value=approve]")
        page.wait_for_load_state("networkidle")
        with scope(tenant=tenant_a.pk):
            assert Deal.objects.get().stage == "approved"
        page.screenshot(path=str(SHOTS / "patterns_manage_deals.png"), full_page=True)
        page.goto(f"{base}/t/{tenant_a.slug}/manage/deals/import/")
        page.set_input_files("input[name=file]", str(bad))
        page.click("form[enctype] button[type=submit]")
        page.wait_for_load_state("networkidle")
        assert page.locator("#import-preview tbody tr").count() == 3
        assert page.locator("#import-preview .errorlist li").count() >= 2
        assert page.locator("input[name=step][value=confirm]").count() == 0
        page.screenshot(path=str(SHOTS / "patterns_import_preview.png"), full_page=True)
        browser.close()
    with scope(tenant=tenant_a.pk):
        assert Deal.objects.count() == 1
    assert not errors, errors


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_cohort_lists_say_which_run_they_come_from(live_server, world, tenant_a, lang):
    """The lists come from the latest run's stored ranking and the page names the run; a window with no
    stored run is computed live and says so; a cohort override set on the page moves the partner."""
    from tests.e2e.conftest import open_page

    manager = world["manager"].user
    manager.language = lang
    manager.save(update_fields=["language"])
    with open_page(locale="ja-JP" if lang == "ja" else "en-US") as (page, errors, _external):
        base = live_server.url
        _login(page, base, manager.email)
        page.goto(f"{base}/t/{tenant_a.slug}/manage/patterns/")
        source = page.locator("#cohorts-source").inner_text()
        assert ("分析（365日間、上位20%" in source) if lang == "ja" else ("(365 days, top 20%" in source), source
        page.screenshot(path=str(SHOTS / f"patterns_stored_lists_{lang}.png"), full_page=True)
        first = page.locator("#cohort-nurture tbody tr").first
        pk = first.locator("input[name=partner_id]").get_attribute("value")
        first.locator("select[name=cohort_override]").select_option("exclude")
        first.locator("button[type=submit]").click()
        page.wait_for_load_state("networkidle")
        assert page.locator(f"#ov-nur-{pk}").count() == 0 and page.locator(f"#ov-exc-{pk}").count() == 1
        page.goto(f"{base}/t/{tenant_a.slug}/manage/patterns/?window_days=120&top_share=10&metric=deals")
        source = page.locator("#cohorts-source").inner_text()
        assert ("今計算した" in source) if lang == "ja" else ("computed now" in source), source
        assert not errors, errors
