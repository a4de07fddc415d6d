"""Dashboards at scale: every page and partial issues EXACTLY the same queries and renders a bounded
page whatever the number of partners — tables sorted, filtered and paged in the database.

One tenant is measured at 40 partners, then grown to 400 and 600 (the same kinds of rows per partner)
and measured again: the query count must be equal (django_assert_num_queries), and from 400 to 600
the HTML may only differ by the figures it prints (page counts, totals), never by a row per partner."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope

from kpis.dashboards.filters import period_bounds
from kpis.models import DailyActivityFact, FaqSearchFact, KpiInputChange, KpiResult, PartnerAssetState
from kpis.overview import refresh_overview_summary
from partners.deals.models import Deal, DealStage
from partners.models import Partner, SupportActivity
from tests.dashboards.conftest import build_dashboard_data

SMALL, BIG = 40, 400
# Once every capped list is full (25 rows a page, 15 partners at risk, top/nurturing cohorts), 1.5×
# the partners may change the HTML only by wider figures; a row per partner would add ~40 %.
HTML_GROWTH = 1.05
MORE = 200
# The statements of each page at every size (SQLite and PostgreSQL alike). The overview computes its
# tier table and at-risk list in one statement (was 21 / 18 and 31 / 28 filtered, when it read the
# tenant's pairs into Python); the partners pages sum certification coverage in SQL (was 21 / 19).
# The overview reads the KPI job's summary first (kpis.overview): one statement, and the live statement
# too while the summary is not current — as here, where no job has run (+1); see PINNED_SUMMARY. The filtered
# page's completion card counts its pairs in one statement (was 26 / 23: the pairs and completions read into Python);
# it reads the summary too, its filters a WHERE on the per-partner rows (was 23 / 20 live only, +1 while not current).
# The filtered cards take the filter bar's partners as a sub-query (was 24 / 21: the ids, the partner rows and
# their snapshots read into Python; the completion card now tries the KPI job's pair counts first).
PINNED = {
    "overview": 17, "overview (htmx)": 14, "overview-filtered": 23, "overview-filtered (htmx)": 20,
    "partners": 18, "partners (htmx)": 16, "partners-by-downloads": 18, "partners-by-downloads (htmx)": 16,
    "partners-by-completion": 18, "partners-by-completion (htmx)": 16,
}
PINNED.update({"patterns": 10})  # success patterns: 17 before the cohorts became one statement (cohort_pages)


# With the summary current, the filtered completion card reads its pairs from it too (was 23 / 20).
PINNED_SUMMARY = {"overview": 16, "overview (htmx)": 13, "overview-filtered": 21, "overview-filtered (htmx)": 18}


def _url(name, **kwargs):
    return reverse(name, kwargs={"tenant_slug": "acme", **kwargs})


def _pages(data) -> dict[str, tuple[str, dict]]:
    keyword = _url("manage-faq-keyword") + "?keyword=" + "ライセンス 更新"
    pages = {
        "overview": _url("manage-overview"),
        "overview-filtered": _url("manage-overview") + f"?period=quarter&tier={data['gold'].pk}&status=nurturing",
        "partners": _url("manage-partners"),
        "partners-by-downloads": _url("manage-partners") + "?sort=-downloads&page=2",
        "partners-by-completion": _url("manage-partners") + "?sort=completion&segment=SMB",
        "scorecard": _url("manage-partner", partner_id=data["first"].pk),
        "content": _url("manage-content"),
        "faq": _url("manage-faq"),
        "faq-keyword": keyword,
        "teams": _url("manage-teams"),
        "patterns": _url("manage-patterns"),
        "partner-nba": _url("manage-partner-nba", partner_id=data["first"].pk),
    }
    out = {}
    for key, page_url in pages.items():
        out[key] = (page_url, {})
        out[f"{key} (htmx)"] = (page_url, {"HTTP_HX_REQUEST": "true"})
    return out


def _grow(tenant, data, n: int) -> None:
    """``n`` more partners with the same rows per partner as build_dashboard_data, plus won deals
    (the success-pattern cohorts) and support activities."""
    today = timezone.localdate()
    month_start, month_end = period_bounds("month", today)
    with scope(tenant=tenant.pk):
        existing = Partner.objects.filter(tenant=tenant).count()
        first = data["first"]
        silver = data["partners"][1].tier
        rows = Partner.objects.bulk_create(
            [
                Partner(
                    tenant=tenant, name=f"パートナー {existing + i:04d}", tier=data["gold"] if i % 2 == 0 else silver,
                    segment="SMB" if i % 3 else "Enterprise", status="active" if i % 4 else "nurturing",
                    manager=first.manager, joined_on=today - dt.timedelta(days=300),
                )
                for i in range(n)
            ]
        )
        facts, states, faq_facts, results, deals, support = [], [], [], [], [], []
        for i, p in enumerate(rows):
            facts += [
                DailyActivityFact(tenant=tenant, partner=p, asset=data["training"], day=month_start,
                                  verb="training.completed", event_count=1, user_count=1),
                DailyActivityFact(tenant=tenant, partner=p, asset=data["document"], day=month_start,
                                  verb="document.downloaded", event_count=i % 5, user_count=1),
            ]
            states.append(PartnerAssetState(tenant=tenant, partner=p, asset=data["training"], active_users=1,
                                            last_activity_at=timezone.now() - dt.timedelta(days=i % 40)))
            faq_facts.append(FaqSearchFact(tenant=tenant, partner=p, day=month_start, query="ライセンス 更新", searches=3,
                                           zero_result_searches=0, unresolved_searches=2))
            results.append(KpiResult(tenant=tenant, definition=data["definition"], partner=p, period_start=month_start,
                                     period_end=month_end, numerator=1, denominator=2, value=Decimal(i % 100),
                                     target=data["definition"].target, status="off_track"))
            if i % 3 == 0:
                deals.append(Deal(tenant=tenant, partner=p, customer=f"顧客 {i}", amount=Decimal(1000 + i),
                                  stage=DealStage.WON, closed_on=today - dt.timedelta(days=i % 200)))
            support.append(SupportActivity(tenant=tenant, partner=p, manager=first.manager, kind="meeting",
                                           occurred_on=today, notes=""))
        DailyActivityFact.objects.bulk_create(facts, batch_size=2000)
        PartnerAssetState.objects.bulk_create(states, batch_size=2000)
        FaqSearchFact.objects.bulk_create(faq_facts, batch_size=2000)
        KpiResult.objects.bulk_create(results, batch_size=2000)
        Deal.objects.bulk_create(deals, batch_size=2000)
        SupportActivity.objects.bulk_create(support, batch_size=2000)
        assert Partner.objects.filter(tenant=tenant).count() == existing + n


def _measure(client, pages) -> dict[str, tuple[int, int]]:
    out = {}
    for key, (page_url, headers) in pages.items():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(page_url, **headers)
        assert response.status_code == 200, (key, response.status_code)
        out[key] = (len(queries.captured_queries), len(response.content))
    return out


def test_every_dashboard_page_is_flat_in_queries_and_html_from_40_to_600_partners(
    client, login, manager_a, tenant_a, django_assert_num_queries
):
    data = build_dashboard_data(tenant_a, partners=SMALL, manager=manager_a)
    login(manager_a)
    pages = _pages(data)
    client.get(_url("manage-overview"))  # warm per-session caches (language, tenant) out of the figures
    small = _measure(client, pages)
    assert {key: small[key][0] for key in PINNED} == PINNED
    _grow(tenant_a, data, BIG - SMALL)
    big = {}
    for key, (page_url, headers) in pages.items():
        with django_assert_num_queries(small[key][0]):
            response = client.get(page_url, **headers)
        assert response.status_code == 200, key
        big[key] = len(response.content)
    _grow(tenant_a, data, MORE)
    bigger = {}
    for key, (page_url, headers) in pages.items():
        with django_assert_num_queries(small[key][0]):
            response = client.get(page_url, **headers)
        assert response.status_code == 200, key
        bigger[key] = len(response.content)
    too_big = {key: (big[key], size) for key, size in bigger.items() if size > big[key] * HTML_GROWTH}
    assert not too_big, too_big
    # once the KPI job has consumed the markers and kept the overview's counts: the summary alone
    with scope(tenant=tenant_a.pk):
        KpiInputChange.objects.filter(tenant=tenant_a).delete()  # as a KPI run that read them
        assert refresh_overview_summary(tenant_a, timezone.localdate(timezone=tenant_a.zoneinfo))
    summary = {key: pages[key] for key in PINNED_SUMMARY}
    assert {key: n for key, (n, _size) in _measure(client, summary).items()} == PINNED_SUMMARY


def test_partners_table_pages_in_sql(client, login, manager_a, tenant_a, django_assert_num_queries):
    """Page 2 of a sort by a figure holds the rows a full sort puts there, and reads only them:
    the page's SELECT carries a LIMIT, not one row per partner."""
    build_dashboard_data(tenant_a, partners=60, manager=manager_a)
    login(manager_a)
    with CaptureQueriesContext(connection) as queries:
        body = client.get(_url("manage-partners") + "?sort=-downloads&page=2").content.decode()
    selects = [q["sql"] for q in queries.captured_queries if 'FROM "partners_partner"' in q["sql"] and "LIMIT 25" in q["sql"]]
    assert selects, "the partners page reads one LIMITed page"
    # downloads are i % 5 per partner (build_dashboard_data): 12 partners each of 4, 3, 2, 1, 0 →
    # page 2 (rows 26–50) holds the rest of the 2s, the 1s and the first 0s, in name order within a value
    with scope(tenant=tenant_a.pk):
        ordered = sorted(Partner.objects.filter(tenant=tenant_a), key=lambda p: (-(int(p.name[-4:]) % 5), p.name))
    expected = [p.name for p in ordered[25:50]]
    positions = [body.index(name + "</a>") for name in expected]
    assert positions == sorted(positions)
    assert ordered[24].name + "</a>" not in body and ordered[50].name + "</a>" not in body


