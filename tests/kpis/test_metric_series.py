"""``metric_series``: the last N periods of a metric for the filtered partners in one grouped query.

Each point equals the single-period computation (``metric_values``) of its period — partners as
they were on the period's last day, counted from ``joined_on``, pairs as targeted, certificates at
the period's end — and, where it applies, the brute-force oracle over the raw log; filters change
the series; the number of queries is the same for 6 and for 60 partners and for 4 and 12 periods."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_scopes import scope

from enablement.certifications.models import Certificate
from enablement.models import AssetKind, AssignmentTarget
from enablement.services.log import activity_record_many
from kpis import metrics
from kpis.metrics import metric_series, metric_values, series_periods
from kpis.models import (
    DailyActivityFact,
    FaqSearchFact,
    KpiDefinition,
    Metric,
    PartnerAssetState,
    UserAssetState,
)
from kpis.periods import period_bounds
from kpis.targeting import pairs_freeze, partners_snapshot
from partners.models import Partner, SupportActivity
from tests import factories as f
from tests.certifications.test_coverage_kpis import build_world
from tests.kpis import brute
from tests.kpis.test_rollup_properties import TODAY, VERBS, World

pytestmark = pytest.mark.django_db

ALL_METRICS = list(Metric.values)
LEARNING_VERBS = ["training.completed", "assessment.passed", "assessment.failed", "document.viewed", "document.downloaded"]


def _today(tenant) -> dt.date:
    return timezone.now().astimezone(tenant.zoneinfo).date()


def grow(tenant, admin, *, partners: int, seed: int) -> dict:
    """``partners`` partners (tiers, segments, statuses and join dates spread over the last year)
    with a year of facts, training states, FAQ searches, support activities, assignments and
    certificates. Then a snapshot of who they were, and a few of them change tier and segment today
    — closed periods keep the old ones."""
    rng = random.Random(seed)
    gold, silver = build_world(tenant, admin, partners=partners, seed=seed)
    today = _today(tenant)
    with scope(tenant=tenant.pk):
        ids = list(Partner.objects.filter(tenant=tenant, name__startswith=f"P{seed}-").order_by("pk").values_list("pk", flat=True))
        for pid in ids:
            Partner.objects.filter(pk=pid).update(
                joined_on=today - dt.timedelta(days=rng.randint(0, 400)),
                segment=rng.choice(["SMB", "Enterprise"]),
                status=rng.choice(["active", "active", "nurturing", "dormant"]),
            )
        assets = [
            f.AssetFactory(tenant=tenant, kind=kind, published_at=timezone.now() - dt.timedelta(days=rng.randint(0, 500)))
            for kind in (AssetKind.TRAINING, AssetKind.DOCUMENT, AssetKind.ASSESSMENT, AssetKind.TRAINING, AssetKind.DOCUMENT)
        ]
        assets.append(f.AssetFactory(tenant=tenant, kind=AssetKind.DOCUMENT, published_at=None))
        user = f.UserFactory()
        facts, states, searches, support, seen = [], [], [], [], set()
        for pid in ids:
            for _ in range(rng.randint(2, 14)):
                day = today - dt.timedelta(days=rng.randint(0, 370))
                asset = rng.choice(assets)
                verb = rng.choice(LEARNING_VERBS)
                if (day, pid, asset.pk, verb) in seen:
                    continue
                seen.add((day, pid, asset.pk, verb))
                facts.append(DailyActivityFact(tenant=tenant, partner_id=pid, asset=asset, day=day, verb=verb,
                                               event_count=rng.randint(1, 5), user_count=1))
            for asset in assets[:3]:
                if rng.random() < 0.6:
                    first = timezone.now() - dt.timedelta(days=rng.randint(0, 380), hours=rng.randint(0, 23))
                    done = first + dt.timedelta(days=rng.randint(0, 60)) if rng.random() < 0.6 else None
                    states.append(UserAssetState(tenant=tenant, user=user, partner_id=pid, asset=asset,
                                                 first_activity_at=first, last_activity_at=first,
                                                 first_completed_at=done if done and done < timezone.now() else None))
            for day in {today - dt.timedelta(days=rng.randint(0, 370)) for _ in range(rng.randint(0, 3))}:
                searches.append(FaqSearchFact(tenant=tenant, partner_id=pid, day=day, query="vpn",
                                              searches=rng.randint(1, 6), unresolved_searches=rng.randint(0, 1)))
            support += [SupportActivity(tenant=tenant, partner_id=pid, kind="meeting",
                                        occurred_on=today - dt.timedelta(days=rng.randint(0, 370)), duration_minutes=30)
                        for _ in range(rng.randint(0, 3))]
        DailyActivityFact.objects.bulk_create(facts)
        UserAssetState.objects.bulk_create(states)
        FaqSearchFact.objects.bulk_create(searches)
        SupportActivity.objects.bulk_create(support)
        PartnerAssetState.objects.bulk_create([
            PartnerAssetState(tenant=tenant, partner_id=s.partner_id, asset=s.asset, active_users=1,
                              first_completed_at=s.first_completed_at, last_activity_at=s.last_activity_at)
            for s in states if s.first_completed_at
        ])
        for k, asset in enumerate(assets[:3]):
            f.AssignmentFactory(tenant=tenant, asset=asset, target=AssignmentTarget.TIER, partner=None,
                                tier=gold if k % 2 == 0 else silver, due_on=today - dt.timedelta(days=40 * k + 3))
        f.AssignmentFactory(tenant=tenant, asset=assets[3], target=AssignmentTarget.SEGMENT, partner=None,
                            segment="SMB", due_on=today - dt.timedelta(days=95))
        # who was targeted, fixed through yesterday; then some partners move today
        yesterday = today - dt.timedelta(days=1)
        partners_snapshot(tenant=tenant, through=yesterday)
        pairs_freeze(tenant=tenant, through=yesterday)
        for pid in ids[::4]:
            p = Partner.objects.get(pk=pid)
            p.tier = silver if p.tier_id == gold.pk else gold
            p.segment = "Enterprise" if p.segment == "SMB" else "SMB"
            p.save()
    return {"gold": gold, "silver": silver, "ids": ids, "today": today}


def _definitions(tenant, gold) -> list[KpiDefinition]:
    out = []
    with scope(tenant=tenant.pk):
        for metric in ALL_METRICS:
            out.append(f.KpiDefinitionFactory(tenant=tenant, metric=metric, period="month", target=Decimal("50")))
        out.append(f.KpiDefinitionFactory(tenant=tenant, metric=Metric.ACTIVE_PARTNER_RATE, period="month", tier=gold))
        out.append(f.KpiDefinitionFactory(tenant=tenant, metric=Metric.CONTENT_UTILISATION, period="quarter", segment="SMB"))
        out.append(f.KpiDefinitionFactory(tenant=tenant, metric=Metric.CERTIFIED_PARTNER_RATE, period="week", tier=gold))
        out.append(f.KpiDefinitionFactory(tenant=tenant, metric=Metric.ENABLEMENT_COMPLETION_RATE, period="quarter", tier=gold))
        out.append(f.KpiDefinitionFactory(tenant=tenant, metric=Metric.DOCUMENT_DOWNLOADS, period="week", segment="SMB"))
    return out


def _single(tenant, definition, periods, partner_ids=None):
    ctx = metrics.new_context(tenant)
    return [metric_values(tenant, definition, s, e, ctx=ctx, partner_ids=partner_ids)[0] for s, e in periods]


def _cells(points):
    return [(p.cell.numerator, p.cell.denominator, p.cell.value) for p in points]


def _as_tuples(cells):
    return [(c.numerator, c.denominator, c.value) for c in cells]


@pytest.fixture
def world(tenant_a, admin_a):
    data = grow(tenant_a, admin_a.user, partners=24, seed=7)
    data["definitions"] = _definitions(tenant_a, data["gold"])
    return data


def test_every_point_equals_the_single_period_computation(tenant_a, world):
    today = world["today"]
    with scope(tenant=tenant_a.pk):
        for definition in world["definitions"]:
            periods = series_periods(definition.period, *period_bounds(definition.period, today))
            assert len(periods) == 12 and periods[-1][0] <= today <= periods[-1][1]
            series = metric_series(tenant_a, definition, periods)
            assert [(p.start, p.end) for p in series] == periods
            assert _cells(series) == _as_tuples(_single(tenant_a, definition, periods)), (definition.metric, definition.period)
        # the data really varies: most series are not flat
        flat = [
            d.metric for d in world["definitions"]
            if len({p.cell.value for p in metric_series(tenant_a, d, series_periods(d.period, *period_bounds(d.period, today)))}) < 2
        ]
        assert len(flat) <= 2, flat


def test_a_custom_range_gives_windows_of_its_length(tenant_a, world):
    today = world["today"]
    start, end = today - dt.timedelta(days=44), today - dt.timedelta(days=5)
    periods = series_periods("custom", start, end)
    assert periods[-1] == (start, end) and all((e - s).days == 39 for s, e in periods)
    assert all(periods[i][1] + dt.timedelta(days=1) == periods[i + 1][0] for i in range(11))
    with scope(tenant=tenant_a.pk):
        for definition in world["definitions"][: len(ALL_METRICS)]:
            series = metric_series(tenant_a, definition, periods)
            assert _cells(series) == _as_tuples(_single(tenant_a, definition, periods)), definition.metric


def test_filters_change_the_series_and_still_equal_the_single_period(tenant_a, world):
    today = world["today"]
    with scope(tenant=tenant_a.pk):
        nurturing = list(Partner.objects.filter(tenant=tenant_a, status="nurturing").values_list("pk", flat=True))
        half = world["ids"][::2]
        changed = set()
        for definition in world["definitions"]:
            periods = series_periods(definition.period, *period_bounds(definition.period, today))
            everyone = _cells(metric_series(tenant_a, definition, periods))
            for chosen in (nurturing, half, []):
                filtered = _cells(metric_series(tenant_a, definition, periods, partner_ids=chosen))
                assert filtered == _as_tuples(_single(tenant_a, definition, periods, chosen)), definition.metric
                if filtered != everyone:
                    changed.add(definition.metric)
    assert changed == set(ALL_METRICS)


def test_a_partner_that_moved_tier_today_counts_under_its_old_tier_in_closed_periods(tenant_a, world):
    """A quarter of the partners moved tier today: a Gold-filtered series counts them under Gold up
    to last month and under their new tier this month — exactly as the single-period computation."""
    today = world["today"]
    with scope(tenant=tenant_a.pk):
        definition = f.KpiDefinitionFactory(tenant=tenant_a, metric=Metric.SUPPORT_ACTIVITIES_PER_PARTNER, tier=world["gold"])
        periods = series_periods("month", *period_bounds("month", today))
        series = metric_series(tenant_a, definition, periods)
        moved = world["ids"][::4]
        gold_now = set(Partner.objects.filter(tenant=tenant_a, tier=world["gold"]).values_list("pk", flat=True))
        ctx = metrics.new_context(tenant_a)
        span = metrics.Span.of(*periods[-2], tenant_a.zoneinfo)
        gold_last_month = set(ctx.partner_ids(definition, span))
        assert gold_last_month & set(moved) and gold_last_month - gold_now  # someone left Gold today
        assert _cells(series) == _as_tuples(_single(tenant_a, definition, periods))
        # last month's denominator is last month's Gold partners, not today's
        assert series[-2].cell.denominator == Decimal(len(gold_last_month))


@pytest.mark.parametrize("metric", ALL_METRICS)
def test_query_count_is_constant_from_few_to_many_partners_and_periods(metric, tenant_a, admin_a, django_assert_num_queries):
    """With the context warm (as on the overview, where the card's own period was just computed),
    a series costs one query — none for the completion rate and the median days, which read what
    the context caches — for 6 or 60 partners and for 4 or 12 periods."""
    counts = []
    data = grow(tenant_a, admin_a.user, partners=6, seed=3)
    for grow_to in (None, 60):
        if grow_to:
            grow(tenant_a, admin_a.user, partners=grow_to - 6, seed=4)
        with scope(tenant=tenant_a.pk):
            definition = f.KpiDefinitionFactory(tenant=tenant_a, metric=metric, tier=data["gold"])
            start, end = period_bounds("month", data["today"])
            for points in (4, 12):
                ctx = metrics.new_context(tenant_a)
                metric_values(tenant_a, definition, start, end, ctx=ctx, partner_ids=data["ids"])  # warm
                periods = series_periods("month", start, end, points)
                with CaptureQueriesContext(connection) as queries:
                    series = metric_series(tenant_a, definition, periods, ctx=ctx, partner_ids=data["ids"])
                assert len(series) == points
                counts.append(len(queries.captured_queries))
    expected = 0 if metric in metrics.FROM_CONTEXT else 1
    assert counts == [expected] * 4, counts


def test_no_query_per_period_in_the_sql(tenant_a, world):
    """The period is a CASE in one GROUP BY: the statement holds every period's bounds once."""
    today = world["today"]
    with scope(tenant=tenant_a.pk):
        definition = next(d for d in world["definitions"] if d.metric == Metric.FAQ_UNRESOLVED_RATE)
        periods = series_periods("month", *period_bounds("month", today))
        ctx = metrics.new_context(tenant_a)
        ctx.partners  # noqa: B018 — the dimension rows, read once per page
        ctx.history  # noqa: B018
        with CaptureQueriesContext(connection) as queries:
            metric_series(tenant_a, definition, periods, ctx=ctx)
    assert len(queries.captured_queries) == 1
    sql = queries.captured_queries[0]["sql"].upper()
    assert "CASE" in sql and "GROUP BY" in sql and sql.count("WHEN") == 12  # evaluated once


# --- against the brute-force oracle (the raw log) ------------------------------------------------------


def _events(world, seed: int, n: int = 60):
    rng = random.Random(seed)
    specs = [
        (rng.randint(0, 2), rng.choice([None, 0, 1, 2]), rng.choice(VERBS), rng.randint(0, 4),
         rng.randint(0, 4 * 24 * 4), rng.choice([None, 50.0, 100.0]), rng.choice([None, 30.5]),
         rng.choice(["VPN", "料金 プラン"]), rng.choice([None, 0, 3]), rng.choice([None, True, False]))
        for _ in range(n)
    ]
    return world.events(specs)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_series_equals_the_brute_force_oracle(seed):
    world = World()
    events = _events(world, seed)
    with scope(tenant=world.tenant.pk):
        activity_record_many(tenant=world.tenant, events=events)
    world.run()  # rollup + KPIs (freezes pairs and partners through 2 March 2026)
    expected = world.expected(events)["results"]
    with scope(tenant=world.tenant.pk):
        for definition in world.definitions:
            # the oracle knows the two periods the World computes; the series reaches further back
            periods = series_periods(definition.period, *period_bounds(definition.period, TODAY), points=4)
            series = metric_series(world.tenant, definition, periods)
            assert _cells(series) == _as_tuples(_single(world.tenant, definition, periods)), definition.metric
            for point in series[-2:]:
                assert (point.cell.numerator, point.cell.denominator, point.cell.value) == expected[
                    (definition.pk, point.start, None)
                ], (definition.metric, definition.period, point.start)
            # before anyone joined or anything happened: the oracle's empty periods
            partners = {p.pk: (p.status, p.joined_on) for p in world.partners}
            first = brute.kpi(definition.metric, events=events, partners=partners,
                              assets={a.pk: (a.kind, a.status == "published") for a in world.assets},
                              pairs=world.pairs, supports=world.supports, start=series[0].start, end=series[0].end,
                              zone=world.zone)[0]
            if definition.tier_id is None and not definition.segment and definition.metric != "content_utilisation":
                assert (series[0].cell.numerator, series[0].cell.denominator, series[0].cell.value) == first, definition.metric


def test_certificates_at_each_period_end(tenant_a, admin_a, partner_user_a):
    """A certificate valid from 10 January to 10 February 2026 covers January's end only: the
    series reads validity at each period's end, like the single-period computation."""
    with scope(tenant=tenant_a.pk):
        from enablement.certifications import services

        Partner.objects.filter(pk=partner_user_a.partner_id).update(joined_on=dt.date(2025, 11, 1))
        a = f.AssetFactory(tenant=tenant_a)
        cert = services.certification_create(tenant=tenant_a, actor=admin_a.user, name="C", required_assets=[a])
        Certificate.objects.create(
            tenant=tenant_a, certification=cert, holder=partner_user_a.user, partner=partner_user_a.partner,
            issued_at=dt.datetime(2026, 1, 10, tzinfo=dt.UTC), expires_at=dt.datetime(2026, 2, 10, tzinfo=dt.UTC),
            renewable_from=dt.datetime(2026, 1, 20, tzinfo=dt.UTC),
        )
        rate = f.KpiDefinitionFactory(tenant=tenant_a, metric=Metric.CERTIFIED_PARTNER_RATE)
        expiring = f.KpiDefinitionFactory(tenant=tenant_a, metric=Metric.EXPIRING_CERTIFICATES)
        periods = series_periods("month", dt.date(2026, 3, 1), dt.date(2026, 3, 31), points=5)
        rates = [p.cell.value for p in metric_series(tenant_a, rate, periods)]
        soon = [p.cell.value for p in metric_series(tenant_a, expiring, periods)]
    # Nov: joined, no certificate; Dec: none; Jan: valid at its end; Feb, Mar: expired
    assert rates == [Decimal("0.0000"), Decimal("0.0000"), Decimal("100.0000"), Decimal("0.0000"), Decimal("0.0000")]
    assert soon == [Decimal("0.0000"), Decimal("0.0000"), Decimal("1.0000"), Decimal("0.0000"), Decimal("0.0000")]


# --- the filter bar's partners as a sub-query (the overview's live cards) -----------------------------


def _history(tenant, world) -> None:
    """More history than one snapshot per partner: some partners changed tier, segment or status
    (dormant, or none recorded) 150 and 60 days ago, and two joined only 20 days ago — so each kind
    of period reads the latest snapshot from before its end, the first one, or the live row."""
    from kpis.models import PartnerSnapshot

    today, gold, silver = world["today"], world["gold"], world["silver"]
    added = 0
    with scope(tenant=tenant.pk):
        for i, pid in enumerate(world["ids"][1::3]):
            first = PartnerSnapshot.objects.filter(tenant=tenant, partner_id=pid).order_by("since").first()
            for days, status in ((150, "dormant" if i % 2 else ""), (60, "active" if i % 2 else "dormant")):
                since = today - dt.timedelta(days=days)
                if first is None or since <= first.since:
                    continue
                added += 1
                PartnerSnapshot.objects.create(
                    tenant=tenant, partner_id=pid, since=since, tier=gold if (i + days // 100) % 2 else silver,
                    segment="SMB" if (i + days // 100) % 3 else "Enterprise", status=status,
                )
        Partner.objects.filter(pk__in=world["ids"][2:4]).update(joined_on=today - dt.timedelta(days=20))
    assert added >= 6


def test_partners_as_a_sub_query_give_the_id_lists_series(tenant_a, world):
    """``metric_series(partners=<QuerySet>)`` decides who counts in each period in the database (the
    snapshot in force at the period's end, joined_on, dormant for the active rate): every point equals
    the series over the same partners as an id list and the single-period computation — for every
    metric, the definitions' tiers and segments, the filter bar's partners, the periods of every kind,
    a custom range and a single to-date window (the card's comparison)."""
    _history(tenant_a, world)
    today = world["today"]
    with scope(tenant=tenant_a.pk):
        extra = [
            f.KpiDefinitionFactory(tenant=tenant_a, metric=metric, period="month", tier=world["silver"], segment="SMB")
            for metric in (Metric.ACTIVE_PARTNER_RATE, Metric.SUPPORT_ACTIVITIES_PER_PARTNER, Metric.DOCUMENT_VIEWS)
        ]
        choices = [Q(), Q(status="nurturing"), Q(pk__in=world["ids"][::2]), Q(pk__in=[])]
        compared = 0
        for definition in [*world["definitions"], *extra]:
            own = series_periods(definition.period, *period_bounds(definition.period, today))
            spans = [own, series_periods("custom", today - dt.timedelta(days=44), today - dt.timedelta(days=5)),
                     [(own[-2][0], own[-2][0] + (today - own[-1][0]))]]
            for periods in spans:
                for q in choices:
                    chosen = Partner.objects.filter(q, tenant=tenant_a).order_by().values("id")
                    ids = list(chosen.values_list("id", flat=True))
                    got = _cells(metric_series(tenant_a, definition, periods, partners=chosen))
                    assert got == _cells(metric_series(tenant_a, definition, periods, partner_ids=ids)), (
                        definition.metric, definition.tier_id, definition.segment, periods[0], q)
                    assert got == _as_tuples(_single(tenant_a, definition, periods, ids)), definition.metric
                    compared += sum(1 for _n, d, _v in got if d)
        assert compared > 500  # figures, not only empty periods


@pytest.mark.parametrize("metric", sorted(set(metrics.SERIES) - set(metrics.PER_PARTNER_SERIES)))
def test_a_sub_query_of_partners_sends_no_partner_id(metric, tenant_a, admin_a):
    """The same statements, with the same parameters, for 6 and for 60 partners (the id list grew
    with them: one parameter per partner), and no partner row read into Python: one statement, and
    one more counting each period's partners for the two per-partner rates (their denominators)."""
    data = grow(tenant_a, admin_a.user, partners=6, seed=3)
    seen = []
    for grow_to in (None, 60):
        if grow_to:
            grow(tenant_a, admin_a.user, partners=grow_to - 6, seed=4)
        with scope(tenant=tenant_a.pk):
            definition = f.KpiDefinitionFactory(tenant=tenant_a, metric=metric, tier=data["gold"])
            periods = series_periods("month", *period_bounds("month", data["today"]))
            chosen = Partner.objects.filter(tenant=tenant_a, status__in=["active", "dormant"]).order_by().values("id")
            ctx = metrics.new_context(tenant_a)
            statements = []

            def record(execute, sql, params, many, context, statements=statements):
                statements.append((sql, len(params or ())))
                return execute(sql, params, many, context)

            with connection.execute_wrapper(record):
                metric_series(tenant_a, definition, periods, ctx=ctx, partners=chosen)
        assert ctx._partners is None and ctx._history is None  # neither the partners nor their snapshots read
        seen.append(statements)  # each statement's text and number of parameters
    assert len(seen[0]) == 2 + (metric in (Metric.ACTIVE_PARTNER_RATE, Metric.SUPPORT_ACTIVITIES_PER_PARTNER))
    assert seen[0] == seen[1]
