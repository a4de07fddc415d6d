"""The success-pattern cohorts stored per run (``PatternRank``) and the page reading them.

A run stores every partner's outcome in its window, cohort and place in its list; the page reads the
sizes from the run and one page of each list from an index. What the stored lists must be: exactly
the live computation for the run's parameters (``reference_cohorts``, the former Python split, and
``cohort_pages``), ties included, in English and Japanese order, page by page — also after managers
change overrides since the run. The page's query count is the same for 3 and for 30 partners, and it
reads no deal when a stored run exists."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from django_scopes import scope

from kpis.patterns import selectors as sel
from kpis.patterns import services as svc
from kpis.patterns.mining import mine_patterns
from kpis.patterns.models import PatternRank, PatternRun
from partners.deals.models import Deal, DealStage
from partners.models import CohortOverride, Partner
from tests import factories as f
from tests.patterns.test_cohorts_sql import (
    PARAMS,
    TODAY,
    _cohort_rows,
    _cohort_rows_of,
    build_varied,
    reference_cohorts,
)

pytestmark = pytest.mark.django_db


def _assert_stored_equal(tenant, run, expected: dict[str, list[tuple]], *, size: int) -> None:
    """Every page of every stored list equals the reference's slice (figures, reasons, order), and the
    sizes are the reference's; out-of-range and garbage page numbers clamp like Paginator.get_page."""
    pages = {c: max(1, -(-len(rows) // size)) for c, rows in expected.items()}
    for n in range(1, max(pages.values()) + 1):
        got = sel.stored_cohort_pages(tenant=tenant, run=run, pages=dict.fromkeys(sel.COHORTS, n), page_size=size)
        assert got.run == run and (got.window_start, got.window_end) == (run.window_start, run.window_end)
        assert got.counts == {c: len(rows) for c, rows in expected.items()}
        for c, rows in expected.items():
            number = min(n, pages[c])
            assert got.pages[c].number == number
            assert _cohort_rows_of(got.pages[c].rows) == rows[(number - 1) * size : number * size], (c, n)
    for asked, want_last in (("0", True), ("999", True), ("x", False), (None, False)):
        got = sel.stored_cohort_pages(tenant=tenant, run=run, pages=dict.fromkeys(sel.COHORTS, asked), page_size=size)
        for c, rows in expected.items():
            want = pages[c] if want_last else 1
            assert got.pages[c].number == want
            assert _cohort_rows_of(got.pages[c].rows) == rows[(want - 1) * size : want * size], (asked, c)


def _live(tenant, window_days, share, metric, *, size) -> dict[str, list[tuple]]:
    """The live page statement's lists in full (every page of ``cohort_pages``)."""
    out = {}
    first = sel.cohort_pages(tenant=tenant, window_days=window_days, top_share=share, metric=metric, as_of=TODAY,
                             page_size=size)
    for c in sel.COHORTS:
        rows = []
        for n in range(1, max(1, -(-first.counts[c] // size)) + 1):
            got = sel.cohort_pages(tenant=tenant, window_days=window_days, top_share=share, metric=metric, as_of=TODAY,
                                   page_size=size, pages={c: n})
            rows += _cohort_rows_of(got.pages[c].rows)
        out[c] = rows
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_stored_cohorts_equal_the_live_computation_ties_included(scope_a, seed):
    rng = random.Random(seed)
    build_varied(scope_a, rng, rng.choice([9, 40]))
    values = list(Deal.objects.filter(tenant=scope_a, stage=DealStage.WON).values_list("amount", flat=True))
    assert len(values) > len(set(values)), "the data has tied outcomes"
    for window_days, share, metric in PARAMS:
        run = mine_patterns(tenant=scope_a, window_days=window_days, top_share=share, metric=metric, as_of=TODAY)
        assert run.cohort_sizes is not None
        assert PatternRank.objects.filter(run=run).count() == Partner.objects.filter(tenant=scope_a).count()
        for lang in ("en", "ja"):
            with translation.override(lang):
                args = {"tenant": scope_a, "window_days": window_days, "top_share": share, "metric": metric, "as_of": TODAY}
                expected = _cohort_rows(reference_cohorts(**args))
                assert _live(scope_a, window_days, share, metric, size=7) == expected
                _assert_stored_equal(scope_a, run, expected, size=7)
                nurture = sel.stored_cohort_partners(tenant=scope_a, run=run, cohort="nurture")
                assert [p.pk for p in nurture] == [k[0] for k in expected["nurture"]]


def test_overrides_set_after_the_run_apply_to_the_stored_cohorts(scope_a):
    rng = random.Random(5)
    partners = build_varied(scope_a, rng, 45)
    Partner.objects.filter(tenant=scope_a).update(cohort_override="")
    runs = [mine_patterns(tenant=scope_a, window_days=d, top_share=s, metric=m, as_of=TODAY) for d, s, m in PARAMS[:3]]
    for step, value in enumerate(["top", "exclude", "nurture", "top", "exclude", "", "top", "nurture"]):
        partner = Partner.objects.get(pk=partners[(step * 7) % len(partners)].pk)
        svc.partner_cohort_override_set(tenant=scope_a, partner=partner, value=value, actor=None)
        for run in runs:
            args = {"tenant": scope_a, "window_days": run.window_days, "top_share": float(run.top_share),
                    "metric": run.metric, "as_of": TODAY}
            run.refresh_from_db()
            for lang in ("en", "ja"):
                with translation.override(lang):
                    _assert_stored_equal(scope_a, run, _cohort_rows(reference_cohorts(**args)), size=6)
    assert Partner.objects.filter(tenant=scope_a).exclude(cohort_override="").count() >= 4


def test_a_newer_run_of_the_same_parameters_replaces_the_stored_ranking(scope_a):
    build_varied(scope_a, random.Random(2), 12)
    first = mine_patterns(tenant=scope_a, window_days=90, top_share=0.2, metric="deals", as_of=TODAY)
    other = mine_patterns(tenant=scope_a, window_days=365, top_share=0.2, metric="deals", as_of=TODAY)
    second = mine_patterns(tenant=scope_a, window_days=90, top_share=0.2, metric="deals", as_of=TODAY)
    first.refresh_from_db()
    other.refresh_from_db()
    assert first.cohort_sizes is None and not PatternRank.objects.filter(run=first).exists()
    assert other.cohort_sizes is not None and second.cohort_sizes is not None
    runs = sel.recent_runs(tenant=scope_a)
    assert sel.stored_run(runs, window_days=90, top_share=0.2, metric="deals") == second
    assert sel.stored_run(runs, window_days=365, top_share=0.2, metric="deals") == other
    assert sel.stored_run(runs, window_days=365, top_share=0.2, metric="revenue") is None
    assert sel.stored_run(runs, window_days=90, top_share=0.25, metric="deals") is None


# --- The page ---------------------------------------------------------------------------------------


def _english(member) -> None:
    member.user.language = "en"
    member.user.save(update_fields=["language"])


def _page(client, tenant, query=""):
    return reverse("manage-patterns", kwargs={"tenant_slug": tenant.slug}) + query


def _grow(tenant, n, start):
    tier = f.PartnerTierFactory(tenant=tenant)
    today = timezone.localdate()
    partners = Partner.objects.bulk_create([
        Partner(tenant=tenant, tier=tier, name=f"P {start + i:03d}", status=["active", "nurturing"][i % 2],
                cohort_override=["", "", "", "top", "exclude"][i % 5], joined_on=today - dt.timedelta(days=400))
        for i in range(n)
    ])
    Deal.objects.bulk_create([
        Deal(tenant=tenant, partner=p, customer="c", stage=DealStage.WON, amount=1000 * (i % 4),
             closed_on=today - dt.timedelta(days=i % 200))
        for i, p in enumerate(partners) for _ in range(i % 3)
    ])


def test_page_reads_the_stored_run_with_the_same_queries_for_3_and_30_partners(client, login, manager_a, tenant_a):
    _english(manager_a)
    login(manager_a)
    variants = ["", "?nurture_page=2&others_page=2&excluded_page=9", "?window_days=365&top_share=20&metric=revenue",
                "?window_days=90&top_share=5&metric=deals"]

    def measure():
        with scope(tenant=tenant_a.pk):
            mine_patterns(tenant=tenant_a, window_days=365, top_share=0.2, metric="revenue")
            mine_patterns(tenant=tenant_a, window_days=90, top_share=0.05, metric="deals")
        client.get(_page(client, tenant_a))  # the session and the caches warm
        out = {}
        for v in variants:
            with CaptureQueriesContext(connection) as q:
                r = client.get(_page(client, tenant_a, v))
            assert r.status_code == 200
            sqls = [x["sql"] for x in q.captured_queries]
            # the lists come from the stored ranking: no deal is added up, no partner ranked per request
            assert not [s for s in sqls if "partners_deal" in s], v
            assert 'id="cohorts-source"' in r.content.decode() and "These lists come from the analysis" in r.content.decode()
            out[v] = len(sqls)
        return out

    with scope(tenant=tenant_a.pk):
        _grow(tenant_a, 3, 0)
    few = measure()
    with scope(tenant=tenant_a.pk):
        _grow(tenant_a, 27, 3)
        assert Partner.objects.filter(tenant=tenant_a).count() == 30
    many = measure()
    assert many == few


def test_page_without_a_stored_run_for_its_parameters_computes_live_and_says_so(client, login, manager_a, tenant_a):
    with scope(tenant=tenant_a.pk):
        _grow(tenant_a, 12, 0)
        mine_patterns(tenant=tenant_a, window_days=365, top_share=0.2, metric="revenue")
    _english(manager_a)
    login(manager_a)
    body = client.get(_page(client, tenant_a, "?window_days=120&top_share=10&metric=deals")).content.decode()
    assert "These lists are computed now" in body
    body = client.get(_page(client, tenant_a)).content.decode()
    assert "These lists come from the analysis" in body and "365 days, top 20%" in body


def test_the_page_and_the_assignment_follow_an_override_set_after_the_run(client, login, manager_a, tenant_a):
    with scope(tenant=tenant_a.pk):
        _grow(tenant_a, 20, 0)
        Partner.objects.filter(tenant=tenant_a).update(cohort_override="")
        mine_patterns(tenant=tenant_a, window_days=365, top_share=0.2, metric="revenue")
        moved = Partner.objects.filter(tenant=tenant_a).order_by("name").first()
        path = f.LearningPathFactory(tenant=tenant_a, is_playbook=True)
        f.LearningPathItemFactory(tenant=tenant_a, path=path, asset=f.AssetFactory(tenant=tenant_a), position=1)
    login(manager_a)
    params = {"window_days": 365, "top_share": 20, "metric": "revenue"}
    r = client.post(reverse("manage-patterns-cohort", kwargs={"tenant_slug": tenant_a.slug}),
                    {"partner_id": moved.pk, "cohort_override": CohortOverride.NURTURE, **params})
    assert r.status_code == 302
    with scope(tenant=tenant_a.pk):
        run = PatternRun.objects.get(tenant=tenant_a)
        assert PatternRank.objects.get(run=run, partner=moved).cohort == "nurture"
        nurture = [p.pk for p in sel.stored_cohort_partners(tenant=tenant_a, run=run, cohort="nurture")]
        assert moved.pk in nurture and run.cohort_sizes["nurture"] == len(nurture)
    r = client.post(reverse("manage-patterns-assign", kwargs={"tenant_slug": tenant_a.slug}),
                    {"path_id": path.pk, "due_on": (timezone.localdate() + dt.timedelta(days=9)).isoformat(), **params})
    assert r.status_code == 302
    with scope(tenant=tenant_a.pk):
        from enablement.models import Assignment

        assert sorted(Assignment.objects.filter(source="playbook").values_list("partner_id", flat=True)) == sorted(nurture)


def test_stored_cohorts_stay_in_their_tenant(client, login, manager_a, tenant_a, tenant_b):
    for tenant, prefix in ((tenant_a, "A"), (tenant_b, "B")):
        with scope(tenant=tenant.pk):
            tier = f.PartnerTierFactory(tenant=tenant)
            for i in range(6):
                p = f.PartnerFactory(tenant=tenant, tier=tier, name=f"{prefix}-partner {i}")
                Deal.objects.create(tenant=tenant, partner=p, customer="c", stage=DealStage.WON, amount=100 * (i + 1),
                                    closed_on=timezone.localdate())
            mine_patterns(tenant=tenant)
    login(manager_a)
    body = client.get(_page(client, tenant_a)).content.decode()
    assert "A-partner 5" in body and "B-partner" not in body
    for tenant, prefix in ((tenant_a, "A"), (tenant_b, "B")):
        with scope(tenant=tenant.pk):
            names = set(PatternRank.objects.filter(tenant=tenant).values_list("partner__name", flat=True))
            assert len(names) == 6 and all(n.startswith(prefix) for n in names)
