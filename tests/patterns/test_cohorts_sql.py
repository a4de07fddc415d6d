"""The success-pattern cohorts and the playbook adoption are ranked, split and paged in the database.

``reference_cohorts`` and ``reference_adoption`` are the former Python implementations (every partner
of the tenant loaded and sorted in Python), kept here as the specification: on varied random data —
tied outcomes, names in mixed scripts and cases, readings, every kind of manager override, won and lost deals inside
and outside the window, adoption windows of every length — the SQL versions give the same rows in the
same order, with the same reasons, in English and in Japanese, in full and page by page. Then: the
page's query count is the same with few and with many partners."""

from __future__ import annotations

import datetime as dt
import math
import random
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Count, Min, Q, Sum
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from django_scopes import scope

from enablement.models import Assignment, AssignmentTarget
from kpis.models import DailyActivityFact, PartnerAssetState
from kpis.patterns import selectors as sel
from kpis.patterns.models import OutcomeMetric
from kpis.patterns.selectors import AdoptionRow, CohortRow, Cohorts, adoption_window, consumed_at
from partners.deals.models import Deal, DealStage
from partners.models import CohortOverride, Partner, PartnerStatus
from partners.reading import partner_ordering
from tests import factories as f

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 6, 30)


# --- The reference: the former Python implementations, unchanged but for the noted tie-break ---------


def reference_cohorts(*, tenant, window_days, top_share, metric, as_of) -> Cohorts:
    window_end = as_of
    window_start = window_end - dt.timedelta(days=window_days - 1)
    won_in_window = Q(
        deals__stage=DealStage.WON, deals__closed_on__gte=window_start, deals__closed_on__lte=window_end
    )
    partners = list(
        Partner.objects.filter(tenant=tenant)
        .select_related("tier")
        .annotate(
            won_revenue=Sum("deals__amount", filter=won_in_window, default=Decimal(0)),
            won_count=Count("deals", filter=won_in_window),
            first_win_on=Min("deals__closed_on", filter=won_in_window),
        )
        .order_by(*partner_ordering())
    )
    rows = []
    for p in partners:
        row = CohortRow(partner=p, won_revenue=p.won_revenue or Decimal(0), won_count=p.won_count, first_win_on=p.first_win_on)
        row.value = row.won_revenue if metric == OutcomeMetric.REVENUE else Decimal(row.won_count)
        rows.append(row)
    excluded = [r for r in rows if r.partner.cohort_override == CohortOverride.EXCLUDE]
    eligible = [r for r in rows if r.partner.cohort_override != CohortOverride.EXCLUDE]
    forced_top = [r for r in eligible if r.partner.cohort_override == CohortOverride.TOP]
    forced_nurture = [r for r in eligible if r.partner.cohort_override == CohortOverride.NURTURE]
    auto = [r for r in eligible if not r.partner.cohort_override]
    ranked = sorted(auto, key=lambda r: (-r.value, -r.won_count, r.partner.name))
    n_slots = max(1, math.ceil(len(eligible) * top_share)) if eligible else 0
    auto_top = [r for r in ranked if r.value > 0][: max(0, n_slots - len(forced_top))]
    for r in forced_top:
        r.reasons.append(translation.gettext("set by a manager"))
    for r in auto_top:
        r.reasons.append(translation.gettext("top by outcome"))
    top = sorted([*forced_top, *auto_top], key=lambda r: (-r.value, r.partner.name))
    top_ids = {r.partner.pk for r in top}
    rest = [r for r in ranked if r.partner.pk not in top_ids]
    bottom_ids: set[int] = set()
    if rest:
        k = max(1, math.ceil(len(eligible) * top_share))
        threshold = sorted(r.value for r in rest)[min(k, len(rest)) - 1]
        bottom_ids = {r.partner.pk for r in rest if r.value <= threshold}
    nurture, others = [], []
    for r in forced_nurture:
        r.reasons.append(translation.gettext("set by a manager"))
        nurture.append(r)
    for r in rest:
        if r.partner.status == PartnerStatus.NURTURING:
            r.reasons.append(translation.gettext("status: nurturing"))
        if r.partner.pk in bottom_ids:
            r.reasons.append(translation.gettext("bottom cohort by outcome"))
        (nurture if r.reasons else others).append(r)
    nurture.sort(key=lambda r: (r.value, r.partner.name))
    return Cohorts(window_start=window_start, window_end=window_end, top_share=top_share, metric=metric,
                   top=top, nurture=nurture, others=others, excluded=excluded)


