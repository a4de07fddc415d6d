"""The overview computed in SQL gives exactly what the Python expansion gave.

``targeted_pairs_sql`` (and ``assigned_pairs_sql``) must select the same rows as
``targeted_pairs`` / ``assigned_pairs`` — audiences, tiers, segments and paths as fixed per period
(frozen pairs, then live ones), joined_on, asset status, duplicate assignments merged — and
``selectors.overview`` must give the same tier table, totals and at-risk list as the Python
computation it replaced (kept below as the reference), on varied data and filters.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

import pytest
from django.db import connection
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_scopes import scope

from enablement.completion import pair_done_by
from enablement.models import Asset, AssetKind, AssetStatus, AssignmentTarget, AudienceRule
from enablement.pairs import AssignmentPair, assigned_pairs, assigned_pairs_sql, assignment_pairs
from kpis.dashboards import selectors
from kpis.dashboards.filters import parse_filters
from kpis.models import DailyActivityFact, PartnerAssetState, UserAssetState
from kpis.periods import Span
from kpis.targeting import (
    NOT_DONE,
    PairCount,
    count_pairs,
    pair_completions,
    pair_matches,
    pairs_freeze,
    targeted_pairs,
    targeted_pairs_sql,
)
from partners.models import Partner, PartnerTier, User
from tests import factories as f

# Names that sort differently by code point and by a linguistic collation (the at-risk list ties
# are broken by name as Python compares strings).
NAMES = ["alpha", "Beta", "beta", "Zeta", "ärger", "Östra", "ベータ", "アルファ", "_under", "10 Co", "9 Co", "Émile"]
# (previous, recent) 30-day event counts whose change rounds on a half (−0.15, −1.25, −0.25, −0.05 …):
# where a float's rounding decides which partners tie on the shown change.
HALVES = [(2000, 1997), (80, 79), (400, 399), (2000, 1999), (40, 38), (16, 13), (8, 4), (10, 5), (0, 7), (3, 0)]


def _rows(sql: str, params: list) -> list[AssignmentPair]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return sorted(
        AssignmentPair(r[0], r[1], r[2] if isinstance(r[2], dt.date) else dt.date.fromisoformat(str(r[2])), r[3], r[4], r[5],
                       r[6], r[7] or "")
        for r in rows
    )


def build_varied(tenant, seed: int) -> dict:
    """Partners in and out of tiers, segments and audiences, joined before and after due dates;
    assignments to partners, tiers and segments, of assets and a learning path, active or not, on a
    published and an archived asset, some pairs assigned twice with other terms; a freeze, then
    tiers, segments and an asset's status changed; completions by partners and users before and
    after due dates; 60 days of facts with changes that round on a half."""
    rng = random.Random(seed)
    today = timezone.localdate()
    with scope(tenant=tenant.pk):
        tiers = [f.PartnerTierFactory(tenant=tenant, name=n, rank=i + 1) for i, n in enumerate(["Gold", "Silver", "Bronze"])]
        assets = [
            f.AssetFactory(tenant=tenant, kind=[AssetKind.TRAINING, AssetKind.DOCUMENT, AssetKind.FAQ][i % 3], title=f"Asset {i}")
            for i in range(9)
        ]
        archived = f.AssetFactory(tenant=tenant, kind=AssetKind.DOCUMENT, title="Old deck", status=AssetStatus.ARCHIVED)
        path = f.LearningPathFactory(tenant=tenant, title="Onboarding")
        for asset in assets[5:8]:
            f.LearningPathItemFactory(tenant=tenant, path=path, asset=asset)
        partners = []
        for i in range(36):
            partners.append(
                f.PartnerFactory(
                    tenant=tenant, name=f"{NAMES[i % len(NAMES)]} {i // len(NAMES)}" if i % 5 else NAMES[i % len(NAMES)],
                    tier=rng.choice([*tiers, None]), segment=rng.choice(["SMB", "Enterprise", ""]),
                    status=rng.choice(["active", "nurturing", "onboarding", "dormant"]),
                    joined_on=today - dt.timedelta(days=rng.choice([400, 200, 90, 40, 10, 0])),
                )
            )
        # audiences: one asset for a tier, one for a segment, one for two partners
        AudienceRule.objects.create(tenant=tenant, asset=assets[1], tier=tiers[0])
        AudienceRule.objects.create(tenant=tenant, asset=assets[2], segment="Enterprise")
        AudienceRule.objects.create(tenant=tenant, asset=assets[3], partner=partners[0])
        AudienceRule.objects.create(tenant=tenant, asset=assets[3], partner=partners[7])

        def assign(**kw):
            target = rng.choice([AssignmentTarget.PARTNER, AssignmentTarget.TIER, AssignmentTarget.SEGMENT])
            who = {"partner": rng.choice(partners), "tier": None, "segment": ""} if target == AssignmentTarget.PARTNER else (
                {"partner": None, "tier": rng.choice(tiers), "segment": ""} if target == AssignmentTarget.TIER
                else {"partner": None, "tier": None, "segment": rng.choice(["SMB", "Enterprise"])}
            )
            what = {"asset": None, "learning_path": path} if rng.random() < 0.2 else {
                "asset": rng.choice([*assets, archived]), "learning_path": None}
            return f.AssignmentFactory(
                tenant=tenant, target=target, **who, **what,
                due_on=today + dt.timedelta(days=rng.randint(-120, 45)), required_completions=rng.choice([1, 1, 2, 3]),
                is_active=rng.random() > 0.1, **kw,
            )

        for _ in range(24):
            assign()
        # the same pairs twice: every SMB partner and every Gold partner get asset 0 with other terms
        f.AssignmentFactory(tenant=tenant, target=AssignmentTarget.SEGMENT, partner=None, tier=None, segment="SMB",
                            asset=assets[0], due_on=today - dt.timedelta(days=50), required_completions=1)
        f.AssignmentFactory(tenant=tenant, target=AssignmentTarget.TIER, partner=None, tier=tiers[0], asset=assets[0],
                            due_on=today - dt.timedelta(days=20), required_completions=3)
        f.AssignmentFactory(tenant=tenant, target=AssignmentTarget.TIER, partner=None, tier=tiers[0], asset=assets[0],
                            due_on=today - dt.timedelta(days=50), required_completions=2)
        # the nightly freeze, then the world changes: tiers, segments, an asset archived, a late assignment
        pairs_freeze(tenant=tenant, through=today - dt.timedelta(days=30))
        for p in partners[::4]:
            p.tier = rng.choice([*tiers, None])
            p.segment = rng.choice(["SMB", "Enterprise", ""])
            p.save()
        assets[4].status = AssetStatus.ARCHIVED
        assets[4].save()
        f.AssignmentFactory(tenant=tenant, target=AssignmentTarget.TIER, partner=None, tier=tiers[1], asset=assets[8],
                            due_on=today - dt.timedelta(days=60))
        f.AssignmentFactory(tenant=tenant, target=AssignmentTarget.TIER, partner=None, tier=tiers[2], asset=assets[6],
                            due_on=today - dt.timedelta(days=30))  # due on the frozen date itself, created after
        assign()
        assign()
        # completions: the partner's first completion and some users', before and after due dates
        zone = tenant.zoneinfo
        people = User.objects.bulk_create([User(email=f"p{seed}-{i}@example.com", name=f"P {i}") for i in range(6)])
        states, user_states = [], []
        # asset 0's pairs are due 50 and 20 days ago (the assignments above): some partners finish it in
        # the last minute of a due date, some in the first of the day after — "on time" is by the end
        # of the due date, tenant-local, and the boundary must be counted alike everywhere
        edges = [(50, dt.time(23, 59)), (49, dt.time(0, 0)), (20, dt.time(23, 59)), (19, dt.time(0, 0))]
        for i, p in enumerate(partners):
            for a in [*assets, archived]:
                roll = rng.random()
                if roll < 0.45 and not (a is assets[0] and i % 5 < len(edges)):
                    continue
                when = dt.datetime.combine(today + dt.timedelta(days=rng.randint(-130, 0)), dt.time(rng.randint(0, 23)),
                                           tzinfo=zone)
                if a is assets[0] and i % 5 < len(edges):
                    days_ago, at = edges[i % 5]
                    roll, when = 1.0, dt.datetime.combine(today - dt.timedelta(days=days_ago), at, tzinfo=zone)
                states.append(PartnerAssetState(tenant=tenant, partner=p, asset=a, active_users=1,
                                                first_completed_at=when if roll > 0.55 else None,
                                                last_activity_at=when))
                for k, person in enumerate(rng.sample(people, rng.randint(0, 4))):
                    user_states.append(UserAssetState(
                        tenant=tenant, user=person, partner=p, asset=a,
                        first_completed_at=when + dt.timedelta(days=k * rng.randint(0, 20)) if rng.random() < 0.8 else None,
                    ))
        PartnerAssetState.objects.bulk_create(states)
        UserAssetState.objects.bulk_create(user_states)
        facts = []
        for i, p in enumerate(partners):
            previous, recent = HALVES[i % len(HALVES)] if i % 3 else (rng.randint(0, 30), rng.randint(0, 30))
            for day_offset, count in ((40, previous), (10, recent)):
                if count:
                    facts.append(DailyActivityFact(tenant=tenant, partner=p, asset=assets[0], day=today - dt.timedelta(days=day_offset),
                                                   verb="document.viewed", event_count=count, user_count=1))
            facts.append(DailyActivityFact(tenant=tenant, partner=p, asset=None, day=today - dt.timedelta(days=5),
                                           verb="portal.login", event_count=50, user_count=1))
        DailyActivityFact.objects.bulk_create(facts)
    return {"tiers": tiers, "partners": partners, "today": today}


def reference_overview(*, tenant, filters, at_risk_limit: int = 15):
    """The overview as it was computed in Python (every targeted pair of the tenant read and
    counted in Python), kept as the reference the SQL must reproduce."""
    partners = {
        row["id"]: row
        for row in Partner.objects.filter(filters.partner_q(dims=False), tenant=tenant).values(
            "id", "name", "tier_id", "tier__name", "tier__rank", "status", "segment"
        )
    }
    pairs = [
        p for p in targeted_pairs(tenant=tenant)
        if p.partner_id in partners and pair_matches(p, tier_id=filters.tier_id, segment=filters.segment)
    ]
    done = pair_completions(tenant=tenant)
    zone = tenant.zoneinfo
    span = Span.of(filters.start, filters.end, zone)
    tier_names = {t["id"]: t for t in PartnerTier.objects.filter(tenant=tenant).values("id", "name", "rank")}

    def is_done(pair):
        found = done.get((pair.partner_id, pair.asset_id), NOT_DONE)
        return pair_done_by(found.users, found.partner_first, required=pair.required_completions, deadline=None)

    by_tier = defaultdict(list)
    for pair in pairs:
        by_tier[pair.tier_id].append(pair)
    tiers, total = {}, PairCount()
    for tier_id, tier_pairs in by_tier.items():
        tier = tier_names.get(tier_id) or {"name": "", "rank": None}
        bucket = selectors.TierCompletion(tier=tier["name"])
        for count in count_pairs(tier_pairs, done, span, zone, partner_ids={p.partner_id for p in tier_pairs}).values():
            bucket.add(count)
        if bucket.assigned:
            tiers[(tier["rank"] if tier["rank"] is not None else 10**6, tier["name"])] = bucket
            total.add(bucket)
    in_filters = [
        pid for pid, row in partners.items()
        if (not filters.tier_id or row["tier_id"] == filters.tier_id) and (not filters.segment or row["segment"] == filters.segment)
    ]
    at_risk = {}

    def entry(pid):
        if pid not in at_risk:
            row = partners[pid]
            at_risk[pid] = selectors.AtRiskPartner(pid, row["name"], row["tier__name"] or "", row["status"])
        return at_risk[pid]

    for pair in pairs:
        if pair.due_on < filters.today and not is_done(pair):
            item = entry(pair.partner_id)
            item.overdue += 1
            if item.oldest_due is None or pair.due_on < item.oldest_due:
                item.oldest_due = pair.due_on
    recent_start = filters.today - dt.timedelta(days=29)
    previous_start = filters.today - dt.timedelta(days=59)
    activity = (
        DailyActivityFact.objects.filter(filters.partner_q("partner__"), tenant=tenant, day__gte=previous_start,
                                         day__lte=filters.today)
        .exclude(verb="portal.login")
        .values("partner_id")
        .annotate(recent=Coalesce(Sum("event_count", filter=Q(day__gte=recent_start)), 0),
                  previous=Coalesce(Sum("event_count", filter=Q(day__lt=recent_start)), 0))
        .order_by()
    )
    for row in activity:
        pid = row["partner_id"]
        if pid not in partners:
            continue
        previous, recent = row["previous"], row["recent"]
        if previous and recent <= previous / 2:
            item = entry(pid)
            item.recent_events, item.previous_events = recent, previous
        elif pid in at_risk:
            at_risk[pid].recent_events, at_risk[pid].previous_events = recent, previous
    ranked = sorted(at_risk.values(), key=lambda r: (-r.overdue, r.activity_change if r.activity_change is not None else 0, r.name))
    return selectors.Overview(
        tier_completion=[tiers[k] for k in sorted(tiers)], at_risk=ranked[:at_risk_limit], partner_count=len(in_filters),
        assigned_total=total.assigned, completed_total=total.on_time, completed_by_end_total=total.by_period_end,
    )


def _figures(o) -> dict:
    return {
        "tiers": [(t.tier, t.assigned, t.on_time, t.by_period_end) for t in o.tier_completion],
        "at_risk": [(r.partner_id, r.name, r.tier, r.status, r.overdue, r.oldest_due, r.recent_events, r.previous_events,
                     r.activity_change) for r in o.at_risk],
        "totals": (o.partner_count, o.assigned_total, o.completed_total, o.completed_by_end_total, o.rate),
    }


@pytest.mark.parametrize(("seed", "zone"), [(1, "Asia/Tokyo"), (2, "America/New_York"), (3, "Europe/Berlin")])
def test_sql_pairs_equal_the_python_expansion(tenant_a, seed, zone):
    tenant_a.time_zone = zone
    tenant_a.save()
    data = build_varied(tenant_a, seed)
    with scope(tenant=tenant_a.pk):
        live = sorted(assigned_pairs(tenant=tenant_a))
        targeted = sorted(targeted_pairs(tenant=tenant_a))
        assert _rows(*assigned_pairs_sql(tenant=tenant_a)) == live
        assert _rows(*targeted_pairs_sql(tenant=tenant_a)) == targeted
        # the data reaches every rule: frozen and live pairs, merged duplicates, paths, audiences
        assert any(p.assignment_id == 0 for p in targeted) and any(p.assignment_id for p in targeted)
        assert any(p.learning_path_id for p in targeted) and any(p.required_completions > 1 for p in targeted)
        assert len(assignment_pairs(tenant=tenant_a)) > len(live)  # pairs assigned more than once, merged
        for partner in data["partners"][:8]:
            mine = sorted(targeted_pairs(tenant=tenant_a, partner_id=partner.pk))
            assert _rows(*targeted_pairs_sql(tenant=tenant_a, partner_id=partner.pk)) == mine
            assert _rows(*assigned_pairs_sql(tenant=tenant_a, partner_id=partner.pk)) == sorted(
                assigned_pairs(tenant=tenant_a, partner_id=partner.pk))


def test_sql_pairs_without_a_freeze_are_the_live_pairs(tenant_a):
    with scope(tenant=tenant_a.pk):
        tier = f.PartnerTierFactory(tenant=tenant_a, name="Gold")
        asset = f.AssetFactory(tenant=tenant_a)
        for i in range(3):
            f.PartnerFactory(tenant=tenant_a, tier=tier, name=f"P{i}")
        f.AssignmentFactory(tenant=tenant_a, target=AssignmentTarget.TIER, partner=None, tier=tier, asset=asset,
                            due_on=timezone.localdate() - dt.timedelta(days=40))
        pairs = targeted_pairs(tenant=tenant_a)
        assert len(pairs) == 3
        assert _rows(*targeted_pairs_sql(tenant=tenant_a)) == sorted(pairs)


def _queries(today: dt.date, tiers) -> list[dict]:
    return [
        {},
        {"period": "quarter"},
        {"period": "week"},
        {"period": "custom", "from": (today - dt.timedelta(days=200)).isoformat(), "to": (today + dt.timedelta(days=10)).isoformat()},
        {"period": "quarter", "tier": str(tiers[0].pk)},
        {"period": "quarter", "segment": "SMB"},
        {"period": "quarter", "tier": str(tiers[1].pk), "segment": "Enterprise"},
        {"status": "nurturing"},
        {"q": "eta"},
    ]


@pytest.mark.parametrize(("seed", "zone"), [(1, "Asia/Tokyo"), (2, "America/New_York"), (3, "Europe/Berlin")])
def test_overview_figures_unchanged(tenant_a, seed, zone):
    tenant_a.time_zone = zone
    tenant_a.save()
    data = build_varied(tenant_a, seed)
    today = data["today"]
    tiers = data["tiers"]
    choices = {"tier_ids": {t.pk for t in tiers}, "segments": {"SMB", "Enterprise"}}
    compared = 0
    with scope(tenant=tenant_a.pk):
        for query in _queries(today, tiers):
            filters = parse_filters(query, today=today, **choices)
            assert not filters.notices, (query, filters.notices)
            for limit in (1, 2, 3, 5, 15, 100):
                got = _figures(selectors.overview(tenant=tenant_a, filters=filters, at_risk_limit=limit))
                want = _figures(reference_overview(tenant=tenant_a, filters=filters, at_risk_limit=limit))
                assert got == want, (query, limit)
                compared += 1
            # the data makes the comparison bite: pairs counted, many partners at risk
            if not query:
                assert want["tiers"] and want["totals"][1] > 0 and len(want["at_risk"]) > 15
    assert compared == 9 * 6


def test_overview_reads_a_bounded_number_of_rows(tenant_a, django_assert_max_num_queries):
    """At most five statements, whatever the data."""
    data = build_varied(tenant_a, 4)
    filters = parse_filters({"period": "quarter"}, today=data["today"], tier_ids={t.pk for t in data["tiers"]})
    with scope(tenant=tenant_a.pk), django_assert_max_num_queries(5):
        overview = selectors.overview(tenant=tenant_a, filters=filters, at_risk_limit=3)
    assert len(overview.at_risk) == 3


def test_at_risk_ties_on_the_shown_change_break_by_name(tenant_a):
    """Partners with as many overdue pairs whose changes differ but are shown alike (−1.25 and −1.2
    both show −1.2; −0.15, −0.1 and −0.05 all show −0.1, as Python rounds their floats) are listed
    by name, also when the list's last place falls inside such a tie."""
    today = timezone.localdate()
    with scope(tenant=tenant_a.pk):
        asset = f.AssetFactory(tenant=tenant_a, title="Deck")
        f.AssignmentFactory(tenant=tenant_a, target=AssignmentTarget.SEGMENT, partner=None, tier=None, segment="X",
                            asset=asset, due_on=today - dt.timedelta(days=10))
        counts = {"z": (80, 79), "g": (1000, 988), "f": (100, 99), "b": (400, 398), "d": (2000, 1997), "e": (2000, 1998),
                  "a": (2000, 1999)}
        facts = []
        for name, (previous, recent) in counts.items():
            p = f.PartnerFactory(tenant=tenant_a, name=name, segment="X", tier=None, joined_on=today - dt.timedelta(days=100))
            facts += [
                DailyActivityFact(tenant=tenant_a, partner=p, asset=asset, day=today - dt.timedelta(days=40),
                                  verb="document.viewed", event_count=previous, user_count=1),
                DailyActivityFact(tenant=tenant_a, partner=p, asset=asset, day=today - dt.timedelta(days=10),
                                  verb="document.viewed", event_count=recent, user_count=1),
            ]
        DailyActivityFact.objects.bulk_create(facts)
        filters = parse_filters({}, today=today)
        full = selectors.overview(tenant=tenant_a, filters=filters, at_risk_limit=100)
        assert [(r.name, r.activity_change) for r in full.at_risk] == [
            ("g", -1.2), ("z", -1.2), ("f", -1.0), ("b", -0.5), ("a", -0.1), ("d", -0.1), ("e", -0.1)
        ]
        for limit in range(1, 8):
            got = selectors.overview(tenant=tenant_a, filters=filters, at_risk_limit=limit)
            assert [r.name for r in got.at_risk] == [r.name for r in full.at_risk][:limit], limit
            assert _figures(got) == _figures(reference_overview(tenant=tenant_a, filters=filters, at_risk_limit=limit))


