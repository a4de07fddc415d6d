"""The assessment pass rate: the worked example of docs/kpis.md, computed by the KPI engine from the
facts and recomputed by brute force from the raw log; a pass also counts for 支援消化率."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django_scopes import scope

from enablement.assessments import services
from enablement.models import ActivityEvent
from kpis.metrics import compute_kpis
from kpis.models import KpiDefinition, KpiResult
from kpis.rollup import rollup_tenant
from tests import factories as f
from tests.assessments.conftest import all_right, make_assessment
from tests.kpis import brute

pytestmark = pytest.mark.django_db
JST = dt.timezone(dt.timedelta(hours=9))


def _attempt(tenant, member, b, clock, when, *, right: bool, submit=True):
    clock.now = when
    attempt = services.attempt_start(tenant=tenant, user=member.user, partner=member.partner, asset=b.asset)
    if submit:
        clock.now = when + dt.timedelta(minutes=10)
        answers = all_right(b) if right else {}
        services.attempt_submit(tenant=tenant, user=member.user, attempt=attempt, answers=answers)
    return attempt


def test_pass_rate_matches_the_worked_example_and_brute_force(tenant_a, make_member, clock):
    t = tenant_a
    with scope(tenant=t.pk):
        pa = f.PartnerFactory(tenant=t, name="A", joined_on=dt.date(2026, 1, 1))
        pb = f.PartnerFactory(tenant=t, name="B", joined_on=dt.date(2026, 1, 1))
    sato, suzuki = make_member(t, "partner_user", partner=pa), make_member(t, "partner_user", partner=pa)
    tanaka = make_member(t, "partner_user", partner=pb)
    quiz = make_assessment(t, attempt_limit=0)
    rules = make_assessment(t, attempt_limit=0)
    with scope(tenant=t.pk):
        f.AssignmentFactory(tenant=t, partner=pa, asset=quiz.asset, due_on=dt.date(2026, 6, 30))
        f.AssignmentFactory(tenant=t, partner=pb, asset=quiz.asset, due_on=dt.date(2026, 6, 30))
        _attempt(t, sato, quiz, clock, dt.datetime(2026, 6, 3, 10, tzinfo=JST), right=False)
        _attempt(t, sato, quiz, clock, dt.datetime(2026, 6, 5, 10, tzinfo=JST), right=True)
        _attempt(t, suzuki, rules, clock, dt.datetime(2026, 6, 10, 10, tzinfo=JST), right=True)
        _attempt(t, tanaka, quiz, clock, dt.datetime(2026, 6, 12, 10, tzinfo=JST), right=False)
        _attempt(t, tanaka, quiz, clock, dt.datetime(2026, 6, 20, 10, tzinfo=JST), right=False)
        _attempt(t, tanaka, quiz, clock, dt.datetime(2026, 6, 30, 23, 30, tzinfo=JST), right=True, submit=False)
        rate = KpiDefinition.objects.create(tenant=t, name_ja="合格率", name_en="Pass rate", metric="assessment_pass_rate",
                                            period="month", target=Decimal("60"))
        done = KpiDefinition.objects.create(tenant=t, name_ja="支援消化率", name_en="Completion", metric="enablement_completion_rate",
                                            period="month", target=Decimal("80"))
        rollup_tenant(t, full=True)
        compute_kpis(t, today=dt.date(2026, 7, 15), periods_back=1)
        june = {r.partner_id: (r.numerator, r.denominator, r.value)
                for r in KpiResult.objects.filter(definition=rate, period_start=dt.date(2026, 6, 1))}
        completion = KpiResult.objects.get(definition=done, period_start=dt.date(2026, 6, 1), partner=None)
        events = list(ActivityEvent.objects.filter(tenant=t))
        partners = {p.pk: (p.status, p.joined_on) for p in (pa, pb)}
        partners |= {m.partner_id: (m.partner.status, m.partner.joined_on) for m in (sato, tanaka)}
        assets = {b.asset.pk: ("assessment", True) for b in (quiz, rules)}
    # the figures of the worked example
    assert june[None] == (Decimal("2.0000"), Decimal("5.0000"), Decimal("40.0000"))
    assert june[pa.pk][2] == Decimal("66.6667") and june[pb.pk][2] == Decimal("0.0000")
    # brute force from the raw log
    overall, per = brute.kpi("assessment_pass_rate", events=events, partners=partners, assets=assets, pairs=[],
                             supports=[], start=dt.date(2026, 6, 1), end=dt.date(2026, 6, 30), zone=t.zoneinfo)
    assert june[None] == overall
    assert {pid: june[pid] for pid in per} == per
    # the passed quiz completes A's assignment; B's does not: 支援消化率 1 / 2
    assert (completion.numerator, completion.denominator) == (Decimal("1.0000"), Decimal("2.0000"))
    # July: Tanaka's open attempt is not counted until it is graded
    with scope(tenant=t.pk):
        assert not KpiResult.objects.filter(definition=rate, period_start=dt.date(2026, 7, 1), partner=None,
                                            denominator__gt=0).exists()
