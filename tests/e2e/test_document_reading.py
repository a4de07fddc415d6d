"""The real document page with reading.js (Playwright + Chromium): a document completed by reading
time reports the seconds its page was visible, the server credits them within the session's
elapsed time, logs document.read once and the page shows the document completed."""

from __future__ import annotations

import json

import pytest
from django_scopes import scope

from enablement.models import ActivityEvent, AssetKind, Verb
from tests import factories as f
from tests.e2e.conftest import SHOTS, open_page
from tests.enablement.conftest import add_version

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_reading_script_completes_a_document_after_its_minimum_time(live_server, tenant_a, partner_user_a):
    tenant = tenant_a
    with scope(tenant=tenant.pk):
        doc = f.AssetFactory(tenant=tenant, kind=AssetKind.DOCUMENT, title="短い資料", completion_requires="time",
                             completion_min_seconds=5)
    add_version(doc)
    claims: list[float] = []
    answers: list[dict] = []

    def handle(route, request):
        claims.append(json.loads(request.post_data or "{}").get("seconds", 0))
        response = route.fetch()
        answers.append(response.json())
        route.fulfill(response=response)

    with open_page(locale="ja-JP") as (page, errors, _ext):
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=login]", partner_user_a.user.email)
        page.fill("input[name=password]", f.PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        page.route("**/reading/", handle)
        page.goto(f"{live_server.url}/t/{tenant.slug}/portal/documents/{doc.pk}/")
        assert "5秒間読むと完了します。" in page.content()
        assert page.inner_text("[data-reading-left]") == "5"  # the countdown in seconds
        page.wait_for_selector("[data-reading] [data-status] .badge-ok", timeout=40_000)
        page.screenshot(path=str(SHOTS / "document_reading.png"), full_page=True)
        assert errors == []
    assert claims and all(0 < c <= 60 for c in claims)
    assert answers[-1]["completed"] is True and answers[-1]["total"] >= 5
    with scope(tenant=tenant.pk):
        assert ActivityEvent.objects.filter(tenant=tenant, asset=doc, verb=Verb.DOCUMENT_READ).count() == 1
