"""Fixtures of the assessment tests: an assessment with one question of each type, a fake clock."""

from __future__ import annotations

import pytest
from django_scopes import scope

from enablement.assessments.models import AssessmentSettings, Choice, Question, QuestionKind, ShortMatch
from tests import factories as f
from tests.enablement.conftest import FakeClock

SECRET_ANSWER = "kumquat-47"
EXPLANATION = "Because the manual says so (explanation-xyz)."


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr("enablement.assessments.services.clock", fake)
    return fake


class Bank:
    pass


def make_assessment(tenant, *, pass_mark=70, attempt_limit=3, time_limit_minutes=None, draw_count=0, shuffle=False,
                    status="published"):
    """An assessment with four questions: single, multiple (3 correct of 5), true/false, short."""
    b = Bank()
    with scope(tenant=tenant.pk):
        b.asset = f.AssetFactory(tenant=tenant, kind="assessment", title="Product quiz", status=status)
        b.settings = AssessmentSettings.objects.create(
            tenant=tenant, asset=b.asset, pass_mark=pass_mark, attempt_limit=attempt_limit,
            time_limit_minutes=time_limit_minutes, draw_count=draw_count, shuffle=shuffle,
        )
        b.single = Question.objects.create(tenant=tenant, asset=b.asset, kind=QuestionKind.SINGLE, text="Max users?", position=1)
        b.single_right = Choice.objects.create(tenant=tenant, question=b.single, text="100", is_correct=True, position=0)
        b.single_wrong = Choice.objects.create(tenant=tenant, question=b.single, text="50", is_correct=False, position=1)
        b.multi = Question.objects.create(tenant=tenant, asset=b.asset, kind=QuestionKind.MULTIPLE, text="Protocols?", position=2)
        b.multi_right = [
            Choice.objects.create(tenant=tenant, question=b.multi, text=t, is_correct=True, position=i)
            for i, t in enumerate(["SAML", "OIDC", "LDAP"])
        ]
        b.multi_wrong = [
            Choice.objects.create(tenant=tenant, question=b.multi, text=t, is_correct=False, position=3 + i)
            for i, t in enumerate(["FTP", "Gopher"])
        ]
        b.tf = Question.objects.create(tenant=tenant, asset=b.asset, kind=QuestionKind.TRUE_FALSE, text="Data stays in region.",
                                       position=3, correct_true=True)
        b.short = Question.objects.create(tenant=tenant, asset=b.asset, kind=QuestionKind.SHORT, text="Codename?", position=4,
                                          short_match=ShortMatch.EXACT, accepted_answers=SECRET_ANSWER,
                                          explanation=EXPLANATION)
    return b


def all_right(b) -> dict:
    return {
        str(b.single.pk): [str(b.single_right.pk)],
        str(b.multi.pk): [str(c.pk) for c in b.multi_right],
        str(b.tf.pk): ["true"],
        str(b.short.pk): [SECRET_ANSWER.upper()],
    }


@pytest.fixture
def bank_a(tenant_a):
    return make_assessment(tenant_a)