@pytest.mark.parametrize(("seed", "zone"), [(5, "Asia/Tokyo"), (6, "America/New_York")])
def test_overview_from_the_kpi_jobs_summary_equals_the_live_figures(tenant_a, seed, zone, monkeypatch):
    """The KPI job keeps the overview's counts (kpis.overview); without partner filters the page
    reads them — the same figures as the live statement — while no input changed since, and falls
    back to the live statement once one has (a marker pending) or the day moved on."""
    from kpis import overview as summary
    from kpis.metrics import compute_kpis
    from kpis.models import KpiInputChange, OverviewSummary

    tenant_a.time_zone = zone
    tenant_a.save()
    data = build_varied(tenant_a, seed)
    today, tiers = data["today"], data["tiers"]
    choices = {"tier_ids": {t.pk for t in tiers}, "segments": {"SMB", "Enterprise"}}
    used = []
    real = selectors._summary_rows

    def spy(*args, **kwargs):
        rows = real(*args, **kwargs)
        used.append(rows is not None)
        return rows

    monkeypatch.setattr(selectors, "_summary_rows", spy)
    with scope(tenant=tenant_a.pk):
        assert KpiInputChange.objects.filter(tenant=tenant_a).exists()
        compute_kpis(tenant_a, today=today)  # consumes the markers, writes the summary
        assert OverviewSummary.objects.get(tenant=tenant_a).as_of == today
        for query in _queries(today, tiers)[:4]:  # no partner filters: every period kind
            filters = parse_filters(query, today=today, **choices)
            for limit in (1, 3, 15, 100):
                used.clear()
                got = _figures(selectors.overview(tenant=tenant_a, filters=filters, at_risk_limit=limit))
                assert used == [True], query
                assert got == _figures(reference_overview(tenant=tenant_a, filters=filters, at_risk_limit=limit)), (query, limit)
        # a later run with nothing pending keeps it; an input change makes the page compute live
        assert summary.refresh_overview_summary(tenant_a, today, changed=False) is None
        partner = data["partners"][0]
        partner.tier = tiers[2] if partner.tier_id != tiers[2].pk else tiers[0]
        partner.save()
        filters = parse_filters({}, today=today, **choices)
        used.clear()
        got = _figures(selectors.overview(tenant=tenant_a, filters=filters, at_risk_limit=100))
        assert used == [False]
        assert got == _figures(reference_overview(tenant=tenant_a, filters=filters, at_risk_limit=100))
        compute_kpis(tenant_a, today=today)
        used.clear()
        assert _figures(selectors.overview(tenant=tenant_a, filters=filters, at_risk_limit=100)) == got
        assert used == [True]
        # the next day: the summary is yesterday's until the job's first run of the day
        tomorrow = parse_filters({}, today=today + dt.timedelta(days=1), **choices)
        used.clear()
        selectors.overview(tenant=tenant_a, filters=tomorrow, at_risk_limit=5)
        assert used == [False]


