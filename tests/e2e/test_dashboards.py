"""Browser test of the manager dashboards (Playwright + Debian Chromium).

A manager logs in through the login form, changes the period and a filter (the results are
swapped in by htmx — no full navigation — and the URL changes), opens a partner scorecard and
exports a CSV. Screenshots of the overview, partners, content and FAQ pages go to
artifacts/screenshots/dash_*.png. Data: facts and KPI results built with factories
(tests/dashboards/conftest.py), no rollup run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.utils import timezone

from kpis.dashboards.filters import period_bounds
from tests import factories as f
from tests.dashboards.conftest import build_dashboard_data
from tests.e2e.conftest import SHOTS, open_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]



@pytest.fixture
def browser_page():
    with open_page(accept_downloads=True, locale="ja-JP") as (page, errors, _external):
        yield page, errors


def test_manager_dashboard_journey(live_server, browser_page, tenant_a, manager_a):
    page, errors = browser_page
    SHOTS.mkdir(parents=True, exist_ok=True)
    data = build_dashboard_data(tenant_a, partners=30, manager=manager_a)
    base = f"{live_server.url}/t/{tenant_a.slug}/manage"

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", manager_a.user.email)
    page.fill("input[name=password]", f.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    page.goto(f"{base}/")
    page.wait_for_selector("canvas[data-chart='tier-completion']")
    assert page.locator(".kpi-card .kpi-value").first.is_visible()
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / "dash_overview.png"), full_page=True)

    # Partners: change the period and a filter; htmx swaps the table, the URL follows.
    page.goto(f"{base}/partners/")
    page.wait_for_selector("#partners-table")
    page.evaluate("window.__marker = 1")
    assert page.get_attribute("#partner-count", "data-count") == "30"
    with page.expect_response(lambda r: "period=quarter" in r.url and r.request.headers.get("hx-request") == "true"):
        page.select_option("#f-period", "quarter")
    page.wait_for_function("() => location.search.includes('period=quarter')")
    quarter_start, _ = period_bounds("quarter", timezone.localdate())
    page.wait_for_function(f"() => document.querySelector('#f-from').value === '{quarter_start.isoformat()}'")
    with page.expect_response(lambda r: f"tier={data['gold'].pk}" in r.url):
        page.select_option("#f-tier", str(data["gold"].pk))
    page.wait_for_function("() => document.querySelector('#partner-count').dataset.count === '15'")
    assert page.evaluate("window.__marker") == 1, "the page was fully reloaded"
    assert f"tier={data['gold'].pk}" in page.url and "period=quarter" in page.url
    page.screenshot(path=str(SHOTS / "dash_partners.png"), full_page=True)

    # Back restores the previous view (history), still without a reload.
    page.go_back()
    page.wait_for_function(f"() => !location.search.includes('tier={data['gold'].pk}')")
    page.wait_for_function("() => document.querySelector('#partner-count').dataset.count === '30'")
    assert page.evaluate("window.__marker") == 1

    # Export the CSV of the current table.
    page.goto(f"{base}/partners/?period=quarter")
    with page.expect_download() as download_info:
        page.click("text=CSVをダウンロード")
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    content = Path(download.path()).read_bytes()
    assert content.startswith(b"\xef\xbb\xbf") and "パートナー 0000" in content.decode("utf-8-sig")

    # Open a partner scorecard from the table.
    page.click("#partners-table >> text=パートナー 0000")
    page.wait_for_selector("#assignment-table")
    assert "パートナー 0000" in page.inner_text("h1")
    page.screenshot(path=str(SHOTS / "dash_partner.png"), full_page=True)

    for name, path in (("content", "content/"), ("faq", "faq/"), ("teams", "teams/")):
        page.goto(f"{base}/{path}")
        page.wait_for_selector("#results")
        page.wait_for_timeout(300)
        page.screenshot(path=str(SHOTS / f"dash_{name}.png"), full_page=True)

    assert errors == []
