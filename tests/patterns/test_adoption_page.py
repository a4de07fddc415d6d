"""The playbook adoption table (``adoption_page``): read by place from the order the last KPI run stored
while no input marker is pending, else ordered, counted and paged live in one statement.

Either way the page of rows equals the same slice of the Python reference (``reference_adoption``, the
former implementation) for every page, out-of-range and garbage page numbers clamp as Django's
Paginator clamps them, the table's reads do not grow with the partners assigned (5 against 50), and
one tenant's table never shows or counts another tenant's partners."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.core.paginator import Paginator
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from enablement.models import Assignment, AssignmentTarget, LearningPathItem
from kpis.metrics import compute_kpis
from kpis.models import DailyActivityFact, KpiInputChange, PartnerAssetState
from kpis.patterns import selectors as sel
from kpis.patterns.models import AdoptionRank, AdoptionRanking
from kpis.scope import record_input_change
from partners.deals.models import Deal
from partners.models import Partner
from tests import factories as f
from tests.patterns.test_cohorts_sql import _adoption_key, reference_adoption

pytestmark = pytest.mark.django_db


def _playbook(tenant, n_items: int = 4):
    path = f.LearningPathFactory(tenant=tenant, is_playbook=True)
    assets = [f.AssetFactory(tenant=tenant, kind="training" if i % 2 else "document") for i in range(n_items)]
    for i, a in enumerate(assets):
        f.LearningPathItemFactory(tenant=tenant, path=path, asset=a, position=i + 1)
    return path, assets


def _assigned(tenant, assets, n: int, rng: random.Random, prefix: str = "Partner") -> list[Partner]:
    """``n`` partners assigned the playbook on days spread over 60 days, each having completed some of
    its items before or after, with activity facts and deals around the assignment."""
    start = Partner.objects.filter(tenant=tenant).count()
    partners = Partner.objects.bulk_create([
        Partner(tenant=tenant, name=f"{prefix} {rng.choice('BAC')}{start + i:03d}", joined_on=dt.date(2024, 1, 1))
        for i in range(n)
    ])
    now = timezone.now()
    Assignment.objects.bulk_create([
        Assignment(tenant=tenant, asset=a, target=AssignmentTarget.PARTNER, partner=p, source=sel.PLAYBOOK_SOURCE,
                   due_on=timezone.localdate(), created_at=now - dt.timedelta(days=rng.randint(0, 60), hours=rng.randint(0, 23)))
        for p in partners for a in assets
    ])
    states, facts = [], []
    for p in partners:
        for a in rng.sample(assets, rng.randint(0, len(assets))):
            at = now - dt.timedelta(days=rng.randint(0, 90))
            states.append(PartnerAssetState(tenant=tenant, partner=p, asset=a, first_activity_at=at, last_activity_at=at,
                                            first_completed_at=at if rng.random() < 0.8 else None, active_users=1))
        for d in range(0, 120, rng.randint(2, 9)):
            facts.append(DailyActivityFact(tenant=tenant, partner=p, day=timezone.localdate() - dt.timedelta(days=d),
                                           verb="portal.login", event_count=rng.randint(1, 5), user_count=1))
    PartnerAssetState.objects.bulk_create(states)
    DailyActivityFact.objects.bulk_create(facts)
    for p in rng.sample(partners, len(partners) // 2):
        deal = f.DealFactory(tenant=tenant, partner=p)
        Deal.objects.filter(pk=deal.pk).update(created_at=now - dt.timedelta(days=rng.randint(0, 100)))
    return partners


def test_every_page_equals_the_python_reference_and_clamps_as_the_paginator(scope_a):
    rng = random.Random(5)
    path, assets = _playbook(scope_a)
    _assigned(scope_a, assets, 23, rng)
    f.PartnerFactory(tenant=scope_a, name="Not assigned")
    items = sel.playbook_items(tenant=scope_a, path=path)
    expected = [_adoption_key(r) for r in reference_adoption(tenant=scope_a, path=path, today=timezone.localdate())]
    assert len(expected) == 23 and len({k[10] for k in expected}) > 2  # several completion shares
    paginator = Paginator(expected, 5)
    for asked in (1, 2, 3, 4, 5, 6, 99, 0, -1, "2", "x", None, 2.5):
        page = sel.adoption_page(tenant=scope_a, items=items, page=asked, page_size=5)
        want = paginator.get_page(asked)
        assert (page.count, page.number) == (23, want.number), asked
        assert [_adoption_key(r) for r in page.rows] == list(want.object_list), asked
    everything = sel.adoption_page(tenant=scope_a, items=items, page_size=None)
    assert [_adoption_key(r) for r in everything.rows] == expected and everything.count == 23


def test_the_adoption_table_reads_the_same_queries_for_5_and_50_partners_assigned(scope_a, django_assert_num_queries):
    """No stored order (no KPI run yet): the stored ranking is looked up, one statement orders, counts
    and pages the table (with each partner's first assignment), then the page's completions, events and
    deals: five queries, whatever the number of partners assigned."""
    rng = random.Random(8)
    path, assets = _playbook(scope_a)
    _assigned(scope_a, assets, 5, rng)
    items = sel.playbook_items(tenant=scope_a, path=path)
    with django_assert_num_queries(5):
        few = sel.adoption_page(tenant=scope_a, items=items, page=1, page_size=25)
    _assigned(scope_a, assets, 45, rng)
    for asked in (1, 2):
        with django_assert_num_queries(5):
            many = sel.adoption_page(tenant=scope_a, items=items, page=asked, page_size=25)
        assert len(many.rows) == 25 and many.count == 50
    assert few.count == 5 and len(few.rows) == 5


def _table_rows(response) -> int:
    body = response.content.decode()
    table = body[body.index('id="adoption-table"'):]
    return table[: table.index("</table>")].count("<tr>") - 1  # less the heading's row


def _adoption_reads(captured) -> list[str]:
    return [q["sql"] for q in captured if "enablement_assignment" in q["sql"] or "kpis_partnerassetstate" in q["sql"]]


def test_the_patterns_page_reads_the_adoption_table_in_the_same_queries_for_5_and_50_assigned(
    client, login, manager_a, tenant_a
):
    rng = random.Random(13)
    with scope(tenant=tenant_a.pk):
        path, assets = _playbook(tenant_a)
        _assigned(tenant_a, assets, 5, rng)
    login(manager_a)
    page = reverse("manage-patterns", kwargs={"tenant_slug": tenant_a.slug})
    client.get(page)

    def measure(query: str):
        with CaptureQueriesContext(connection) as q:
            r = client.get(page + query)
        assert r.status_code == 200
        return r, q.captured_queries

    r_few, few = measure("")
    with scope(tenant=tenant_a.pk):
        _assigned(tenant_a, assets, 45, rng)
    r_many, many = measure("")
    r_deep, deep = measure("?adoption_page=2#adoption")
    assert len(few) == len(many) == len(deep)
    # the assignments are read once (order, count, page and first assignment days in one statement), the
    # completions twice (the order's count over the playbook's states, the page's completion dates)
    for captured in (few, many, deep):
        reads = _adoption_reads(captured)
        assert sum("enablement_assignment" in s for s in reads) == 1, reads
        assert sum("kpis_partnerassetstate" in s for s in reads) == 2, reads
    assert r_few.context["adoption_count"] == 5 and r_many.context["adoption_count"] == 50
    assert [_table_rows(r) for r in (r_few, r_many, r_deep)] == [5, 25, 25]  # a page of 25 rows, not 50
    deep_page = r_deep.context["paged"]["adoption"]["page"]
    assert (deep_page.number, deep_page.paginator.num_pages, len(deep_page.object_list)) == (2, 2, 25)
    assert "adoption_page=1#adoption" in r_deep.content.decode()


def test_one_tenant_never_sees_or_counts_another_tenants_adoption(client, login, manager_a, manager_b, tenant_a, tenant_b):
    rng = random.Random(21)
    with scope(tenant=tenant_a.pk):
        path_a, assets_a = _playbook(tenant_a)
        mine = _assigned(tenant_a, assets_a, 3, rng, prefix="Alpha")
    with scope(tenant=tenant_b.pk):
        path_b, assets_b = _playbook(tenant_b)
        theirs = _assigned(tenant_b, assets_b, 7, rng, prefix="Beta")
    with scope(tenant=tenant_a.pk):
        items_a = sel.playbook_items(tenant=tenant_a, path=path_a)
        page = sel.adoption_page(tenant=tenant_a, items=items_a, page_size=25)
        assert page.count == 3 and {r.partner.pk for r in page.rows} == {p.pk for p in mine}
        # tenant B's playbook items handed to tenant A's table: the statement filters every table on the
        # tenant, so nothing of B is read or counted
        with scopes_disabled():
            foreign = list(LearningPathItem.objects.filter(tenant=tenant_b, path=path_b).select_related("asset"))
        assert len(foreign) == 4
        assert sel.adoption_page(tenant=tenant_a, items=foreign, page_size=25).count == 0
    for manager, own, other in ((manager_a, mine, theirs), (manager_b, theirs, mine)):
        login(manager)
        slug = own[0].tenant.slug
        r = client.get(reverse("manage-patterns", kwargs={"tenant_slug": slug}) + "?adoption_page=1")
        body = r.content.decode()
        assert r.context["adoption_count"] == len(own)
        assert all(p.name in body for p in own) and not any(p.name in body for p in other)
        # the other tenant's page is not reachable with this membership
        other_slug = other[0].tenant.slug
        assert client.get(reverse("manage-patterns", kwargs={"tenant_slug": other_slug})).status_code in (403, 404)


def _reference_pages(tenant, path, size: int) -> Paginator:
    return Paginator([_adoption_key(r) for r in reference_adoption(tenant=tenant, path=path, today=timezone.localdate())], size)


def _assert_pages_equal_the_reference(tenant, path, items, size: int = 5) -> None:
    paginator = _reference_pages(tenant, path, size)
    for asked in [*paginator.page_range, 99, "x"]:
        page = sel.adoption_page(tenant=tenant, items=items, page=asked, page_size=size)
        want = paginator.get_page(asked)
        assert (page.count, page.number) == (paginator.count, want.number), asked
        assert [_adoption_key(r) for r in page.rows] == list(want.object_list), asked


def test_after_a_kpi_run_the_table_is_read_by_place_and_equals_the_live_ranking(scope_a, django_assert_num_queries):
    rng = random.Random(34)
    path, assets = _playbook(scope_a)
    partners = _assigned(scope_a, assets, 17, rng)
    items = sel.playbook_items(tenant=scope_a, path=path)
    record_input_change(scope_a.pk, "enablement.assignment")  # what the assignment service writes
    assert not AdoptionRanking.objects.exists()
    compute_kpis(scope_a)  # consumes the markers: the adoption order is stored in the same transaction
    assert not KpiInputChange.objects.filter(tenant=scope_a).exists()
    ranking = AdoptionRanking.objects.get(tenant=scope_a)
    assert (ranking.path_id, ranking.total, ranking.asset_ids) == (path.pk, 17, sorted(a.pk for a in assets))
    assert AdoptionRank.objects.filter(ranking=ranking).count() == 17
    _assert_pages_equal_the_reference(scope_a, path, items)
    with CaptureQueriesContext(connection) as q:
        sel.adoption_page(tenant=scope_a, items=items, page=2, page_size=5)
    sqls = [x["sql"] for x in q.captured_queries]
    assert len(sqls) == 5 and not any("enablement_assignment" in s for s in sqls), sqls  # no live ranking
    # a partner completes every item: while the rollup's marker is pending, the table ranks live
    last = sel.adoption_page(tenant=scope_a, items=items, page_size=None).rows[-1].partner
    PartnerAssetState.objects.filter(partner=last).delete()
    now = timezone.now()
    PartnerAssetState.objects.bulk_create([
        PartnerAssetState(tenant=scope_a, partner=last, asset=a, first_activity_at=now, last_activity_at=now,
                          first_completed_at=now, active_users=1) for a in assets
    ])
    record_input_change(scope_a.pk, "rollup", partner_ids=[last.pk], days=[timezone.localdate()])
    _assert_pages_equal_the_reference(scope_a, path, items)
    assert last.pk in {r.partner.pk for r in sel.adoption_page(tenant=scope_a, items=items, page=1, page_size=5).rows}
    compute_kpis(scope_a)  # and the next run stores the new order
    assert AdoptionRank.objects.get(partner=last).pos <= 5
    _assert_pages_equal_the_reference(scope_a, path, items)
    # an item added to the playbook (its marker consumed by a run that failed to store): the stored
    # order was ranked with other items, so the page ranks live
    extra = f.AssetFactory(tenant=scope_a)
    f.LearningPathItemFactory(tenant=scope_a, path=path, asset=extra, position=9)
    KpiInputChange.objects.filter(tenant=scope_a).delete()
    items = sel.playbook_items(tenant=scope_a, path=path)
    _assert_pages_equal_the_reference(scope_a, path, items)
    assert len(partners) == 17


def test_a_run_with_no_change_keeps_the_stored_order_and_without_a_playbook_none_is_stored(scope_a):
    rng = random.Random(3)
    path, assets = _playbook(scope_a)
    _assigned(scope_a, assets, 4, rng)
    first = sel.store_adoption(tenant=scope_a)
    assert sel.store_adoption(tenant=scope_a, changed=False) is None  # kept
    assert list(AdoptionRanking.objects.values_list("pk", flat=True)) == [first.pk]
    assert sel.store_adoption(tenant=scope_a, changed=True).pk != first.pk  # a change: stored again
    path.is_playbook = False
    path.save()
    assert sel.store_adoption(tenant=scope_a) is None
    assert not AdoptionRanking.objects.exists() and not AdoptionRank.objects.exists()


def test_stored_orders_of_two_tenants_stay_apart(client, login, manager_a, manager_b, tenant_a, tenant_b):
    rng = random.Random(55)
    with scope(tenant=tenant_a.pk):
        path_a, assets_a = _playbook(tenant_a)
        mine = _assigned(tenant_a, assets_a, 6, rng, prefix="Alpha")
        compute_kpis(tenant_a)
    with scope(tenant=tenant_b.pk):
        path_b, assets_b = _playbook(tenant_b)
        theirs = _assigned(tenant_b, assets_b, 9, rng, prefix="Beta")
        compute_kpis(tenant_b)
    with scopes_disabled():
        assert {(r.tenant_id, r.total) for r in AdoptionRanking.objects.all()} == {(tenant_a.pk, 6), (tenant_b.pk, 9)}
        assert all(r.partner.tenant_id == r.tenant_id for r in AdoptionRank.objects.select_related("partner"))
    for manager, own, other in ((manager_a, mine, theirs), (manager_b, theirs, mine)):
        login(manager)
        r = client.get(reverse("manage-patterns", kwargs={"tenant_slug": own[0].tenant.slug}))
        body = r.content.decode()
        assert r.context["adoption_count"] == len(own)
        assert all(p.name in body for p in own) and not any(p.name in body for p in other)


def test_a_stored_page_replaced_between_its_two_reads_is_ranked_live(scope_a):
    """The stored order's rows deleted after its header was read (a KPI run committing a new ranking in
    between): the page is not shown short, it is ranked live."""
    rng = random.Random(89)
    path, assets = _playbook(scope_a)
    _assigned(scope_a, assets, 12, rng)
    items = sel.playbook_items(tenant=scope_a, path=path)
    sel.store_adoption(tenant=scope_a)
    KpiInputChange.objects.filter(tenant=scope_a).delete()  # as the KPI run that stored it: no marker pending
    with CaptureQueriesContext(connection) as q:
        sel.adoption_page(tenant=scope_a, items=items, page=2, page_size=5)
    assert not any("enablement_assignment" in x["sql"] for x in q.captured_queries)  # read by place
    AdoptionRank.objects.filter(tenant=scope_a, pos__in=[6, 7]).delete()
    paginator = _reference_pages(scope_a, path, 5)
    page = sel.adoption_page(tenant=scope_a, items=items, page=2, page_size=5)
    assert [_adoption_key(r) for r in page.rows] == list(paginator.page(2).object_list) and len(page.rows) == 5
    assert [_adoption_key(r) for r in sel.adoption_page(tenant=scope_a, items=items, page=1, page_size=5).rows] == list(
        paginator.page(1).object_list
    )


def test_a_failed_store_leaves_the_kpi_run_done_and_the_page_ranking_live(scope_a, monkeypatch):
    rng = random.Random(144)
    path, assets = _playbook(scope_a)
    _assigned(scope_a, assets, 6, rng)
    items = sel.playbook_items(tenant=scope_a, path=path)
    compute_kpis(scope_a)
    assert AdoptionRanking.objects.filter(tenant=scope_a).exists()
    record_input_change(scope_a.pk, "enablement.assignment")

    def broken(**kwargs):
        AdoptionRank.objects.filter(tenant=scope_a).update(pos=1)  # half-written, then the statement fails
        raise DatabaseError("boom")

    monkeypatch.setattr(sel, "store_adoption", broken)
    compute_kpis(scope_a)  # does not raise: the KPI results and the consumed markers are committed
    assert not KpiInputChange.objects.filter(tenant=scope_a).exists()
    assert not AdoptionRanking.objects.exists() and not AdoptionRank.objects.exists()
    monkeypatch.undo()
    _assert_pages_equal_the_reference(scope_a, path, items)