@pytest.mark.parametrize(("seed", "zone"), [(7, "Asia/Tokyo"), (8, "America/New_York")])
def test_filtered_completion_cards_in_sql_equal_the_python_metric(tenant_a, seed, zone, monkeypatch):
    """The filter bar's completion-rate cards count pairs in SQL (``selectors.completion_cells``): the
    same cell as ``metrics.metric_values(..., partner_ids=...)`` (which expands the pairs in Python)
    for every span, tier/segment of the definition and partner filter — and ``_live_cards`` no longer
    expands the pairs."""
    from kpis import metrics
    from kpis.models import KpiDefinition, Metric

    tenant_a.time_zone = zone
    tenant_a.save()
    data = build_varied(tenant_a, seed)
    today, tiers = data["today"], data["tiers"]
    spans = [*metrics.series_periods("month", *metrics.series_periods("month", today, today, 1)[0], 12),
             (today - dt.timedelta(days=200), today + dt.timedelta(days=10)), (today - dt.timedelta(days=5), today)]
    checked = 0
    with scope(tenant=tenant_a.pk):
        for tier_id, segment in [(None, ""), (tiers[0].pk, ""), (None, "SMB"), (tiers[1].pk, "Enterprise")]:
            definition = KpiDefinition(tenant=tenant_a, metric=Metric.ENABLEMENT_COMPLETION_RATE, period="month",
                                       target=50, tier_id=tier_id, segment=segment)
            for q in (Q(), Q(status="nurturing"), Q(name__icontains="eta")):
                chosen = Partner.objects.filter(q, tenant=tenant_a).order_by().values("id")
                ids = set(chosen.values_list("id", flat=True))
                got = selectors.completion_cells(tenant=tenant_a, spans=spans, partners=chosen, tier_id=tier_id, segment=segment)
                ctx = metrics.new_context(tenant_a)
                want = [metrics.metric_values(tenant_a, definition, s, e, ctx=ctx, partner_ids=ids)[0] for s, e in spans]
                assert got == want, (tier_id, segment, q)
                checked += sum(1 for c in want if c.denominator)
        assert checked > 20  # pairs were counted, not only empty spans
        KpiDefinition.objects.create(tenant=tenant_a, metric=Metric.ENABLEMENT_COMPLETION_RATE, period="month", target=50)

        def no_expansion(**kwargs):
            raise AssertionError("the live cards expanded the targeted pairs in Python")

        monkeypatch.setattr(metrics, "targeted_pairs", no_expansion)
        filters = parse_filters({"period": "quarter", "status": "nurturing"}, today=today)
        cards = selectors.kpi_cards(tenant=tenant_a, end=filters.end, language="en", filters=filters)
        card = next(c for c in cards if c.definition.metric == Metric.ENABLEMENT_COMPLETION_RATE)
        assert card.live and len(card.trend) == 12