def reference_adoption(*, tenant, path, today) -> list[AdoptionRow]:
    items = sel.playbook_items(tenant=tenant, path=path)
    if not items:
        return []
    asset_ids = [i.asset_id for i in items]
    kinds = {i.asset_id: i.asset.kind for i in items}
    tz = timezone.get_current_timezone()
    assigned = (
        Assignment.objects.filter(
            tenant=tenant, source=sel.PLAYBOOK_SOURCE, target=AssignmentTarget.PARTNER, asset_id__in=asset_ids, is_active=True
        )
        .values("partner_id")
        .annotate(first=Min("created_at"))
    )
    assigned_on = {r["partner_id"]: timezone.localtime(r["first"], tz).date() for r in assigned}
    if not assigned_on:
        return []
    partners = {p.pk: p for p in Partner.objects.filter(tenant=tenant, pk__in=assigned_on).select_related("tier")}
    states = list(PartnerAssetState.objects.filter(tenant=tenant, partner_id__in=list(assigned_on), asset_id__in=asset_ids))
    done: dict[int, list[dt.date]] = {}
    for s in states:
        at = consumed_at(s, kinds[s.asset_id])
        if at is not None:
            done.setdefault(s.partner_id, []).append(timezone.localtime(at, tz).date())
    by_day: dict[dt.date, list[int]] = {}
    for pid, day in assigned_on.items():
        by_day.setdefault(day, []).append(pid)
    events, deals, spans = {}, {}, {}
    for day, pids in by_day.items():
        span = spans[day] = adoption_window(day, today)
        if not span:
            continue
        before_start, before_end = day - dt.timedelta(days=span), day - dt.timedelta(days=1)
        after_start, after_end = day + dt.timedelta(days=1), day + dt.timedelta(days=span)
        for r in (
            DailyActivityFact.objects.filter(tenant=tenant, partner_id__in=pids, day__gte=before_start, day__lte=after_end)
            .values("partner_id")
            .annotate(
                before=Sum("event_count", filter=Q(day__lte=before_end), default=0),
                after=Sum("event_count", filter=Q(day__gte=after_start), default=0),
            )
        ):
            events[r["partner_id"]] = (r["before"], r["after"])

        def at(d: dt.date) -> dt.datetime:
            return timezone.make_aware(dt.datetime.combine(d, dt.time.min), tz)

        for r in (
            Deal.objects.filter(tenant=tenant, partner_id__in=pids, created_at__gte=at(before_start),
                                created_at__lt=at(after_end + dt.timedelta(days=1)))
            .values("partner_id")
            .annotate(before=Count("id", filter=Q(created_at__lt=at(day))), after=Count("id", filter=Q(created_at__gte=at(after_start))))
        ):
            deals[r["partner_id"]] = (r["before"], r["after"])
    rows = []
    for pid, day in assigned_on.items():
        span = spans[day]
        dates = done.get(pid, [])
        common = {"partner": partners[pid], "assigned_on": day, "items_total": len(items),
                  "done_before": sum(1 for d in dates if d < day), "done_after": sum(1 for d in dates if d >= day), "days": span}
        if not span:
            rows.append(AdoptionRow(**common, events_per_week_before=None, events_per_week_after=None, deals_before=None, deals_after=None))
            continue
        weeks = span / 7
        ev_b, ev_a = events.get(pid, (0, 0))
        de_b, de_a = deals.get(pid, (0, 0))
        rows.append(AdoptionRow(**common, events_per_week_before=round(ev_b / weeks, 1), events_per_week_after=round(ev_a / weeks, 1),
                                deals_before=de_b, deals_after=de_a))
    rows.sort(key=lambda r: (-r.done_pct, r.partner.name))
    return rows


