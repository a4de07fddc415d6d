"""Attempts on the server: start and grading log the verbs with the score, a pass completes the
asset, the attempt limit and the time limit hold, resubmitting changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django_scopes import scope

from enablement.assessments import services
from enablement.assessments.models import Attempt, AttemptStatus
from enablement.completion import completion_q
from enablement.models import ActivityEvent, Verb
from kpis.models import PartnerAssetState, UserAssetState
from kpis.rollup import rollup_tenant
from tests.assessments.conftest import all_right, make_assessment

pytestmark = pytest.mark.django_db


def start(member, b, **kw):
    with scope(tenant=member.tenant_id):
        return services.attempt_start(tenant=member.tenant, user=member.user, partner=member.partner, asset=b.asset, **kw)


def submit(member, attempt, answers):
    with scope(tenant=member.tenant_id):
        return services.attempt_submit(tenant=member.tenant, user=member.user, attempt=attempt, answers=answers)


def log(tenant, **kw):
    with scope(tenant=tenant.pk):
        return list(ActivityEvent.objects.filter(tenant=tenant, **kw).order_by("id"))


def test_a_passed_attempt_is_logged_with_its_score_and_completes_the_asset(tenant_a, partner_user_a, bank_a):
    attempt = start(partner_user_a, bank_a)
    assert attempt.status == AttemptStatus.OPEN and attempt.number == 1 and attempt.deadline is None
    assert attempt.question_ids == [bank_a.single.pk, bank_a.multi.pk, bank_a.tf.pk, bank_a.short.pk]
    (attempted,) = log(tenant_a)
    assert (attempted.verb, attempted.user_id, attempted.partner_id, attempted.asset_id) == (
        Verb.ASSESSMENT_ATTEMPTED, partner_user_a.user_id, partner_user_a.partner_id, bank_a.asset.pk)
    attempt = submit(partner_user_a, attempt, all_right(bank_a))
    assert (attempt.status, attempt.score, attempt.passed) == (AttemptStatus.GRADED, 1.0, True)
    passed = log(tenant_a, verb=Verb.ASSESSMENT_PASSED)
    assert [e.extra["score"] for e in passed] == [1.0]
    with scope(tenant=tenant_a.pk):
        assert ActivityEvent.objects.filter(completion_q(), tenant=tenant_a).count() == 1
        rollup_tenant(tenant_a, full=True)
        state = PartnerAssetState.objects.get(tenant=tenant_a, partner=partner_user_a.partner, asset=bank_a.asset)
        assert state.first_completed_at == passed[0].occurred_at and state.completed_users == 1


def test_partial_multiple_choice_and_a_failed_attempt_completes_nothing(tenant_a, partner_user_a, bank_a):
    answers = all_right(bank_a)
    # two of three correct + one wrong: (2 - 1) / 3; true/false wrong; short answer full-width → right
    answers[str(bank_a.multi.pk)] = [str(bank_a.multi_right[0].pk), str(bank_a.multi_right[1].pk), str(bank_a.multi_wrong[0].pk)]
    answers[str(bank_a.tf.pk)] = ["false"]
    answers[str(bank_a.short.pk)] = ["ｋｕｍｑｕａｔ－４７"]
    attempt = submit(partner_user_a, start(partner_user_a, bank_a), answers)
    assert attempt.results[str(bank_a.multi.pk)]["score"] == pytest.approx(1 / 3, abs=1e-4)
    assert attempt.results[str(bank_a.short.pk)]["score"] == 1.0
    assert attempt.score == pytest.approx((1 + 1 / 3 + 0 + 1) / 4, abs=1e-4)
    assert attempt.passed is False  # 58% < 70%
    (failed,) = log(tenant_a, verb=Verb.ASSESSMENT_FAILED)
    assert failed.extra["score"] == attempt.score
    with scope(tenant=tenant_a.pk):
        assert not ActivityEvent.objects.filter(completion_q(), tenant=tenant_a).exists()
        rollup_tenant(tenant_a, full=True)
        state = UserAssetState.objects.get(tenant=tenant_a, user=partner_user_a.user, asset=bank_a.asset)
        assert state.first_completed_at is None and state.first_activity_at is not None


def test_foreign_choice_ids_and_garbage_are_ignored(partner_user_a, bank_a, tenant_a):
    answers = {str(bank_a.single.pk): [str(bank_a.multi_right[0].pk)], str(bank_a.tf.pk): ["maybe"], "x": ["1"]}
    attempt = submit(partner_user_a, start(partner_user_a, bank_a), answers)
    assert attempt.score == 0.0 and attempt.passed is False


def test_resubmitting_a_graded_attempt_changes_nothing(tenant_a, partner_user_a, bank_a):
    attempt = start(partner_user_a, bank_a)
    wrong = {str(bank_a.single.pk): [str(bank_a.single_wrong.pk)]}
    first = submit(partner_user_a, attempt, wrong)
    again = submit(partner_user_a, attempt, all_right(bank_a))  # the stale object still says "open"
    assert (again.score, again.passed, again.submitted_at) == (first.score, False, first.submitted_at)
    assert len(log(tenant_a, verb__in=[Verb.ASSESSMENT_PASSED, Verb.ASSESSMENT_FAILED])) == 1


def test_attempt_limit_is_enforced_on_the_server(tenant_a, partner_user_a):
    b = make_assessment(tenant_a, attempt_limit=2)
    for _ in range(2):
        submit(partner_user_a, start(partner_user_a, b), {})
    with pytest.raises(ValidationError):
        start(partner_user_a, b)
    with scope(tenant=tenant_a.pk):
        assert Attempt.objects.filter(tenant=tenant_a, user=partner_user_a.user).count() == 2


def test_an_open_attempt_is_resumed_not_doubled_and_a_slot_cannot_be_taken_twice(tenant_a, partner_user_a, bank_a):
    first = start(partner_user_a, bank_a)
    assert start(partner_user_a, bank_a).pk == first.pk  # a second click, another tab
    assert len(log(tenant_a, verb=Verb.ASSESSMENT_ATTEMPTED)) == 1
    with scope(tenant=tenant_a.pk), pytest.raises(IntegrityError):  # what two concurrent starts would both try
        Attempt.objects.create(tenant=tenant_a, asset=bank_a.asset, user=partner_user_a.user, partner=partner_user_a.partner,
                               number=1, started_at=first.started_at, pass_mark=70)


def test_no_new_attempt_after_a_pass(partner_user_a, bank_a):
    submit(partner_user_a, start(partner_user_a, bank_a), all_right(bank_a))
    with pytest.raises(ValidationError):
        start(partner_user_a, bank_a)


def test_time_limit_is_enforced_on_the_server(tenant_a, partner_user_a, clock):
    b = make_assessment(tenant_a, time_limit_minutes=10)
    attempt = start(partner_user_a, b)
    assert attempt.deadline == attempt.started_at + dt.timedelta(minutes=10)
    clock.advance(minutes=10, seconds=20)  # within the grace period: graded normally
    assert submit(partner_user_a, attempt, all_right(b)).passed is True

    other = make_assessment(tenant_a, time_limit_minutes=10)
    late = start(partner_user_a, other)
    clock.advance(minutes=11)
    late = submit(partner_user_a, late, all_right(other))
    assert (late.timed_out, late.score, late.passed) == (True, 0.0, False)
    (failed,) = log(tenant_a, verb=Verb.ASSESSMENT_FAILED)
    assert failed.extra == {"attempt": 1, "score": 0.0, "timed_out": True}


def test_an_abandoned_timed_attempt_is_closed_as_timed_out_and_counts(tenant_a, partner_user_a, clock):
    b = make_assessment(tenant_a, time_limit_minutes=5, attempt_limit=2)
    abandoned = start(partner_user_a, b)
    clock.advance(minutes=6)
    second = start(partner_user_a, b)
    assert second.pk != abandoned.pk and second.number == 2
    with scope(tenant=tenant_a.pk):
        abandoned.refresh_from_db()
    assert abandoned.status == AttemptStatus.GRADED and abandoned.timed_out and abandoned.passed is False


def test_draw_count_draws_that_many_distinct_questions(tenant_a, partner_user_a):
    b = make_assessment(tenant_a, draw_count=2, shuffle=True)
    attempt = start(partner_user_a, b)
    bank = {b.single.pk, b.multi.pk, b.tf.pk, b.short.pk}
    assert len(attempt.question_ids) == 2 and set(attempt.question_ids) <= bank
    assert set(attempt.choice_order) <= {str(q) for q in attempt.question_ids}
    # graded over the drawn questions only: both right → 100%
    answers = {k: v for k, v in all_right(b).items() if int(k) in attempt.question_ids}
    assert submit(partner_user_a, attempt, answers).score == 1.0


def test_another_users_attempt_cannot_be_submitted(tenant_a, partner_user_a, make_member, bank_a):
    other = make_member(tenant_a, "partner_user")
    attempt = start(partner_user_a, bank_a)
    with pytest.raises(ValidationError):
        submit(other, attempt, all_right(bank_a))


def test_empty_bank_cannot_be_started_or_published(tenant_a, partner_user_a, manager_a):
    from enablement.services.catalog import asset_publish
    from tests import factories as f

    with scope(tenant=tenant_a.pk):
        empty = f.AssetFactory(tenant=tenant_a, kind="assessment", status="draft")
        with pytest.raises(ValidationError):
            asset_publish(tenant=tenant_a, actor=manager_a.user, asset=empty)
        with pytest.raises(ValidationError):
            services.attempt_start(tenant=tenant_a, user=partner_user_a.user, partner=partner_user_a.partner, asset=empty)


def test_question_bank_validation(tenant_a, manager_a, bank_a):
    with scope(tenant=tenant_a.pk):
        save = {"tenant": tenant_a, "actor": manager_a.user, "asset": bank_a.asset}
        with pytest.raises(ValidationError) as e:
            services.question_save(**save, kind="single", text="Q", choices=[("a", True), ("b", True)])
        assert "choices" in e.value.error_dict
        with pytest.raises(ValidationError) as e:
            services.question_save(**save, kind="short", text="Q", short_match="pattern", pattern=r"(a+)+")
        assert "pattern" in e.value.error_dict
        q = services.question_save(**save, kind="short", text="Postcode?", short_match="pattern", pattern=r"[0-9]{3}-[0-9]{4}")
        assert q.pattern and not q.accepted_answers
        q = services.question_save(**save, question=q, kind="multiple", text="Pick", choices=[("a", True), ("b", False), ("", True)],
                                   all_or_nothing=True)
        assert [(c.text, c.is_correct) for c in q.choices.all()] == [("a", True), ("b", False)]
        assert q.pattern == "" and q.all_or_nothing

