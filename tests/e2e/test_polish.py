"""Browser checks, in Japanese: the first-run checklist of an empty tenant (desktop and 390 px, axe),
focus kept on the sort heading after sorting with Enter (htmx swap), partners in あいうえお order,
the partner form with its reading. Screenshots: artifacts/screenshots/polish_*.png."""

from __future__ import annotations

import pytest
from django_scopes import scope

from partners.reading import reading_of
from tests import factories as f
from tests.e2e.conftest import SHOTS, open_page
from tests.e2e.test_accessibility import AXE, RUN_AXE, login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1280, 390])
def test_first_run_checklist(live_server, tenant_a, admin_a, width):
    base = f"{live_server.url}/t/{tenant_a.slug}/manage"
    with open_page(locale="ja-JP", viewport={"width": width, "height": 900}) as (page, errors, _x):
        login(page, live_server.url, admin_a, f"{base}/")
        checklist = page.locator(".checklist")
        assert checklist.is_visible()
        assert page.locator(".checklist-step").count() == 5
        assert "パートナーのユーザーを招待する" in checklist.inner_text()
        page.screenshot(path=str(SHOTS / f"polish_checklist_{width}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.add_script_tag(url=AXE)
        assert page.evaluate(RUN_AXE) == []
        page.click(".checklist-step[data-step=tiers] a")
        page.wait_for_url(f"{base}/settings/partners/")
        assert errors == []


def test_sort_with_enter_keeps_focus_and_aiueo_order(live_server, tenant_a, manager_a):
    names = ["渡辺商会", "佐藤電機", "伊藤製作所", "安藤工業"]
    with scope(tenant=tenant_a.pk):
        for name in names:
            f.PartnerFactory(tenant=tenant_a, name=name, name_kana=reading_of(name))
    base = f"{live_server.url}/t/{tenant_a.slug}/manage"
    with open_page(locale="ja-JP") as (page, errors, _x):
        login(page, live_server.url, manager_a, f"{base}/")
        page.goto(f"{base}/partners/")
        first_column = "() => [...document.querySelectorAll('#results tbody tr td:first-child a')].map(a => a.innerText.trim())"
        assert page.evaluate(first_column)[:4] == ["安藤工業", "伊藤製作所", "佐藤電機", "渡辺商会"]
        page.focus("[data-focus-key=sort-name]")
        page.keyboard.press("Enter")
        page.wait_for_url("**sort=-name**")
        page.wait_for_function("() => document.activeElement && document.activeElement.dataset.focusKey === 'sort-name'")
        assert page.evaluate(first_column)[:4] == ["渡辺商会", "佐藤電機", "伊藤製作所", "安藤工業"]
        page.keyboard.press("Enter")  # focus is still there: Enter sorts again
        page.wait_for_function("() => !location.search.includes('sort=-name')")
        page.wait_for_function("() => document.activeElement && document.activeElement.dataset.focusKey === 'sort-name'")
        page.screenshot(path=str(SHOTS / "polish_partners_sorted.png"), full_page=True)

        page.goto(f"{base}/settings/partners/new/")
        page.fill("input[name=name]", "株式会社さくらネット")
        page.select_option("select[name=status]", "onboarding")
        page.click("form.card button.btn-primary")
        page.wait_for_url(f"{base}/settings/partners/")
        assert "さくらねっと" in page.locator("main").inner_text()
        page.screenshot(path=str(SHOTS / "polish_partner_settings.png"), full_page=True)
        page.click("table a:text-is(\"株式会社さくらネット\")")
        assert page.input_value("input[name=name_kana]") == "さくらねっと"
        page.screenshot(path=str(SHOTS / "polish_partner_form.png"), full_page=True)
        assert errors == []
