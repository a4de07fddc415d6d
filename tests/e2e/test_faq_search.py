"""Browser test of FAQ search on a phone (390 px) and a desktop, in Japanese: a natural query finds
its FAQ through the synonym list, reloading the results logs nothing new, the no-results page sends
the question to the channel manager. Screenshots: artifacts/screenshots/faq_*.png."""

from __future__ import annotations

import pytest
from django_scopes import scope

from enablement import demo
from enablement.models import ActivityEvent, AssetKind, FaqQuestion, FaqSynonym, Verb
from tests import factories as f
from tests.e2e.conftest import SHOTS, open_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def library(tenant_a):
    with scope(tenant=tenant_a.pk):
        for ext_id, _team, category, question, answer, _queries in demo.FAQS["ja"]:
            f.AssetFactory(tenant=tenant_a, kind=AssetKind.FAQ, title=question, body=answer, category=category,
                           language="ja", external_id=ext_id)
        FaqSynonym.objects.bulk_create([FaqSynonym(tenant=tenant_a, terms=t) for t in demo.FAQ_SYNONYMS["ja"]])


@pytest.mark.parametrize("width", [390, 1360])
def test_faq_search_in_japanese(live_server, library, tenant_a, partner_user_a, width):
    with open_page(locale="ja-JP", viewport={"width": width, "height": 900}) as (page, errors, external):
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=login]", partner_user_a.user.email)
        page.fill("input[name=password]", f.PASSWORD)
        page.click("form button[type=submit]")
        page.wait_for_load_state("networkidle")
        page.goto(f"{live_server.url}/t/{tenant_a.slug}/portal/faq/")
        page.fill("#faq-q", "値引きを申請したい")
        page.press("#faq-q", "Enter")
        page.wait_for_selector(".faq-results a")
        page.wait_for_function("() => location.search.includes('sid=')")  # htmx pushed the search's own URL
        assert page.locator(".faq-results a").first.inner_text() == "特別価格(ディスカウント)を申請する方法は?"
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(SHOTS / f"faq_results_{width}.png"), full_page=True)
        page.reload()
        page.wait_for_selector(".faq-results a")

        page.fill("#faq-q", "保守契約の更新手続き")
        page.press("#faq-q", "Enter")
        page.wait_for_selector("#faq-ask-message")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(SHOTS / f"faq_no_results_{width}.png"), full_page=True)
        page.fill("#faq-ask-message", "保守契約の更新はいつまでに申し込めばよいですか?")
        page.click(".faq-ask button[type=submit]")
        page.wait_for_selector(".notice-success")
        assert not errors and not external
    with scope(tenant=tenant_a.pk):
        searched = list(ActivityEvent.objects.filter(verb=Verb.FAQ_SEARCHED).values_list("query", flat=True))
        assert sorted(searched) == sorted(["値引きを申請したい", "保守契約の更新手続き"])  # the reload logged nothing
        assert FaqQuestion.objects.get().message == "保守契約の更新はいつまでに申し込めばよいですか?"