def test_the_kpi_jobs_summary_is_read_per_tenant(tenant_a, tenant_b, monkeypatch):
    """Two tenants, each with its summary written by its own KPI job: each overview read from its
    summary equals its own live figures, and never shows the other tenant's partners or pairs."""
    from kpis.metrics import compute_kpis
    from kpis.models import OverviewAtRisk, OverviewPairCount

    used = []
    real = selectors._summary_rows
    monkeypatch.setattr(selectors, "_summary_rows", lambda *a, **k: used.append(real(*a, **k)) or used[-1])
    built = {}
    for tenant, seed in ((tenant_a, 11), (tenant_b, 12)):
        data = build_varied(tenant, seed)
        with scope(tenant=tenant.pk):
            compute_kpis(tenant, today=data["today"])
        built[tenant.pk] = data
    for tenant, other in ((tenant_a, tenant_b), (tenant_b, tenant_a)):
        data = built[tenant.pk]
        filters = parse_filters({}, today=data["today"], tier_ids={t.pk for t in data["tiers"]},
                                segments={"SMB", "Enterprise"})
        with scope(tenant=tenant.pk):
            assert OverviewPairCount.objects.filter(tenant=tenant).exists()
            assert OverviewAtRisk.objects.filter(tenant=tenant).exists()
            used.clear()
            got = _figures(selectors.overview(tenant=tenant, filters=filters, at_risk_limit=100))
            assert len(used) == 1 and used[0] is not None  # read from the summary
            assert got == _figures(reference_overview(tenant=tenant, filters=filters, at_risk_limit=100))
        foreign = {p.pk for p in built[other.pk]["partners"]}
        assert got["at_risk"] and not {row[0] for row in got["at_risk"]} & foreign


