"""Browser look at the measurement-health page in Japanese and English (screenshots
artifacts/screenshots/health_ja.png and health_en.png)."""

from __future__ import annotations

import pytest
from django_scopes import scope

from tests import factories as f
from tests.e2e.conftest import SHOTS, open_page
from tests.kpis.test_health import build

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(("language", "heading"), [("ja", "計測の健全性"), ("en", "Measurement health")])
def test_health_page_in_both_languages(live_server, tenant_a, manager_a, language, heading):
    build(tenant_a, "Acme")
    with scope(tenant=tenant_a.pk):
        for i in range(4):
            f.PartnerFactory(tenant=tenant_a, name=f"販売店 {i + 1}")
    manager_a.user.language = language
    manager_a.user.save(update_fields=["language"])
    with open_page(locale="ja-JP" if language == "ja" else "en-US") as (page, errors, external):
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=login]", manager_a.user.email)
        page.fill("input[name=password]", f.PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        page.goto(f"{live_server.url}/t/{tenant_a.slug}/manage/")
        page.click(f".sidebar >> text={heading}")
        page.wait_for_selector("#health-summary")
        assert page.locator("h1").inner_text() == heading
        assert page.locator(".sidebar [aria-current=page]").inner_text() == heading
        page.screenshot(path=str(SHOTS / f"health_{language}.png"), full_page=True)
        assert errors == [] and external == []
