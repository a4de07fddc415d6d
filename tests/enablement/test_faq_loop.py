"""The FAQ gap loop: a search is logged once, "No" asks what was missing, one changeable answer per
person, questions to the channel manager, gaps and questions turned into new FAQs, synonyms."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse
from django_scopes import scope

from enablement.models import ActivityEvent, AssetKind, AssetStatus, FaqQuestion, FaqSynonym, Verb
from enablement.services.log import activity_record
from kpis.models import DailyActivityFact
from kpis.rollup import rollup_tenant
from tests import factories as f

pytestmark = pytest.mark.django_db


def url(name, slug="acme", **kwargs):
    return reverse(name, kwargs={"tenant_slug": slug, **kwargs})


def events(tenant, **filters):
    with scope(tenant=tenant.pk):
        return list(ActivityEvent.objects.filter(tenant=tenant, **filters).order_by("id"))


# --- a search is logged once ------------------------------------------------------------------------


def test_a_new_search_redirects_to_its_own_url_and_reloads_log_nothing(client, login, portal):
    login(portal["member"])
    first = client.get(url("portal-faq"), {"q": "請求書"})
    assert first.status_code == 302
    params = parse_qs(urlparse(first["Location"]).query)
    assert params["q"] == ["請求書"] and len(params["sid"][0]) == 32
    for _ in range(3):  # the page, a reload, coming back with the back button
        page = client.get(first["Location"])
        assert page.status_code == 200 and portal["faq"].title in page.content.decode()
    (searched,) = events(portal["tenant"], verb=Verb.FAQ_SEARCHED)
    assert (searched.query, searched.result_count, searched.user_id) == ("請求書", 1, portal["member"].user_id)
    client.get(url("portal-faq"), {"q": "請求書"}, follow=True)  # searching again is a new search
    assert len(events(portal["tenant"], verb=Verb.FAQ_SEARCHED)) == 2


def test_htmx_search_pushes_the_url_with_its_id(client, login, portal):
    login(portal["member"])
    response = client.get(url("portal-faq"), {"q": "請求書"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and portal["faq"].title in response.content.decode()
    pushed = response["HX-Push-Url"]
    assert "sid=" in pushed
    client.get(pushed)  # back / reload of the pushed URL
    assert len(events(portal["tenant"], verb=Verb.FAQ_SEARCHED)) == 1


def test_a_shared_search_url_logs_once_per_person(client, login, portal, make_member):
    login(portal["member"])
    location = client.get(url("portal-faq"), {"q": "請求書"})["Location"]
    client.get(location)
    colleague = make_member(portal["tenant"], "partner_user", partner=portal["partner"])
    login(colleague)
    client.get(location)
    client.get(location)
    assert sorted(e.user_id for e in events(portal["tenant"], verb=Verb.FAQ_SEARCHED)) == sorted(
        [portal["member"].user_id, colleague.user_id]
    )


def test_a_bad_search_id_is_a_new_search(client, login, portal):
    login(portal["member"])
    for sid in ("x", "-" * 32, "g" * 32):
        assert client.get(url("portal-faq"), {"q": "請求書", "sid": sid}).status_code == 302


# --- feedback -----------------------------------------------------------------------------------------


def test_no_asks_what_was_missing_and_stores_it_with_the_event(client, login, portal):
    login(portal["member"])
    faq = portal["faq"]
    feedback_url = url("portal-faq-feedback", asset_id=faq.pk)
    no = client.post(feedback_url, {"resolved": "no", "q": "請求書"}, HTTP_HX_REQUEST="true")
    assert 'name="missing"' in no.content.decode()
    sent = client.post(
        feedback_url, {"resolved": "no", "q": "請求書", "missing": "  PDFの 再発行 手順 "}, HTTP_HX_REQUEST="true"
    )
    assert "notice-success" in sent.content.decode()
    answers = events(portal["tenant"], verb=Verb.FAQ_FEEDBACK)
    assert [(e.resolved, e.extra) for e in answers] == [(False, {}), (False, {"missing": "PDFの 再発行 手順"})]


def test_no_without_javascript_asks_on_the_page(client, login, portal):
    login(portal["member"])
    faq = portal["faq"]
    response = client.post(url("portal-faq-feedback", asset_id=faq.pk), {"resolved": "no"}, follow=True)
    assert 'name="missing"' in response.content.decode()
    assert events(portal["tenant"], verb=Verb.FAQ_VIEWED) == []  # the redirect back is not a view


def test_the_answer_is_remembered_and_can_be_changed(client, login, portal):
    login(portal["member"])
    faq = portal["faq"]
    detail = url("portal-faq-detail", asset_id=faq.pk)
    asks = 'name="resolved" value="yes"'
    assert asks in client.get(detail).content.decode()
    client.post(url("portal-faq-feedback", asset_id=faq.pk), {"resolved": "yes"}, HTTP_HX_REQUEST="true")
    page = client.get(detail)
    assert page.context["previous"] == "yes" and asks not in page.content.decode() and "change=1" in page.content.decode()
    assert asks in client.get(detail, {"change": "1"}).content.decode()
    client.post(url("portal-faq-feedback", asset_id=faq.pk), {"resolved": "no", "missing": ""}, HTTP_HX_REQUEST="true")
    assert client.get(detail).context["previous"] == "no"


def test_only_the_latest_answer_per_person_counts_in_the_facts(portal, make_member):
    tenant, faq = portal["tenant"], portal["faq"]
    colleague = make_member(tenant, "partner_user", partner=portal["partner"])
    day1 = dt.datetime(2026, 11, 2, 3, 0, tzinfo=dt.UTC)
    with scope(tenant=tenant.pk):
        def answer(member, resolved, at):
            activity_record(tenant=tenant, partner=member.partner, user=member.user, asset=faq,
                            verb=Verb.FAQ_FEEDBACK, resolved=resolved, occurred_at=at)

        answer(portal["member"], False, day1)
        answer(portal["member"], False, day1 + dt.timedelta(minutes=1))  # the "no" again, with what was missing
        answer(colleague, False, day1)
        rollup_tenant(tenant)

        def facts():
            return {
                (r.day.isoformat(), r.event_count, r.negative_count)
                for r in DailyActivityFact.objects.filter(tenant=tenant, verb=Verb.FAQ_FEEDBACK)
            }

        assert facts() == {("2026-11-02", 2, 2)}  # two people, two "no" answers (not three)
        answer(portal["member"], True, day1 + dt.timedelta(days=2))  # changed their mind two days later
        rollup_tenant(tenant)  # incremental: the earlier day is recomputed too
        assert facts() == {("2026-11-02", 1, 1), ("2026-11-04", 1, 0)}


# --- the no-results page: ask the channel manager ----------------------------------------------------------


def test_no_results_page_sends_the_question_to_the_channel_manager(client, login, portal, manager_a):
    with scope(tenant=portal["tenant"].pk):
        portal["partner"].manager = manager_a.user
        portal["partner"].save()
    login(portal["member"])
    page = client.get(url("portal-faq"), {"q": "保守契約 更新"}, follow=True)
    html = page.content.decode()
    assert page.context["results"] == [] and url("portal-faq-ask") in html
    sid = page.context["sid"]
    sent = client.post(url("portal-faq-ask"), {"q": "保守契約 更新", "sid": sid, "message": "保守契約の更新方法を知りたい"})
    assert sent.status_code == 302 and "asked=1" in sent["Location"] and sid in sent["Location"]
    done = client.get(sent["Location"])
    assert done.context["asked"] and "チャネルマネージャーに送信しました" in done.content.decode()
    assert len(events(portal["tenant"], verb=Verb.FAQ_SEARCHED)) == 1  # coming back did not log the search again
    with scope(tenant=portal["tenant"].pk):
        (question,) = FaqQuestion.objects.all()
    assert (question.partner_id, question.user_id, question.query, question.message, question.status) == (
        portal["partner"].pk, portal["member"].user_id, "保守契約 更新", "保守契約の更新方法を知りたい", "open"
    )
    login(manager_a)
    dashboard = client.get(url("manage-faq")).content.decode()
    assert "保守契約の更新方法を知りたい" in dashboard
    assert f"question={question.pk}" in dashboard


def test_questions_do_not_leak_between_tenants(client, login, portal, manager_b, partner_user_b):
    login(portal["member"])
    client.post(url("portal-faq-ask"), {"q": "秘密", "message": "アクメの質問"})
    login(manager_b)
    assert "アクメの質問" not in client.get(url("manage-faq", slug="globex")).content.decode()
    with scope(tenant=portal["tenant"].pk):
        question = FaqQuestion.objects.get()
    assert client.get(url("manage-asset-new", slug="globex"), {"kind": "faq", "question": question.pk}).status_code == 404
    login(partner_user_b)  # a partner user of Globex cannot post to Acme
    assert client.post(url("portal-faq-ask"), {"q": "x", "message": "y"}).status_code in (403, 404)


def test_manager_turns_a_gap_into_an_faq_prefilled_with_the_searches(client, login, portal, manager_a):
    login(portal["member"])
    client.post(url("portal-faq-ask"), {"q": "保守契約 更新", "message": "更新の締め切りは？"})
    login(manager_a)
    form = client.get(url("manage-asset-new"), {"kind": "faq", "gap": "保守契約 更新"})
    initial = {name: form.context["form"][name].value() for name in ("title", "tags", "description")}
    assert initial["title"] == "保守契約 更新"
    assert initial["tags"] == "保守契約 更新"
    assert "更新の締め切りは？" in initial["description"]


def test_an_faq_written_for_a_question_answers_it_when_published(client, login, portal, manager_a):
    login(portal["member"])
    client.post(url("portal-faq-ask"), {"q": "保守契約 更新", "message": "保守契約の更新方法は？"})
    with scope(tenant=portal["tenant"].pk):
        question = FaqQuestion.objects.get()
    login(manager_a)
    form = client.get(url("manage-asset-new"), {"kind": "faq", "question": question.pk})
    assert form.context["form"]["title"].value() == "保守契約の更新方法は？"
    assert form.context["form"]["tags"].value() == "保守契約 更新"
    created = client.post(
        url("manage-asset-new") + "?kind=faq",
        {"kind": "faq", "question": question.pk, "title": "保守契約の更新方法は？", "language": "ja",
         "body": "更新は契約満了の30日前までにお申し込みください。", "tags": "保守契約 更新"},
    )
    assert created.status_code == 302, created.context["form"].errors if created.context else created
    with scope(tenant=portal["tenant"].pk):
        question.refresh_from_db()
        assert question.answer is not None and question.status == "open"
        asset_id = question.answer_id
    client.post(url("manage-asset-publish", asset_id=asset_id))
    with scope(tenant=portal["tenant"].pk):
        question.refresh_from_db()
        assert question.status == "answered" and question.answered_at is not None
        assert question.answer.status == AssetStatus.PUBLISHED
    login(portal["member"])  # and now the search finds it
    page = client.get(url("portal-faq"), {"q": "保守契約 更新"}, follow=True)
    assert [a.pk for a in page.context["results"]] == [asset_id]


# --- synonyms ----------------------------------------------------------------------------------------------


def test_manager_edits_the_synonym_list_and_search_uses_it(client, login, portal, manager_a):
    with scope(tenant=portal["tenant"].pk):
        f.AssetFactory(tenant=portal["tenant"], kind=AssetKind.FAQ, title="ディスカウントの申請")
    login(manager_a)
    page = url("manage-faq-synonyms")
    assert client.get(page).status_code == 200
    bad = client.post(page, {"terms": "値引き"})
    assert bad.status_code == 200 and bad.context["form"].errors
    assert client.post(page, {"terms": "値引き、ディスカウント"}).status_code == 302
    with scope(tenant=portal["tenant"].pk):
        synonym = FaqSynonym.objects.get()
    assert synonym.terms == "値引き, ディスカウント"
    login(portal["member"])
    found = client.get(url("portal-faq"), {"q": "値引き"}, follow=True).context["results"]
    assert [a.title for a in found] == ["ディスカウントの申請"]
    login(manager_a)
    edit = url("manage-faq-synonym-edit", synonym_id=synonym.pk)
    assert client.post(edit, {"terms": "割引, ディスカウント"}).status_code == 302
    assert client.post(url("manage-faq-synonym-delete", synonym_id=synonym.pk)).status_code == 302
    with scope(tenant=portal["tenant"].pk):
        assert not FaqSynonym.objects.exists()


def test_synonym_pages_are_for_managers_of_the_tenant(client, login, portal, manager_b):
    with scope(tenant=portal["tenant"].pk):
        synonym = FaqSynonym.objects.create(tenant=portal["tenant"], terms="値引き, ディスカウント")
    login(portal["member"])
    assert client.get(url("manage-faq-synonyms")).status_code == 403
    login(manager_b)
    assert client.get(url("manage-faq-synonym-edit", slug="globex", synonym_id=synonym.pk)).status_code == 404
    assert client.post(url("manage-faq-synonym-delete", slug="globex", synonym_id=synonym.pk)).status_code == 404
    assert list(client.get(url("manage-faq-synonyms", slug="globex")).context["synonyms"]) == []
    with scope(tenant=portal["tenant"].pk):
        assert FaqSynonym.objects.filter(pk=synonym.pk).exists()


def test_what_was_missing_shows_on_the_faq_dashboard(client, login, portal, manager_a, manager_b):
    login(portal["member"])
    client.post(url("portal-faq-feedback", asset_id=portal["faq"].pk), {"resolved": "no", "missing": "手順の画面例"})
    login(manager_a)
    assert "手順の画面例" in client.get(url("manage-faq")).content.decode()
    login(manager_b)
    assert "手順の画面例" not in client.get(url("manage-faq", slug="globex")).content.decode()