def _spy_summary(monkeypatch) -> list:
    """Record, for each overview, whether it was read from the KPI job's summary."""
    used: list = []
    real = selectors._summary_rows

    def spy(*args, **kwargs):
        rows = real(*args, **kwargs)
        used.append(rows is not None)
        return rows

    monkeypatch.setattr(selectors, "_summary_rows", spy)
    return used


def _assert_summary_read_equals_live(tenant, used, today, tiers, *, limits=(1, 3, 15, 100)) -> None:
    """Every filter the page offers (tier, segment, both, status, name; every period kind), read from
    the summary, equals the live reference."""
    choices = {"tier_ids": {t.pk for t in tiers}, "segments": {"SMB", "Enterprise"}}
    for query in _queries(today, tiers):
        filters = parse_filters(query, today=today, **choices)
        for limit in limits:
            used.clear()
            got = _figures(selectors.overview(tenant=tenant, filters=filters, at_risk_limit=limit))
            assert used == [True], query
            assert got == _figures(reference_overview(tenant=tenant, filters=filters, at_risk_limit=limit)), (query, limit)


@pytest.mark.parametrize(("seed", "zone"), [(13, "Asia/Tokyo"), (14, "America/New_York"), (15, "Europe/Berlin")])
def test_filtered_overview_from_the_summary_equals_the_live_figures(tenant_a, seed, zone, monkeypatch):
    """With a partner filter the page reads the KPI job's per-partner rows (the filters a WHERE on
    them), not the pairs and facts: the same figures as the live statement, for each filter."""
    from kpis.metrics import compute_kpis

    tenant_a.time_zone = zone
    tenant_a.save()
    data = build_varied(tenant_a, seed)
    used = _spy_summary(monkeypatch)
    with scope(tenant=tenant_a.pk):
        compute_kpis(tenant_a, today=data["today"])
        _assert_summary_read_equals_live(tenant_a, used, data["today"], data["tiers"])
        # the filters select partners at risk through the filtered rows only (the data makes it bite)
        wide = _queries(data["today"], data["tiers"])[3]  # 200 days back to 10 ahead
        gold = parse_filters({**wide, "tier": str(data["tiers"][0].pk)}, today=data["today"],
                             tier_ids={t.pk for t in data["tiers"]})
        everyone = parse_filters(wide, today=data["today"])
        some = selectors.overview(tenant=tenant_a, filters=gold, at_risk_limit=100)
        all_ = selectors.overview(tenant=tenant_a, filters=everyone, at_risk_limit=100)
        assert 0 < len(some.at_risk) < len(all_.at_risk) and 0 < some.assigned_total < all_.assigned_total


