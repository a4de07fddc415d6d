"""Assessment pages: answers never in the page before grading, tenant isolation, roles, the
manage area's bank, settings and attempts."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django_scopes import scope

from enablement.assessments import services
from enablement.assessments.models import AssessmentSettings, Attempt, Question
from tests.assessments.conftest import EXPLANATION, SECRET_ANSWER, all_right, make_assessment

pytestmark = pytest.mark.django_db


def u(name, slug="acme", **kw):
    return reverse(name, kwargs={"tenant_slug": slug, **kw})


def started(client, b):
    response = client.post(u("portal-assessment-start", asset_id=b.asset.pk))
    assert response.status_code == 302
    attempt_id = int(re.search(r"/attempts/(\d+)/", response["Location"]).group(1))
    return attempt_id


def test_taking_page_holds_no_answers(login, partner_user_a, bank_a):
    c = login(partner_user_a)
    attempt_id = started(c, bank_a)
    page = c.get(u("portal-assessment-take", asset_id=bank_a.asset.pk, attempt_id=attempt_id))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Max users?" in html and "Protocols?" in html
    assert SECRET_ANSWER not in html and EXPLANATION not in html
    assert "correct" not in html.lower().replace("send answers", "")  # no flag, class or data attribute
    # Right and wrong choices are rendered alike: the same attributes, only the id differs.
    inputs = re.findall(r'<input type="(radio|checkbox)" name="q-(\d+)" value="(\w+)">', html)
    rendered = {value for _t, _q, value in inputs}
    assert {str(bank_a.single_right.pk), str(bank_a.single_wrong.pk)} <= rendered
    assert len(inputs) == 2 + 5 + 2
    assert "Cache-Control" in page.headers and "no-cache" in page.headers["Cache-Control"]


def test_portal_flow_submit_then_result_reveals_after_pass(login, partner_user_a, bank_a):
    c = login(partner_user_a)
    attempt_id = started(c, bank_a)
    answers = {f"q-{k}": v for k, v in all_right(bank_a).items()}
    answers[f"q-{bank_a.short.pk}"] = ["wrong"]  # 75% ≥ 70%: passed, one wrong
    r = c.post(u("portal-assessment-submit", asset_id=bank_a.asset.pk, attempt_id=attempt_id), answers)
    assert r.status_code == 302 and r["Location"].endswith(f"/attempts/{attempt_id}/result/")
    result = c.get(r["Location"]).content.decode()
    assert "75%" in result
    assert SECRET_ANSWER in result and EXPLANATION in result  # passed: the correct answer may be shown
    # The taking page of a graded attempt now sends to its result; resubmitting does nothing.
    assert c.get(u("portal-assessment-take", asset_id=bank_a.asset.pk, attempt_id=attempt_id)).status_code == 302
    c.post(u("portal-assessment-submit", asset_id=bank_a.asset.pk, attempt_id=attempt_id), {f"q-{bank_a.short.pk}": SECRET_ANSWER})
    with scope(tenant=bank_a.asset.tenant_id):
        assert Attempt.objects.get(pk=attempt_id).score == 0.75


def test_result_hides_correct_answers_while_attempts_are_left(login, partner_user_a, tenant_a):
    b = make_assessment(tenant_a, attempt_limit=2)
    c = login(partner_user_a)
    first = started(c, b)
    c.post(u("portal-assessment-submit", asset_id=b.asset.pk, attempt_id=first), {})
    html = c.get(u("portal-assessment-result", asset_id=b.asset.pk, attempt_id=first)).content.decode()
    assert SECRET_ANSWER not in html and EXPLANATION not in html
    second = started(c, b)
    c.post(u("portal-assessment-submit", asset_id=b.asset.pk, attempt_id=second), {})
    html = c.get(u("portal-assessment-result", asset_id=b.asset.pk, attempt_id=second)).content.decode()
    assert SECRET_ANSWER in html  # no attempt left: now shown
    r = c.post(u("portal-assessment-start", asset_id=b.asset.pk))  # the limit, through the page
    assert r.status_code == 302 and r["Location"].endswith(f"/assessments/{b.asset.pk}/")
    with scope(tenant=tenant_a.pk):
        assert Attempt.objects.filter(asset=b.asset).count() == 2


def test_other_tenant_cannot_open_start_or_submit(login, partner_user_a, partner_user_b, tenant_b, bank_a):
    attempt_id = started(login(partner_user_a), bank_a)
    c = login(partner_user_b)
    for slug in ("acme", "globex"):  # not a member there / not their tenant's asset
        assert c.get(u("portal-assessment", slug=slug, asset_id=bank_a.asset.pk)).status_code == 404
        assert c.post(u("portal-assessment-start", slug=slug, asset_id=bank_a.asset.pk)).status_code == 404
        assert c.get(u("portal-assessment-take", slug=slug, asset_id=bank_a.asset.pk, attempt_id=attempt_id)).status_code == 404
        assert c.post(u("portal-assessment-submit", slug=slug, asset_id=bank_a.asset.pk, attempt_id=attempt_id),
                      {}).status_code == 404
    with scope(tenant=bank_a.asset.tenant_id):
        assert Attempt.objects.get(pk=attempt_id).status == "open"
        assert Attempt.objects.count() == 1


def test_another_partner_user_cannot_see_or_submit_my_attempt(login, partner_user_a, make_member, tenant_a, bank_a):
    attempt_id = started(login(partner_user_a), bank_a)
    other = make_member(tenant_a, "partner_user")
    c = login(other)
    assert c.get(u("portal-assessment-take", asset_id=bank_a.asset.pk, attempt_id=attempt_id)).status_code == 404
    assert c.post(u("portal-assessment-submit", asset_id=bank_a.asset.pk, attempt_id=attempt_id), {}).status_code == 404
    assert c.get(u("portal-assessment-result", asset_id=bank_a.asset.pk, attempt_id=attempt_id)).status_code == 404


def test_a_draft_assessment_is_not_in_the_portal(login, partner_user_a, tenant_a):
    b = make_assessment(tenant_a, status="draft")
    c = login(partner_user_a)
    assert c.get(u("portal-assessment", asset_id=b.asset.pk)).status_code == 404
    assert c.post(u("portal-assessment-start", asset_id=b.asset.pk)).status_code == 404


def test_roles(login, partner_user_a, manager_a, bank_a):
    partner = login(partner_user_a)
    assert partner.get(u("manage-assessment", asset_id=bank_a.asset.pk)).status_code == 403
    assert partner.get(u("manage-assessment-attempts", asset_id=bank_a.asset.pk)).status_code == 403
    manager = login(manager_a)
    assert manager.get(u("portal-assessment", asset_id=bank_a.asset.pk)).status_code == 403
    assert manager.post(u("portal-assessment-start", asset_id=bank_a.asset.pk)).status_code == 403


def test_manage_other_tenant_is_404(login, manager_b, bank_a):
    c = login(manager_b)
    for slug in ("acme", "globex"):
        assert c.get(u("manage-assessment", slug=slug, asset_id=bank_a.asset.pk)).status_code == 404
        assert c.get(u("manage-assessment-attempts", slug=slug, asset_id=bank_a.asset.pk)).status_code == 404
        assert c.post(u("manage-assessment-question-delete", slug=slug, asset_id=bank_a.asset.pk,
                         question_id=bank_a.tf.pk)).status_code == 404
    with scope(tenant=bank_a.asset.tenant_id):
        assert Question.objects.filter(pk=bank_a.tf.pk).exists()


def test_manager_edits_settings_and_bank(login, manager_a, tenant_a, bank_a):
    c = login(manager_a)
    page = c.get(u("manage-assessment", asset_id=bank_a.asset.pk))
    assert page.status_code == 200 and "Codename?" in page.content.decode()
    r = c.post(u("manage-assessment", asset_id=bank_a.asset.pk),
               {"pass_mark": 80, "attempt_limit": 0, "time_limit_minutes": 20, "draw_count": 3, "shuffle": "on"})
    assert r.status_code == 302
    r = c.post(u("manage-assessment-question-new", asset_id=bank_a.asset.pk), {
        "kind": "single", "text": "Capital of Japan?", "short_match": "exact",
        "choice_1": "Tokyo", "correct_1": "on", "choice_2": "Osaka",
    })
    assert r.status_code == 302
    bad = c.post(u("manage-assessment-question-new", asset_id=bank_a.asset.pk),
                 {"kind": "short", "text": "Zip?", "short_match": "pattern", "pattern": "(a+)+"})
    assert bad.status_code == 200 and "pattern" in bad.context["form"].errors
    r = c.post(u("manage-assessment-question-delete", asset_id=bank_a.asset.pk, question_id=bank_a.tf.pk))
    assert r.status_code == 302
    with scope(tenant=tenant_a.pk):
        conf = AssessmentSettings.objects.get(asset=bank_a.asset)
        assert (conf.pass_mark, conf.attempt_limit, conf.time_limit_minutes, conf.draw_count) == (80, 0, 20, 3)
        texts = list(Question.objects.filter(asset=bank_a.asset).values_list("text", flat=True))
        assert "Capital of Japan?" in texts and "Data stays in region." not in texts
        from partners.models import AuditEvent
        assert AuditEvent.objects.filter(tenant=tenant_a, action__startswith="assessment.").count() == 3


def test_manage_attempts_table_filters_and_pages(login, manager_a, tenant_a, make_member, bank_a, django_assert_max_num_queries):
    members = [make_member(tenant_a, "partner_user") for _ in range(3)]
    with scope(tenant=tenant_a.pk):
        for m in members:
            a = services.attempt_start(tenant=tenant_a, user=m.user, partner=m.partner, asset=bank_a.asset)
            services.attempt_submit(tenant=tenant_a, user=m.user, attempt=a, answers=all_right(bank_a) if m is members[0] else {})
    c = login(manager_a)
    with django_assert_max_num_queries(20):
        page = c.get(u("manage-assessment-attempts", asset_id=bank_a.asset.pk))
    assert page.status_code == 200 and page.context["page"].paginator.count == 3
    passed = c.get(u("manage-assessment-attempts", asset_id=bank_a.asset.pk), {"result": "passed"})
    assert [a.user_id for a in passed.context["page"]] == [members[0].user_id]
    one = c.get(u("manage-assessment-attempts", asset_id=bank_a.asset.pk), {"partner": members[1].partner_id},
                HTTP_HX_REQUEST="true")
    assert [a.user_id for a in one.context["page"]] == [members[1].user_id]
    assert "<html" not in one.content.decode()  # the htmx fragment only


def test_catalog_links_to_the_assessment(login, partner_user_a, bank_a):
    html = login(partner_user_a).get(u("portal-catalog")).content.decode()
    assert u("portal-assessment", asset_id=bank_a.asset.pk) in html
