"""Frozen targeting for every metric: a partner's tier, segment and status as they were in a closed
period (``PartnerSnapshot``) decide every tier/segment-filtered KPI and the active-partner rate;
a partner counts for a period only from the day it joined."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from enablement.models import ActivityEvent
from enablement.services.log import activity_record_many
from kpis.metrics import compute_kpis
from kpis.models import KpiResult, Metric, PartnerSnapshot
from kpis.rollup import rollup_tenant
from partners.models import SupportActivity, User
from tests import factories as f

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 7, 15)  # May and June are closed, July is current


def at(day: dt.date, hour: int = 3) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)  # Tokyo: same day


def log(tenant, *events):
    rows = [
        ActivityEvent(tenant=tenant, partner=p, user=u, asset=a, verb=verb, occurred_at=t, received_at=t,
                      source="portal", event_id=uuid.uuid4().hex, progress=100.0 if verb.startswith("training") else None)
        for p, u, a, verb, t in events
    ]
    activity_record_many(tenant=tenant, events=rows)


def snapshot(tenant) -> dict:
    return {
        (r.definition_id, r.period_start, r.partner_id): (r.numerator, r.denominator, r.value, r.target, r.status)
        for r in KpiResult.objects.filter(tenant=tenant)
    }


@pytest.fixture
def world(scope_a):
    t = scope_a
    gold = f.PartnerTierFactory(tenant=t, name="Gold", rank=1)
    silver = f.PartnerTierFactory(tenant=t, name="Silver", rank=2)
    a = f.PartnerFactory(tenant=t, tier=gold, segment="SMB", joined_on=dt.date(2026, 1, 1))
    b = f.PartnerFactory(tenant=t, tier=gold, segment="SMB", joined_on=dt.date(2026, 1, 1))
    c = f.PartnerFactory(tenant=t, tier=silver, segment="Enterprise", joined_on=dt.date(2026, 1, 1))
    training = f.AssetFactory(tenant=t, kind="training", published_at=at(dt.date(2026, 1, 1)))
    document = f.AssetFactory(tenant=t, kind="document", published_at=at(dt.date(2026, 1, 1)))
    users = [User.objects.create(email=f"{uuid.uuid4().hex}@kpis.test") for _ in range(3)]
    for month in (5, 6, 7):
        day = dt.date(2026, month, 3)
        log(t,
            (a, users[0], training, "training.started", at(day)),
            (a, users[0], training, "training.completed", at(day + dt.timedelta(days=1))),
            (a, users[0], document, "document.downloaded", at(day)),
            (c, users[2], document, "document.viewed", at(day)))
        f.SupportActivityFactory(tenant=t, partner=a, occurred_on=day)
    f.AssignmentFactory(tenant=t, target="tier", partner=None, tier=gold, asset=document, due_on=dt.date(2026, 6, 10))
    definitions = {}
    for metric in Metric.values:
        definitions[(metric, "gold")] = f.KpiDefinitionFactory(
            tenant=t, metric=metric, period="month", tier=gold, target=Decimal(50))
        definitions[(metric, "smb")] = f.KpiDefinitionFactory(
            tenant=t, metric=metric, period="month", segment="SMB", target=Decimal(50))
    definitions[("active", "all")] = f.KpiDefinitionFactory(
        tenant=t, metric=Metric.ACTIVE_PARTNER_RATE, period="month", target=Decimal(50))
    rollup_tenant(t)
    compute_kpis(t, today=TODAY, periods_back=2)
    return locals()


def test_closed_periods_keep_their_numbers_for_every_metric_when_tier_segment_status_change(world):
    t, a, b, silver = world["t"], world["a"], world["b"], world["silver"]
    before = snapshot(t)
    gold_active = world["definitions"][(Metric.ACTIVE_PARTNER_RATE, "gold")]
    assert before[(gold_active.pk, dt.date(2026, 6, 1), None)][:3] == (Decimal(1), Decimal(2), Decimal(50))
    # A and B leave Gold and SMB; B becomes dormant
    a.tier, a.segment = silver, "Enterprise"
    a.save()
    b.tier, b.segment, b.status = silver, "Enterprise", "dormant"
    b.save()
    compute_kpis(t, today=TODAY, periods_back=2)
    after = snapshot(t)
    closed = {k: v for k, v in before.items() if k[1] < dt.date(2026, 7, 1)}
    assert closed and {k: after.get(k) for k in closed} == closed
    for metric in Metric.values:  # every metric has closed rows, and they held
        d = world["definitions"][(metric, "gold")]
        assert (d.pk, dt.date(2026, 6, 1), None) in closed
    # the current period follows the change: Gold has no partner any more (proves the test can fail)
    assert after[(gold_active.pk, dt.date(2026, 7, 1), None)][1] == Decimal(0)
    assert before[(gold_active.pk, dt.date(2026, 7, 1), None)][1] == Decimal(2)
    # the unfiltered active-partner rate: B is dormant now, not in June
    every = world["definitions"][("active", "all")]
    assert after[(every.pk, dt.date(2026, 6, 1), None)][1] == Decimal(3)
    assert after[(every.pk, dt.date(2026, 7, 1), None)][1] == Decimal(2)
    # a second change the same day replaces the not-yet-frozen snapshot instead of piling up
    a.segment = "Mid"
    a.save()
    compute_kpis(t, today=TODAY, periods_back=2)
    assert PartnerSnapshot.objects.filter(tenant=t, partner=a).count() == 2


def test_a_partner_created_today_is_not_inactive_back_in_time(world):
    t = world["t"]
    every = world["definitions"][("active", "all")]
    f.PartnerFactory(tenant=t, tier=world["gold"], joined_on=TODAY)
    compute_kpis(t, today=TODAY, periods_back=2)
    rows = snapshot(t)
    assert rows[(every.pk, dt.date(2026, 6, 1), None)][:2] == (Decimal(2), Decimal(3))  # A and C of A, B, C
    assert rows[(every.pk, dt.date(2026, 7, 1), None)][:2] == (Decimal(2), Decimal(4))  # the newcomer counts from July
    support = world["definitions"][(Metric.SUPPORT_ACTIVITIES_PER_PARTNER, "gold")]
    assert rows[(support.pk, dt.date(2026, 6, 1), None)][:2] == (Decimal(1), Decimal(2))
    assert rows[(support.pk, dt.date(2026, 7, 1), None)][:2] == (Decimal(1), Decimal(3))
    assert SupportActivity.objects.filter(tenant=t).count() == 3
