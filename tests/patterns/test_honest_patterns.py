"""Honest success patterns: shares only over the partners for whom an item existed before their
cutoff, a minimum sample below which an item is "too early to tell", and adoption windows that
start only once a full week after the assignment is over. Hand-built data with known answers."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope

from kpis.models import DailyActivityFact
from kpis.patterns.mining import mine_patterns
from kpis.patterns.models import MIN_SAMPLE, PatternItem
from kpis.patterns.selectors import adoption_window, playbook_adoption
from kpis.patterns.services import playbook_assign
from partners.deals.models import DealStage
from tests import factories as f
from tests.patterns.helpers import TODAY, at, build_world, consume, long_ago

pytestmark = pytest.mark.django_db


def test_item_published_after_the_top_partners_first_wins_is_not_less_common_in_top(scope_a):
    """Before: 0/5 top against 10/20 others — "less common in top". The top partners could not
    have used it before their wins: they are left out, and nobody is left to compare."""
    top, others = build_world(scope_a)  # top partners' first win: TODAY - 100
    late = f.AssetFactory(tenant=scope_a, kind="document", title="Late deck", published_at=at(TODAY - dt.timedelta(days=60)))
    for p in others[:10]:
        consume(scope_a, p, late, TODAY - dt.timedelta(days=30))
    for p in top:  # used after their first win: never "before"
        consume(scope_a, p, late, TODAY - dt.timedelta(days=20))
    run = mine_patterns(tenant=scope_a, as_of=TODAY)
    item = PatternItem.objects.get(run=run, asset=late)
    assert (item.top_count, item.top_n, item.other_count, item.other_n) == (0, 0, 10, 20)
    assert item.too_early and item.lift is None and item.ci_low is None
    assert not item.less_common_in_top and not item.significant


def test_shares_count_only_partners_for_whom_the_item_existed(scope_a):
    top, others = build_world(scope_a, n_top=8, n_other=32)  # 40 partners, 20 % = 8 top
    early_winners = top[:3]
    for p in early_winners:  # their first win moves to TODAY - 300, before the asset existed
        f.DealFactory(tenant=scope_a, partner=p, stage=DealStage.WON, amount=1, closed_on=TODAY - dt.timedelta(days=300))
    asset = f.AssetFactory(tenant=scope_a, title="Mid-year training", published_at=at(TODAY - dt.timedelta(days=200)))
    for p in top[3:]:
        consume(scope_a, p, asset, TODAY - dt.timedelta(days=150))
    for p in others[:4]:
        consume(scope_a, p, asset, TODAY - dt.timedelta(days=150))
    run = mine_patterns(tenant=scope_a, as_of=TODAY)
    assert run.top_n == 8
    item = PatternItem.objects.get(run=run, asset=asset)
    assert (item.top_count, item.top_n) == (5, 5)  # 5 of the 5 who could, not 5 of 8
    assert (item.other_count, item.other_n) == (4, 32)
    assert item.share_top == pytest.approx(1.0) and item.share_other == pytest.approx(4 / 32)
    assert not item.too_early and item.lift == pytest.approx((5.5 / 6) / (4.5 / 33))  # 0.5 added: a zero cell
    assert item.significant


def test_below_the_minimum_sample_it_is_too_early_to_tell(scope_a):
    assert MIN_SAMPLE == 5  # documented in docs/kpis.md
    top, others = build_world(scope_a, n_top=4, n_other=16)  # 4 top partners: below the minimum
    asset = f.AssetFactory(tenant=scope_a, published_at=long_ago())
    for p in top:
        consume(scope_a, p, asset, TODAY - dt.timedelta(days=150))
    run = mine_patterns(tenant=scope_a, as_of=TODAY)
    assert run.top_n == 4
    item = PatternItem.objects.get(run=run, asset=asset)
    assert item.top_count == 4 and item.too_early and item.lift is None and not item.significant


def test_too_early_items_rank_last_and_show_as_such(client, login, manager_a, tenant_a):
    today = timezone.localdate()
    with scope(tenant=tenant_a.pk):
        top, others = build_world(tenant_a, today=today)
        old = f.AssetFactory(tenant=tenant_a, title="Known deck", kind="document", published_at=long_ago())
        new = f.AssetFactory(tenant=tenant_a, title="Brand-new deck", kind="document", published_at=at(today - dt.timedelta(days=10)))
        for p in top:
            consume(tenant_a, p, old, today - dt.timedelta(days=150))
        for p in others[:5]:
            consume(tenant_a, p, new, today - dt.timedelta(days=5))
        run = mine_patterns(tenant=tenant_a)
        ranked = list(PatternItem.objects.filter(run=run).order_by("rank").values_list("asset__title", flat=True))
    assert ranked == ["Known deck", "Brand-new deck"]
    login(manager_a)
    body = client.get(reverse("manage-patterns", kwargs={"tenant_slug": tenant_a.slug})).content.decode()
    assert "判断には早い" in body  # the tenant's language: Japanese


def _facts(tenant, partner, days_and_counts):
    DailyActivityFact.objects.bulk_create([
        DailyActivityFact(tenant=tenant, partner=partner, day=day, verb="portal.login", event_count=n, user_count=1)
        for day, n in days_and_counts
    ])


def test_adoption_measures_only_after_a_full_week(scope_a):
    top, others = build_world(scope_a)
    a1 = f.AssetFactory(tenant=scope_a, published_at=long_ago())
    path = f.LearningPathFactory(tenant=scope_a, is_playbook=True, created_at=long_ago())
    f.LearningPathItemFactory(tenant=scope_a, path=path, asset=a1, position=1)
    laggard = others[0]
    assigned_day = timezone.localdate()
    playbook_assign(tenant=scope_a, path=path, partners=[laggard], due_on=assigned_day + dt.timedelta(days=30), actor=None)
    from enablement.models import Assignment

    Assignment.objects.filter(source="playbook").update(created_at=at(assigned_day))
    # 14 events in the two weeks before, 1 on the assignment day itself (left out), 21 in the week after
    _facts(scope_a, laggard, [(assigned_day - dt.timedelta(days=k), 1) for k in range(1, 15)])
    _facts(scope_a, laggard, [(assigned_day, 1)])
    _facts(scope_a, laggard, [(assigned_day + dt.timedelta(days=k), 3) for k in range(1, 8)])

    minutes_after = playbook_adoption(tenant=scope_a, path=path, today=assigned_day)
    assert minutes_after[0].measuring and minutes_after[0].events_per_week_after is None
    six_days = playbook_adoption(tenant=scope_a, path=path, today=assigned_day + dt.timedelta(days=7))
    assert six_days[0].measuring  # days 1..6 complete, the 7th (today) not over
    week = playbook_adoption(tenant=scope_a, path=path, today=assigned_day + dt.timedelta(days=8))[0]
    assert not week.measuring and week.days == 7
    assert (week.events_per_week_before, week.events_per_week_after) == (7.0, 21.0)
    assert (week.deals_before, week.deals_after) == (0, 0)
    assert adoption_window(assigned_day, assigned_day + dt.timedelta(days=15)) == 14
    assert adoption_window(assigned_day, assigned_day + dt.timedelta(days=400)) == 56