# --- Varied data -----------------------------------------------------------------------------------

NAMES = ["Acme", "acme", "Beta", "Zeta", "Ōkubo", "さくら商事", "株式会社あおば", "Delta", "Acme 2", "9 Nine"]
KANA = ["", "", "べーた", "あくめ", "おおくぼ", "さくらしょうじ", "あおば", ""]


def _at(day: dt.date, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def build_varied(tenant, rng: random.Random, n: int) -> list[Partner]:
    tier = f.PartnerTierFactory(tenant=tenant)
    overrides = ["", "", "", "", "", "", "top", "nurture", "exclude"]
    statuses = ["active", "active", "nurturing", "onboarding", "dormant"]
    start = Partner.objects.filter(tenant=tenant).count()  # names are unique in a tenant
    partners = Partner.objects.bulk_create([
        Partner(tenant=tenant, tier=tier, name=f"{rng.choice(NAMES)} {start + i}", name_kana=rng.choice(KANA),
                status=rng.choice(statuses), cohort_override=rng.choice(overrides), joined_on=TODAY - dt.timedelta(days=500))
        for i in range(n)
    ])
    deals = []
    for p in partners:
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
            deals.append(Deal(
                tenant=tenant, partner=p, customer="c", stage=rng.choice([DealStage.WON, DealStage.WON, DealStage.LOST, DealStage.REGISTERED]),
                amount=Decimal(rng.choice([0, 1000, 1000, 2500, 99999, 150000])) + Decimal(rng.choice(["0", "0.50"])),
                closed_on=TODAY - dt.timedelta(days=rng.choice([0, 5, 29, 30, 31, 100, 364, 365, 400])),
            ))
    Deal.objects.bulk_create(deals)
    return partners


def _cohort_rows(cohorts: Cohorts) -> dict[str, list[tuple]]:
    def key(r: CohortRow) -> tuple:
        return (r.partner.pk, r.won_revenue, r.won_count, r.first_win_on, r.value, tuple(r.reasons))

    return {c: [key(r) for r in getattr(cohorts, c)] for c in sel.COHORTS}


PARAMS = [(365, 0.2, "revenue"), (30, 0.05, "deals"), (365, 0.5, "deals"), (31, 0.01, "revenue"), (90, 0.33, "revenue")]


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_sql_cohorts_equal_the_python_reference_on_varied_data(scope_a, seed):
    rng = random.Random(seed)
    build_varied(scope_a, rng, rng.choice([7, 40, 90]))
    for lang in ("en", "ja"):
        with translation.override(lang):
            for window_days, share, metric in PARAMS:
                args = {"tenant": scope_a, "window_days": window_days, "top_share": share, "metric": metric, "as_of": TODAY}
                expected = _cohort_rows(reference_cohorts(**args))
                got = sel.partner_cohorts(**args)
                assert _cohort_rows(got) == expected, (lang, window_days, share, metric)
                assert (got.window_start, got.window_end) == (TODAY - dt.timedelta(days=window_days - 1), TODAY)
                # Page by page, as the page reads it: the counts, then LIMITed slices.
                ranking = sel.cohort_ranking(**args)
                assert ranking.counts() == {c: len(rows) for c, rows in expected.items()}
                for c, rows in expected.items():
                    for start in range(0, len(rows), 11):
                        page = [ranking.row(p) for p in ranking.rows(c)[start : start + 11]]
                        assert [(r.partner.pk, tuple(r.reasons)) for r in page] == [(k[0], k[5]) for k in rows[start : start + 11]]
                _assert_pages_equal(args, expected, size=11)


def _assert_pages_equal(args: dict, expected: dict[str, list[tuple]], *, size: int) -> None:
    """``cohort_pages`` (the page's one statement) gives each cohort's size and every page of every
    list as the reference, figures and reasons included; out-of-range and garbage page numbers go
    where Django's Paginator.get_page sends them (the last page; page 1)."""
    pages = {c: max(1, -(-len(rows) // size)) for c, rows in expected.items()}
    for n in range(1, max(pages.values()) + 1):
        got = sel.cohort_pages(**args, pages=dict.fromkeys(sel.COHORTS, n), page_size=size)
        assert got.counts == {c: len(rows) for c, rows in expected.items()}
        for c, rows in expected.items():
            number = n if n <= pages[c] else pages[c]
            assert got.pages[c].number == number
            assert _cohort_rows_of(got.pages[c].rows) == rows[(number - 1) * size : number * size], (c, n)
    for asked, number in (("0", "last"), ("-3", "last"), ("999", "last"), ("x", 1), (None, 1), ("2.5", 1)):
        got = sel.cohort_pages(**args, pages=dict.fromkeys(sel.COHORTS, asked), page_size=size)
        for c, rows in expected.items():
            want = pages[c] if number == "last" else 1
            assert got.pages[c].number == want, (asked, c)
            assert _cohort_rows_of(got.pages[c].rows) == rows[(want - 1) * size : want * size], (asked, c)


def _cohort_rows_of(rows: list[CohortRow]) -> list[tuple]:
    return [(r.partner.pk, r.won_revenue, r.won_count, r.first_win_on, r.value, tuple(r.reasons)) for r in rows]


@pytest.mark.parametrize("case", ["empty", "all excluded", "all top by hand", "no deals", "more forced top than slots", "one partner"])
def test_sql_cohorts_equal_the_reference_on_edge_cases(scope_a, case):
    rng = random.Random(7)
    if case != "empty":
        partners = build_varied(scope_a, rng, 1 if case == "one partner" else 20)
        if case == "all excluded":
            Partner.objects.filter(tenant=scope_a).update(cohort_override="exclude")
        elif case == "all top by hand":
            Partner.objects.filter(tenant=scope_a).update(cohort_override="top")
        elif case == "no deals":
            Deal.objects.filter(tenant=scope_a).delete()
        elif case == "more forced top than slots":
            Partner.objects.filter(pk__in=[p.pk for p in partners[:10]]).update(cohort_override="top")
            Partner.objects.filter(pk__in=[p.pk for p in partners[10:]]).update(cohort_override="")
    for window_days, share, metric in PARAMS:
        args = {"tenant": scope_a, "window_days": window_days, "top_share": share, "metric": metric, "as_of": TODAY}
        expected = _cohort_rows(reference_cohorts(**args))
        assert _cohort_rows(sel.partner_cohorts(**args)) == expected, (case, share, metric)
        for lang in ("en", "ja"):
            with translation.override(lang):
                _assert_pages_equal(args, _cohort_rows(reference_cohorts(**args)), size=4)


def _adoption_key(r: AdoptionRow) -> tuple:
    return (r.partner.pk, r.assigned_on, r.items_total, r.done_before, r.done_after, r.events_per_week_before,
            r.events_per_week_after, r.deals_before, r.deals_after, r.days, r.done_pct, r.measuring)


def build_adoption(tenant, rng: random.Random, n: int, n_items: int):
    partners = build_varied(tenant, rng, n)
    path = f.LearningPathFactory(tenant=tenant, is_playbook=True)
    assets = [f.AssetFactory(tenant=tenant, kind=rng.choice(["training", "document"])) for _ in range(n_items)]
    for i, a in enumerate(assets):
        f.LearningPathItemFactory(tenant=tenant, path=path, asset=a, position=i + 1)
    other = f.AssetFactory(tenant=tenant)  # not in the playbook: never counted
    assignments, states, facts = [], [], []
    for p in partners:
        if rng.random() < 0.2:
            continue  # not assigned
        for a in rng.sample(assets, rng.randint(1, n_items)):
            assignments.append(Assignment(
                tenant=tenant, asset=a, target=AssignmentTarget.PARTNER, partner=p, source=rng.choice(["playbook"] * 5 + ["manual"]),
                is_active=rng.random() > 0.1, due_on=TODAY, created_at=_at(TODAY - dt.timedelta(days=rng.randint(0, 90)), rng.randint(0, 23)),
            ))
        for a in [*assets, other]:
            if rng.random() < 0.6:
                first = _at(TODAY - dt.timedelta(days=rng.randint(0, 120)), rng.randint(0, 23))
                states.append(PartnerAssetState(tenant=tenant, partner=p, asset=a, first_activity_at=first, last_activity_at=first,
                                                first_completed_at=first if rng.random() < 0.7 else None, active_users=1))
        for d in range(0, 200, rng.randint(1, 9)):
            facts.append(DailyActivityFact(tenant=tenant, partner=p, day=TODAY - dt.timedelta(days=d), verb="portal.login",
                                           event_count=rng.randint(1, 9), user_count=1))
        for _ in range(rng.randint(0, 4)):
            deal = f.DealFactory(tenant=tenant, partner=p)
            Deal.objects.filter(pk=deal.pk).update(created_at=_at(TODAY - dt.timedelta(days=rng.randint(0, 150)), rng.randint(0, 23)))
    Assignment.objects.bulk_create(assignments)
    PartnerAssetState.objects.bulk_create(states)
    DailyActivityFact.objects.bulk_create(facts)
    return path


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sql_adoption_equals_the_python_reference_on_varied_data(scope_a, seed):
    rng = random.Random(seed)
    path = build_adoption(scope_a, rng, rng.choice([12, 45]), rng.choice([1, 3, 7]))
    items = sel.playbook_items(tenant=scope_a, path=path)
    seen = []
    for today in (TODAY, TODAY - dt.timedelta(days=60), TODAY + dt.timedelta(days=9), TODAY + dt.timedelta(days=70)):
        expected = [_adoption_key(r) for r in reference_adoption(tenant=scope_a, path=path, today=today)]
        assert expected, "the data assigns the playbook"
        seen += expected
        assert [_adoption_key(r) for r in sel.playbook_adoption(tenant=scope_a, path=path, today=today)] == expected, today
        for number, start in enumerate(range(0, len(expected), 10), start=1):
            page = sel.adoption_page(tenant=scope_a, items=items, page=number, page_size=10, today=today)
            assert (page.count, page.number) == (len(expected), number)
            assert [_adoption_key(r) for r in page.rows] == expected[start : start + 10]
    # some rows were measuring, some compared windows of several lengths: every branch was checked
    assert any(k[-1] for k in seen) and len({k[9] for k in seen if not k[-1]}) > 2


def test_adoption_of_a_playbook_with_more_than_100_items_sorts_as_the_rounded_share(scope_a):
    """done_pct rounds half to even: with 200 items, 1 done (0.5 %) and 0 done both show 0 % and sort
    by name — the database's order uses the same rounded share, not the raw count."""
    path = f.LearningPathFactory(tenant=scope_a, is_playbook=True)
    assets = [f.AssetFactory(tenant=scope_a) for _ in range(200)]
    for i, a in enumerate(assets):
        f.LearningPathItemFactory(tenant=scope_a, path=path, asset=a, position=i + 1)
    b_one, a_none = f.PartnerFactory(tenant=scope_a, name="B one done"), f.PartnerFactory(tenant=scope_a, name="A none done")
    for p in (b_one, a_none):
        Assignment.objects.create(tenant=scope_a, asset=assets[0], target=AssignmentTarget.PARTNER, partner=p, source="playbook",
                                  due_on=TODAY)
    PartnerAssetState.objects.create(tenant=scope_a, partner=b_one, asset=assets[5], first_activity_at=_at(TODAY),
                                     last_activity_at=_at(TODAY), first_completed_at=_at(TODAY), active_users=1)
    rows = sel.playbook_adoption(tenant=scope_a, path=path, today=TODAY)
    assert [(r.partner.name, r.done, r.done_pct) for r in rows] == [("A none done", 0, 0), ("B one done", 1, 0)]
    assert [_adoption_key(r) for r in rows] == [_adoption_key(r) for r in reference_adoption(tenant=scope_a, path=path, today=TODAY)]


# --- The page: the same queries with few and with many partners ------------------------------------


def _grow(tenant, rng, n, path, assets):
    partners = build_varied(tenant, rng, n)
    Assignment.objects.bulk_create([
        Assignment(tenant=tenant, asset=a, target=AssignmentTarget.PARTNER, partner=p, source="playbook", due_on=TODAY,
                   created_at=timezone.now() - dt.timedelta(days=(p.pk % 40)))
        for p in partners for a in assets
    ])
    PartnerAssetState.objects.bulk_create([
        PartnerAssetState(tenant=tenant, partner=p, asset=assets[p.pk % len(assets)], first_activity_at=timezone.now(),
                          last_activity_at=timezone.now(), first_completed_at=timezone.now(), active_users=1)
        for p in partners
    ])
    DailyActivityFact.objects.bulk_create([
        DailyActivityFact(tenant=tenant, partner=p, day=timezone.localdate() - dt.timedelta(days=d), verb="portal.login",
                          event_count=1, user_count=1)
        for p in partners for d in range(0, 60, 7)
    ])


def test_patterns_page_queries_do_not_grow_and_lists_are_read_one_page_at_a_time(client, login, manager_a, tenant_a):
    rng = random.Random(11)
    with scope(tenant=tenant_a.pk):
        path = f.LearningPathFactory(tenant=tenant_a, is_playbook=True)
        assets = [f.AssetFactory(tenant=tenant_a) for _ in range(3)]
        for i, a in enumerate(assets):
            f.LearningPathItemFactory(tenant=tenant_a, path=path, asset=a, position=i + 1)
        _grow(tenant_a, rng, 12, path, assets)
    login(manager_a)
    page = reverse("manage-patterns", kwargs={"tenant_slug": tenant_a.slug})
    variants = ["", "?nurture_page=2&others_page=2&adoption_page=2", "?metric=deals&window_days=30&top_share=5"]
    client.get(page)

    def measure():
        out = {}
        for v in variants:
            with CaptureQueriesContext(connection) as q:
                r = client.get(page + v)
            assert r.status_code == 200
            out[v] = (len(q.captured_queries), r.content.decode(), [x["sql"] for x in q.captured_queries])
        return out

    few = measure()
    with scope(tenant=tenant_a.pk):
        _grow(tenant_a, rng, 150, path, assets)
        n = Partner.objects.filter(tenant=tenant_a).count()
    assert n == 162
    many = measure()
    for v in variants:
        assert many[v][0] == few[v][0], (v, few[v][0], many[v][0])
        body = many[v][1]
        assert 0 < body.count('name="cohort_override"') <= 4 * 25  # one page of forms a list
        assert body.count("<td class=\"num\">") < 2000
        # every read of partners' rows is LIMITed (a page, or one row at a ranking's edge) or a count
        partner_reads = [s for s in many[v][2] if 'FROM "partners_partner"' in s and not s.startswith("SELECT COUNT(")]
        assert partner_reads and all(" LIMIT " in s for s in partner_reads), [s[:200] for s in partner_reads if " LIMIT " not in s]
    assert "adoption_page=3" in many[""][1] or "adoption_page=2" in many[""][1]