def _stored_rows(tenant) -> tuple[dict, dict]:
    """The summary's rows by partner, ids included: partner → set of pair rows, partner → at-risk row."""
    from kpis.models import OverviewAtRisk, OverviewPairCount

    pairs: dict[int, set] = defaultdict(set)
    for row in OverviewPairCount.objects.filter(tenant=tenant).values_list(
        "id", "partner_id", "tier_id", "segment", "due_on", "done_on", "pairs"
    ):
        pairs[row[1]].add(row)
    risks = {
        row[1]: row
        for row in OverviewAtRisk.objects.filter(tenant=tenant).values_list(
            "id", "partner_id", "overdue", "oldest_due", "recent", "previous"
        )
    }
    return dict(pairs), risks


def _contents(stored: tuple[dict, dict]) -> tuple[list, list]:
    pairs, risks = stored
    return sorted((r[1:] for rows in pairs.values() for r in rows), key=repr), sorted((r[1:] for r in risks.values()), key=repr)


def _assert_only_rewritten(before, after, touched: set[int]) -> None:
    """The partners not ``touched`` keep their rows as they were (the same ids); the touched ones'
    rows are new (no id of theirs kept)."""
    for index in (0, 1):
        old, new = before[index], after[index]
        for pid in set(old) | set(new):
            if pid in touched:
                old_ids = {r[0] for r in (old.get(pid, ()) if index == 0 else [old[pid]] if pid in old else [])}
                new_ids = {r[0] for r in (new.get(pid, ()) if index == 0 else [new[pid]] if pid in new else [])}
                assert not old_ids & new_ids, pid
            else:
                assert old.get(pid) == new.get(pid), pid


def _assert_equals_full_rebuild(tenant, today) -> None:
    """A rebuild of every partner's rows (rolled back) writes the same rows, ids aside."""
    from django.db import transaction

    from kpis import overview as summary

    stored = _contents(_stored_rows(tenant))
    with transaction.atomic():
        summary.refresh_overview_summary(tenant, today, partner_ids=None)
        full = _contents(_stored_rows(tenant))
        transaction.set_rollback(True)
    assert full == stored


@pytest.mark.parametrize(("seed", "zone"), [(16, "Asia/Tokyo"), (17, "America/New_York")])
def test_a_kpi_run_rewrites_only_the_touched_partners_summary_rows(tenant_a, seed, zone, monkeypatch):
    """One partner's events, a partner moved to another tier and segment, a partner deleted, a new
    partner: each KPI run rewrites only that partner's rows of the summary, the others' stay (same
    ids), and the page — unfiltered and with every filter — still equals the live figures."""
    from kpis.metrics import compute_kpis
    from kpis.models import KpiInputChange
    from kpis.scope import overview_partners, record_input_change

    tenant_a.time_zone = zone
    tenant_a.save()
    data = build_varied(tenant_a, seed)
    today, tiers, partners = data["today"], data["tiers"], data["partners"]
    used = _spy_summary(monkeypatch)
    with scope(tenant=tenant_a.pk):
        compute_kpis(tenant_a, today=today)  # the day's first run: every partner
        before = _stored_rows(tenant_a)
        assert len(before[0]) > 20 and len(before[1]) > 10

        def run(touched: set[int]) -> None:
            nonlocal before
            assert overview_partners(tenant_a, KpiInputChange.objects.filter(tenant=tenant_a).values_list("pk", flat=True)) == touched
            compute_kpis(tenant_a, today=today)
            after = _stored_rows(tenant_a)
            _assert_only_rewritten(before, after, touched)
            _assert_equals_full_rebuild(tenant_a, today)
            _assert_summary_read_equals_live(tenant_a, used, today, tiers, limits=(3, 100))
            before = after

        # 1. one partner's events (as a rollup records them): a pair of theirs done now, activity today
        partner = next(p for p in partners if p.pk in before[0] and p.pk in before[1])
        pair = next(
            p for p in targeted_pairs(tenant=tenant_a, partner_id=partner.pk)
            if not PartnerAssetState.objects.filter(tenant=tenant_a, partner=partner, asset_id=p.asset_id,
                                                    first_completed_at__isnull=False).exists()
        )
        PartnerAssetState.objects.update_or_create(
            tenant=tenant_a, partner=partner, asset_id=pair.asset_id,
            defaults={"active_users": 1, "first_completed_at": timezone.now(), "last_activity_at": timezone.now()},
        )
        DailyActivityFact.objects.create(tenant=tenant_a, partner=partner, asset_id=pair.asset_id, day=today,
                                         verb="training.completed", event_count=500, user_count=1)
        record_input_change(tenant_a.pk, "rollup", partner_ids=[partner.pk], days=[today])
        old_rows = before[0][partner.pk]
        run({partner.pk})
        assert before[0][partner.pk] != old_rows  # the partner's counts did move

        # 2. a partner moved to another tier and segment (its live pairs follow it; frozen ones stay)
        moved = next(p for p in partners if p.pk != partner.pk and p.tier_id == tiers[0].pk)
        moved.tier, moved.segment = tiers[1], "Enterprise" if moved.segment != "Enterprise" else "SMB"
        moved.save()
        run({moved.pk})

        # 3. a partner deleted: its rows go (with its own assignments; one named by an audience rule
        # is not taken: the rule's deletion can change who else the asset is for — every partner)
        named = set(AudienceRule.objects.filter(tenant=tenant_a, partner__isnull=False).values_list("partner_id", flat=True))
        gone = next(p for p in partners if p.pk not in (partner.pk, moved.pk, *named) and p.pk in before[0]
                    and p.assignments.exists())
        gone_pk = gone.pk
        gone.delete()
        run({gone_pk})
        assert gone_pk not in before[0] and gone_pk not in before[1]

        # 4. a new partner, an assignment of its own and activity falling by half: its rows appear
        new = f.PartnerFactory(tenant=tenant_a, name="Newcomer", tier=tiers[0], segment="SMB", status="active",
                               joined_on=today - dt.timedelta(days=400))
        f.AssignmentFactory(tenant=tenant_a, target=AssignmentTarget.PARTNER, partner=new, tier=None, segment="",
                            asset=Asset.objects.get(pk=pair.asset_id), due_on=today + dt.timedelta(days=5))
        DailyActivityFact.objects.create(tenant=tenant_a, partner=new, asset=None, day=today - dt.timedelta(days=40),
                                         verb="document.viewed", event_count=9, user_count=1)
        run({new.pk})
        assert new.pk in before[0] and before[1][new.pk][4:] == (0, 9)  # its pairs; at risk: 0 recent against 9


