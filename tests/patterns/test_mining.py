import datetime as dt

import pytest

from kpis.patterns.mining import mine_patterns, risk_ratio_ci
from kpis.patterns.models import PatternItem, PatternItemType, PatternRun
from kpis.patterns.selectors import partner_cohorts
from tests import factories as f
from tests.patterns.helpers import TODAY, build_world, consume, long_ago

pytestmark = pytest.mark.django_db


def test_risk_ratio_katz_interval():
    lift, low, high = risk_ratio_ci(30, 50, 15, 50)
    assert lift == pytest.approx(2.0)
    assert low == pytest.approx(1.24, abs=0.01) and high == pytest.approx(3.23, abs=0.01)
    # zero cell → continuity correction, finite interval
    lift, low, high = risk_ratio_ci(5, 5, 0, 20)
    assert low > 1 and high < 1e4
    assert risk_ratio_ci(0, 5, 0, 20) == (None, None, None)


def test_cohorts_top_share_and_nurture(scope_a):
    top, others = build_world(scope_a)
    c = partner_cohorts(tenant=scope_a, window_days=365, top_share=0.2, as_of=TODAY)
    assert {r.partner.pk for r in c.top} == {p.pk for p in top}
    nurture = c.nurture_ids
    # status nurturing (4) and the bottom cohort (no wins: others 0..9) are nurtured; small winners are not
    assert {p.pk for p in others[:10]} <= nurture
    assert not ({p.pk for p in others[10:]} & nurture)


def test_cohort_overrides(scope_a):
    top, others = build_world(scope_a)
    top[0].cohort_override = "exclude"
    top[0].save()
    others[15].cohort_override = "top"
    others[15].save()
    others[19].cohort_override = "nurture"
    others[19].save()
    c = partner_cohorts(tenant=scope_a, as_of=TODAY)
    assert top[0].pk not in c.top_ids | c.nurture_ids
    assert others[15].pk in c.top_ids
    assert others[19].pk in c.nurture_ids


def test_planted_asset_ranked_first_and_equal_asset_contains_one(scope_a):
    top, others = build_world(scope_a)
    planted = f.AssetFactory(tenant=scope_a, published_at=long_ago(), title="Masterclass")
    equal = f.AssetFactory(tenant=scope_a, published_at=long_ago(), title="Equal", kind="document")
    before_first_win = TODAY - dt.timedelta(days=130)
    for p in top:
        consume(scope_a, p, planted, before_first_win)
    for p in top[:3]:
        consume(scope_a, p, equal, before_first_win)
    for p in others[:12]:
        consume(scope_a, p, equal, TODAY - dt.timedelta(days=10))
    run = mine_patterns(tenant=scope_a, as_of=TODAY)
    assert run.status == PatternRun.Status.OK
    assert (run.top_n, run.other_n) == (5, 20)
    items = list(PatternItem.objects.filter(run=run).order_by("rank"))
    first = items[0]
    assert first.asset_id == planted.pk and first.rank == 1
    assert first.top_count == 5 and first.other_count == 0
    assert first.ci_low > 1 and first.significant
    eq = next(i for i in items if i.asset_id == equal.pk)
    assert eq.share_top == pytest.approx(0.6) and eq.share_other == pytest.approx(0.6)
    assert eq.ci_low < 1 < eq.ci_high
    assert first.median_days_from_joining == 400 - 130
    assert run.window_end == TODAY and run.window_start == TODAY - dt.timedelta(days=364)


def test_events_after_first_win_are_not_before(scope_a):
    top, others = build_world(scope_a)
    after = f.AssetFactory(tenant=scope_a, published_at=long_ago(), title="After the win")
    for p in top:  # first win is TODAY-100: these are after it
        consume(scope_a, p, after, TODAY - dt.timedelta(days=90))
    consume(scope_a, others[0], after, TODAY - dt.timedelta(days=90))
    run = mine_patterns(tenant=scope_a, as_of=TODAY)
    item = PatternItem.objects.get(run=run, asset=after)
    assert item.top_count == 0 and item.other_count == 1
    assert item.share_top == 0
    assert not item.significant