def test_patterns_page_renders_one_page_of_forms(client, login, manager_a, tenant_a):
    data = build_dashboard_data(tenant_a, partners=SMALL, manager=manager_a)
    _grow(tenant_a, data, 60)
    login(manager_a)
    body = client.get(_url("manage-patterns")).content.decode()
    forms = body.count('name="cohort_override"')
    assert 0 < forms <= 4 * 25  # top, nurturing, others, excluded: one page each
    # partners without a won deal tie at the bottom of the ranking: most of them need nurturing
    assert "nurture_page=2" in body
    page2 = client.get(_url("manage-patterns") + "?nurture_page=2").content.decode()
    assert 0 < page2.count('name="cohort_override"') <= 4 * 25 and "nurture_page=1" in page2
    others = client.get(_url("manage-patterns") + "?others_page=2").content.decode()
    assert "<details class=\"card\" open>" in others  # the folded list opens on its own pages


def test_scorecard_reads_only_its_partners_pairs(client, login, manager_a, tenant_a, monkeypatch):
    """The scorecard selects one partner's pairs (frozen and live) in the database: the pairs it
    materialises do not grow from 40 to 400 partners, and they are that partner's pairs of the
    whole tenant's targeting."""
    from kpis import targeting
    from kpis.dashboards import selectors

    data = build_dashboard_data(tenant_a, partners=SMALL, manager=manager_a)
    with scope(tenant=tenant_a.pk):
        # the gold training is due before today: freeze it so both the frozen and the live branch are read
        targeting.pairs_freeze(tenant=tenant_a, through=timezone.localdate() - dt.timedelta(days=1))
        assert targeting.frozen_through(tenant=tenant_a) is not None
    read: list[list] = []

    def spy(**kwargs):
        pairs = targeting.targeted_pairs(**kwargs)
        read.append(pairs)
        return pairs

    monkeypatch.setattr(selectors, "targeted_pairs", spy)
    login(manager_a)
    page = _url("manage-partner", partner_id=data["first"].pk)
    assert client.get(page).status_code == 200
    small = [len(pairs) for pairs in read]
    _grow(tenant_a, data, BIG - SMALL)
    read.clear()
    assert client.get(page).status_code == 200
    assert [len(pairs) for pairs in read] == small and small and small[0] > 0
    with scope(tenant=tenant_a.pk):
        everyone = targeting.targeted_pairs(tenant=tenant_a)
    assert len(everyone) > 10 * small[0]
    assert sorted(read[0]) == sorted(p for p in everyone if p.partner_id == data["first"].pk)
    assert {p.partner_id for p in read[0]} == {data["first"].pk}
