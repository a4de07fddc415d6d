"""Browser test of the API pages: Swagger UI at /api/docs/ (vendored sidecar assets, our CSP)
renders with no console errors, and the manage-area API keys page creates a key (shown once)
and revokes it through htmx. Screenshots: artifacts/screenshots/api_docs.png, api_keys.png."""

from __future__ import annotations

import pytest

from tests import factories as f
from tests.e2e.conftest import SHOTS, open_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]



@pytest.fixture
def browser_page():
    with open_page(locale="ja-JP") as (page, errors, external):
        yield page, errors, external


def test_swagger_ui_renders_under_our_csp(live_server, browser_page):
    page, errors, external = browser_page
    SHOTS.mkdir(parents=True, exist_ok=True)
    response = page.goto(f"{live_server.url}/api/docs/")
    assert "script-src" in response.headers.get("content-security-policy", "")
    page.wait_for_selector(".swagger-ui .opblock-tag", timeout=15000)
    assert page.locator(".opblock-summary-path", has_text="/api/v1/events/").count() >= 1
    page.locator(".opblock-post .opblock-summary", has_text="/api/v1/events/").first.click()
    page.wait_for_selector(".opblock-body", timeout=5000)
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / "api_docs.png"), full_page=False)
    assert errors == []
    assert [u for u in external if not u.startswith(live_server.url)] == []


def test_api_keys_page_create_and_revoke(live_server, browser_page, admin_a):
    page, errors, _external = browser_page
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", admin_a.user.email)
    page.fill("input[name=password]", f.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    page.goto(f"{live_server.url}/t/{admin_a.tenant.slug}/manage/api-keys/")
    page.fill("#id_key-name", "LMS")
    page.check("input[name='key-scopes'][value='read']")
    page.click("#api-keys-panel button.btn-primary")
    page.wait_for_selector("#new-key-value")
    raw = page.input_value("#new-key-value")
    assert raw.startswith("shien_")
    page.screenshot(path=str(SHOTS / "api_keys.png"), full_page=True)
    page.once("dialog", lambda d: d.accept())
    page.click("#api-keys-panel form[hx-confirm] button")
    page.wait_for_selector(".badge.status-revoked")
    assert errors == []