def _facts_reads(monkeypatch) -> list[str]:
    """The SQL of each statement the KPI job's overview step runs on the daily facts."""
    from django.test.utils import CaptureQueriesContext

    from kpis import metrics
    from kpis.models import DailyActivityFact

    table = DailyActivityFact._meta.db_table
    reads: list[str] = []
    real = metrics.refresh_overview_summary

    def spy(*args, **kwargs):
        with CaptureQueriesContext(connection) as queries:
            result = real(*args, **kwargs)
        reads.extend(q["sql"] for q in queries.captured_queries if f'FROM "{table}"' in q["sql"])  # PostgreSQL: DECLARE … FOR SELECT
        return result

    monkeypatch.setattr(metrics, "refresh_overview_summary", spy)
    return reads


def _partners_in(sql: str) -> set[int]:
    """The partner ids of the ``partner_id IN (...)`` condition on the daily facts (none: empty)."""
    import re

    from kpis.models import DailyActivityFact

    table = DailyActivityFact._meta.db_table
    found = re.search(rf'"{table}"\."partner_id" IN \(([^)]*)\)', sql)
    return {int(x) for x in found.group(1).split(",")} if found else set()


@pytest.mark.parametrize(("seed", "zone"), [(18, "Asia/Tokyo"), (19, "America/New_York")])
def test_an_assignment_change_rewrites_only_the_partners_it_targets_before_and_after(tenant_a, seed, zone, monkeypatch):
    """An assignment retargeted (partner → partner, tier → tier, segment → tier), deactivated, deleted,
    created for a tier, and saved with only its active flag while another target is in memory: each
    KPI run rewrites the summary rows of the partners the assignment targets before and after only
    (the others keep their ids), reads the 60-day facts of those partners only, and the summary still
    equals a rebuild of every partner and the page the live figures."""
    from enablement.models import Assignment
    from enablement.services.catalog import assignment_create, assignment_deactivate
    from kpis.metrics import compute_kpis
    from kpis.models import KpiInputChange
    from kpis.scope import overview_partners

    tenant_a.time_zone = zone
    tenant_a.save()
    data = build_varied(tenant_a, seed)
    today, tiers, partners = data["today"], data["tiers"], data["partners"]
    used = _spy_summary(monkeypatch)
    reads = _facts_reads(monkeypatch)
    with scope(tenant=tenant_a.pk):
        compute_kpis(tenant_a, today=today)  # the day's first run: every partner
        assert len(reads) == 1 and not _partners_in(reads[0])  # every partner's facts
        before = _stored_rows(tenant_a)

        def reached(target: str, partner=None, tier=None, segment: str = "") -> set[int]:
            if target == AssignmentTarget.PARTNER:
                return {partner.pk}
            rows = Partner.objects.filter(tenant=tenant_a)
            return set((rows.filter(tier=tier) if target == AssignmentTarget.TIER else rows.filter(segment=segment))
                       .values_list("pk", flat=True))

        def run(touched: set[int]) -> None:
            nonlocal before
            assert 0 < len(touched) < len(partners) - 1
            assert overview_partners(tenant_a, KpiInputChange.objects.filter(tenant=tenant_a).values_list("pk", flat=True)) == touched
            reads.clear()
            compute_kpis(tenant_a, today=today)
            assert len(reads) == 1 and _partners_in(reads[0]) == touched  # the facts of those partners only
            after = _stored_rows(tenant_a)
            _assert_only_rewritten(before, after, touched)
            _assert_equals_full_rebuild(tenant_a, today)
            _assert_summary_read_equals_live(tenant_a, used, today, tiers, limits=(3, 100))
            before = after

        active = Assignment.objects.filter(tenant=tenant_a, is_active=True, asset__isnull=False,
                                           asset__status=AssetStatus.PUBLISHED, asset__audience_rules__isnull=True)

        # 1. a partner's assignment moved to another partner (the admin's change form saves every field)
        one = active.filter(target=AssignmentTarget.PARTNER).first()
        old = one.partner
        new = next(p for p in partners if p.pk != old.pk and p.joined_on <= today
                   and one.asset_id not in {x.asset_id for x in assigned_pairs(tenant=tenant_a, partner_id=p.pk)})
        one.partner = new
        one.due_on = today + dt.timedelta(days=3)
        one.save()
        run({old.pk, new.pk})
        assert before[0].get(new.pk) and any(r[4] == one.due_on for r in before[0][new.pk])  # its new pair

        # 2. a tier assignment moved to another tier
        tiered = active.filter(target=AssignmentTarget.TIER).exclude(tier=tiers[2]).first()
        touched = reached(AssignmentTarget.TIER, tier=tiered.tier) | reached(AssignmentTarget.TIER, tier=tiers[2])
        tiered.tier = tiers[2]
        tiered.save()
        run(touched)

        # 3. a segment assignment turned into a tier assignment
        segmented = active.filter(target=AssignmentTarget.SEGMENT, segment="SMB").first()
        touched = reached(AssignmentTarget.SEGMENT, segment="SMB") | reached(AssignmentTarget.TIER, tier=tiers[1])
        segmented.target, segmented.segment, segmented.tier = AssignmentTarget.TIER, "", tiers[1]
        segmented.save()
        run(touched)

        # 4. deactivated (the service saves the active flag only)
        assignment_deactivate(tenant=tenant_a, actor=None, assignment=Assignment.objects.get(pk=segmented.pk))
        run(reached(AssignmentTarget.TIER, tier=tiers[1]))

        # 5. a segment assignment deleted
        gone = active.filter(target=AssignmentTarget.SEGMENT, segment="Enterprise").first()
        touched = reached(AssignmentTarget.SEGMENT, segment="Enterprise")
        gone.delete()
        run(touched)

        # 6. a new tier assignment (the service), due in a week
        created = assignment_create(tenant=tenant_a, actor=None, target=AssignmentTarget.TIER, tier=tiers[0],
                                    asset=active.first().asset, due_on=today + dt.timedelta(days=7))
        run(reached(AssignmentTarget.TIER, tier=tiers[0]))

        # 7. saved with the active flag only while another partner is set in memory: the stored target counts
        created.partner, created.target, created.tier = partners[0], AssignmentTarget.PARTNER, None
        created.is_active = False
        created.save(update_fields=["is_active"])
        run(reached(AssignmentTarget.TIER, tier=tiers[0]))


