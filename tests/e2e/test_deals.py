"""Browser test of deal registration in Japanese, on a desktop and a 390 px phone: the manager sees a
conflict (the competing registrations side by side), rejects with a reason after a confirmation step,
and the partner sees the reason on the deal page. Screenshots: artifacts/screenshots/deal_*.png."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django_scopes import scope

from partners.deals.models import Deal, DealStage
from partners.deals.services import deal_register
from tests import factories as f
from tests.e2e.conftest import SHOTS, open_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

REASON = "東都銀行はさくらシステムが先に登録しています。重複のため却下します。"


def _login(page, base, user):
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", f.PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/accounts/login/" not in page.url


@pytest.mark.parametrize("width", [1360, 390])
def test_conflict_reject_with_reason_partner_sees_it(live_server, tenant_a, manager_a, partner_user_a, width):
    with scope(tenant=tenant_a.pk):
        first = f.PartnerFactory(tenant=tenant_a, name="さくらシステム株式会社")
        deal_register(tenant=tenant_a, partner=first, customer="株式会社東都銀行", customer_domain="toto-bank.co.jp",
                      product="Shien Cloud", amount=Decimal(12_000_000), actor=None)
        mine = deal_register(tenant=tenant_a, partner=partner_user_a.partner, customer="東都銀行（株）",
                             product="Shien Cloud Enterprise", amount=Decimal(9_800_000), actor=partner_user_a.user)
    base = live_server.url
    with open_page(locale="ja-JP", viewport={"width": width, "height": 900}) as (page, errors, external):
        _login(page, base, manager_a.user)
        page.goto(f"{base}/t/{tenant_a.slug}/manage/deals/")
        page.wait_for_selector("#conflict-notice")
        page.click("#conflict-notice a")
        page.wait_for_selector(f"#deal-{mine.pk}")
        assert page.locator("#deal-table .badge-bad").count() == 2  # both registrations are flagged
        page.screenshot(path=str(SHOTS / f"deal_list_conflicts_{width}.png"), full_page=True)
        page.goto(f"{base}/t/{tenant_a.slug}/manage/deals/{mine.pk}/")
        conflicts = page.locator("#deal-conflicts")
        assert "競合する登録" in conflicts.inner_text() and "さくらシステム株式会社" in conflicts.inner_text()
        assert page.locator("#deal-conflicts .compare-item").count() == 2
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(SHOTS / f"deal_conflict_{width}.png"), full_page=True)

        page.click("text=却下…")
        page.wait_for_selector("textarea[name=reason]")
        page.click("button:has-text('却下を確定')")  # no reason: the browser's or the server's refusal
        with scope(tenant=tenant_a.pk):
            assert Deal.objects.get(pk=mine.pk).stage == DealStage.REGISTERED
        page.fill("textarea[name=reason]", REASON)
        page.screenshot(path=str(SHOTS / f"deal_reject_confirm_{width}.png"), full_page=True)
        page.click("button:has-text('却下を確定')")
        page.wait_for_selector("#deal-history")
        assert REASON in page.locator("#deal-history").inner_text()
        page.screenshot(path=str(SHOTS / f"deal_manage_{width}.png"), full_page=True)
        assert not errors and not external

    with open_page(locale="ja-JP", viewport={"width": width, "height": 900}) as (page, errors, external):
        _login(page, base, partner_user_a.user)
        page.goto(f"{base}/t/{tenant_a.slug}/portal/deals/")
        page.click("text=東都銀行（株）")
        page.wait_for_selector("#deal-reason")
        assert REASON in page.locator("#deal-reason").inner_text()
        assert "却下" in page.locator("h1").inner_text()
        assert "さくらシステム株式会社" not in page.content()  # the competitor (partner) is not listed to the partner
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(SHOTS / f"deal_portal_{width}.png"), full_page=True)
        assert not errors and not external
    with scope(tenant=tenant_a.pk):
        deal = Deal.objects.get(pk=mine.pk)
        assert deal.stage == DealStage.REJECTED and deal.decided_by == manager_a.user


@pytest.mark.parametrize("width", [1360, 390])
def test_import_errors_are_complete_on_a_phone_and_a_desktop(live_server, tenant_a, manager_a, width, tmp_path):
    """A Shift_JIS file as Excel writes it, with errors: every row's result is visible, nothing is cut off."""
    with scope(tenant=tenant_a.pk):
        f.PartnerFactory(tenant=tenant_a, external_id="P-001", name="さくらシステム株式会社")
    rows = ("パートナーID,案件ID,顧客名,顧客ドメイン,製品,金額,通貨,ステージ,成約日,受注予定日\r\n"
            "P-001,D-1,株式会社髙橋工業,takahashi.co.jp,クラウド,\"1,200,000\",JPY,登録,,2027/01/31\r\n"
            "P-999,D-2,,not a domain,,12abc,XYZ,たぶん,2026-13-45,\r\n")
    path = tmp_path / "deals.csv"
    path.write_bytes(rows.encode("cp932"))
    base = live_server.url
    with open_page(locale="ja-JP", viewport={"width": width, "height": 900}) as (page, errors, external):
        _login(page, base, manager_a.user)
        page.goto(f"{base}/t/{tenant_a.slug}/manage/deals/import/")
        page.set_input_files("input[type=file]", str(path))
        page.click("button:has-text('ファイルをチェック')")
        page.wait_for_selector("#import-preview")
        result = page.locator("#import-preview tbody tr").nth(1).locator("td.result")
        items = result.locator("li")
        assert items.count() >= 6
        for i in range(items.count()):  # every message is inside the viewport horizontally
            box = items.nth(i).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1, (i, box)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(SHOTS / f"deal_import_{width}.png"), full_page=True)
        assert not errors and not external