def test_started_training_is_not_consumed_but_viewed_document_is(scope_a):
    top, others = build_world(scope_a)
    training = f.AssetFactory(tenant=scope_a, published_at=long_ago(), kind="training")
    doc = f.AssetFactory(tenant=scope_a, published_at=long_ago(), kind="document")
    for p in top:
        consume(scope_a, p, training, TODAY - dt.timedelta(days=150), completed=False)
        consume(scope_a, p, doc, TODAY - dt.timedelta(days=150))  # viewing a document completes it (rollup state)
    run = mine_patterns(tenant=scope_a, as_of=TODAY)
    assert not PatternItem.objects.filter(run=run, asset=training).exists()
    assert PatternItem.objects.get(run=run, asset=doc).top_count == 5


def test_learning_path_and_support_kind_and_order(scope_a):
    top, others = build_world(scope_a)
    a1 = f.AssetFactory(tenant=scope_a, published_at=long_ago(), title="Step 1")
    a2 = f.AssetFactory(tenant=scope_a, published_at=long_ago(), title="Step 2")
    path = f.LearningPathFactory(tenant=scope_a, title="Sales path", created_at=long_ago())
    f.LearningPathItemFactory(tenant=scope_a, path=path, asset=a1, position=1)
    f.LearningPathItemFactory(tenant=scope_a, path=path, asset=a2, position=2)
    for p in top:
        consume(scope_a, p, a1, TODAY - dt.timedelta(days=200))
        consume(scope_a, p, a2, TODAY - dt.timedelta(days=150))
        f.SupportActivityFactory(tenant=scope_a, partner=p, kind="co_selling", occurred_on=TODAY - dt.timedelta(days=180))
    run = mine_patterns(tenant=scope_a, as_of=TODAY)
    by_key = {(i.item_type, i.asset_id, i.path_id, i.activity_kind): i for i in PatternItem.objects.filter(run=run)}
    s1 = by_key[(PatternItemType.ASSET, a1.pk, None, "")]
    s2 = by_key[(PatternItemType.ASSET, a2.pk, None, "")]
    assert s1.typical_order == 1 and s2.typical_order == 3
    kind = by_key[(PatternItemType.SUPPORT_ACTIVITY_KIND, None, None, "co_selling")]
    assert kind.top_count == 5 and kind.typical_order == 2
    lp = by_key[(PatternItemType.LEARNING_PATH, None, path.pk, "")]
    assert lp.top_count == 5 and lp.significant


def test_insufficient_data(scope_a):
    f.PartnerFactory(tenant=scope_a)
    run = mine_patterns(tenant=scope_a, as_of=TODAY)
    assert run.status == PatternRun.Status.INSUFFICIENT


def test_mining_is_per_tenant(tenant_a, tenant_b):
    from django_scopes import scope

    with scope(tenant=tenant_b.pk):
        top_b, _ = build_world(tenant_b)
        asset_b = f.AssetFactory(tenant=tenant_b)
        for p in top_b:
            consume(tenant_b, p, asset_b, TODAY - dt.timedelta(days=130))
    with scope(tenant=tenant_a.pk):
        build_world(tenant_a)
        run = mine_patterns(tenant=tenant_a, as_of=TODAY)
        assert not PatternItem.objects.filter(run=run, asset_id=asset_b.pk).exists()


def test_celery_task_runs_per_tenant(tenant_a):
    from django_scopes import scope

    from kpis.patterns.tasks import mine_patterns_all_tenants, mine_patterns_tenant

    with scope(tenant=tenant_a.pk):
        build_world(tenant_a)
    run_id = mine_patterns_tenant.delay(tenant_a.pk, 365, 20, "deals").get()
    with scope(tenant=tenant_a.pk):
        run = PatternRun.objects.get(pk=run_id)
    assert run.tenant_id == tenant_a.pk and run.metric == "deals" and float(run.top_share) == 0.2
    assert mine_patterns_all_tenants.delay().get() >= 1