def _card_figures(cards) -> list:
    return [
        (c.definition.pk, c.live, c.current.numerator, c.current.denominator, c.current.value, c.current.target,
         c.current.status, c.current.previous_to_date, c.previous.numerator, c.previous.denominator, c.previous.value,
         c.trend, c.trend_targets)
        for c in cards
    ]


@pytest.mark.parametrize(("seed", "zone"), [(18, "Asia/Tokyo"), (19, "America/New_York")])
def test_filtered_completion_cards_from_the_summary_equal_the_live_cards(tenant_a, seed, zone, monkeypatch):
    """Once the KPI job has kept the overview's pair counts, the filter bar's completion-rate card
    (every point of its trend and its comparison) reads them — the filters a WHERE on the
    per-partner rows — with the same figures as counting the pairs live; a pending input change (or
    another day) sends it back to the live count."""
    from kpis.metrics import compute_kpis
    from kpis.models import KpiDefinition, KpiInputChange, Metric

    tenant_a.time_zone = zone
    tenant_a.save()
    data = build_varied(tenant_a, seed)
    today, tiers = data["today"], data["tiers"]
    choices = {"tier_ids": {t.pk for t in tiers}, "segments": {"SMB", "Enterprise"}}
    read = []
    real = selectors._summary_completion_cells

    def spy(**kwargs):
        cells = real(**kwargs)
        read.append(cells is not None)
        return cells

    monkeypatch.setattr(selectors, "_summary_completion_cells", spy)
    with scope(tenant=tenant_a.pk):
        for period, tier, segment in (("month", None, ""), ("quarter", None, ""), ("month", tiers[1], ""),
                                      ("month", None, "SMB")):
            KpiDefinition.objects.create(tenant=tenant_a, metric=Metric.ENABLEMENT_COMPLETION_RATE, period=period,
                                         target=50, tier=tier, segment=segment)
        compute_kpis(tenant_a, today=today)
        checked = 0
        for query in _queries(today, tiers):
            filters = parse_filters(query, today=today, **choices)
            read.clear()
            got = _card_figures(selectors.kpi_cards(tenant=tenant_a, end=filters.end, language="en", filters=filters))
            live = [c for c in got if c[1]]
            assert read == [True] * len(live), query
            monkeypatch.setattr(selectors, "_summary_completion_cells", lambda **kwargs: None)
            want = _card_figures(selectors.kpi_cards(tenant=tenant_a, end=filters.end, language="en", filters=filters))
            monkeypatch.setattr(selectors, "_summary_completion_cells", spy)
            assert got == want, query
            checked += sum(1 for c in live if c[3])
        assert checked > 10  # pairs were counted, not only empty periods
        KpiInputChange.objects.create(tenant=tenant_a, source="test", everything=True)
        filters = parse_filters(_queries(today, tiers)[5], today=today, **choices)
        read.clear()
        selectors.kpi_cards(tenant=tenant_a, end=filters.end, language="en", filters=filters)
        assert read and not any(read)
        KpiInputChange.objects.filter(tenant=tenant_a).delete()
        tomorrow = parse_filters(_queries(today, tiers)[5], today=today + dt.timedelta(days=1), **choices)
        read.clear()
        selectors.kpi_cards(tenant=tenant_a, end=tomorrow.end, language="en", filters=tomorrow)
        assert read and not any(read)
