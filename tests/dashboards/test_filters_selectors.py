"""Period/filter parsing and dashboard selectors (tenant isolation, fail-closed scope)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.http import QueryDict
from django_scopes import ScopeError, scope

from kpis.dashboards import selectors
from kpis.dashboards.filters import parse_filters, period_bounds
from tests.dashboards.conftest import build_dashboard_data

TODAY = dt.date(2026, 11, 18)  # a Wednesday


@pytest.mark.parametrize(
    "kind,start,end",
    [
        ("week", dt.date(2026, 11, 16), dt.date(2026, 11, 22)),
        ("month", dt.date(2026, 11, 1), dt.date(2026, 11, 30)),
        ("quarter", dt.date(2026, 10, 1), dt.date(2026, 12, 31)),
    ],
)
def test_period_bounds(kind, start, end):
    assert period_bounds(kind, TODAY) == (start, end)


def test_defaults_and_previous_period():
    f = parse_filters(QueryDict(""), today=TODAY)
    assert (f.period, f.start, f.end) == ("month", dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    assert (f.prev_start, f.prev_end) == (dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert f.notices == []
    q = parse_filters(QueryDict("period=quarter"), today=dt.date(2026, 2, 3))
    assert (q.prev_start, q.prev_end) == (dt.date(2025, 10, 1), dt.date(2025, 12, 31))


def test_custom_range_and_its_previous_window():
    f = parse_filters(QueryDict("period=custom&from=2026-03-01&to=2026-03-10"), today=TODAY)
    assert (f.start, f.end, f.days) == (dt.date(2026, 3, 1), dt.date(2026, 3, 10), 10)
    assert (f.prev_start, f.prev_end) == (dt.date(2026, 2, 19), dt.date(2026, 2, 28))
    assert "from=2026-03-01" in f.querystring()


@pytest.mark.parametrize(
    "query",
    ["period=year", "period=custom", "period=custom&from=2026-03-10&to=2026-03-01", "period=custom&from=2020-01-01&to=2026-01-01",
     "tier=5", "tier=x", "manager=7", "segment=Nope", "status=asleep"],
)
def test_invalid_values_fall_back_with_a_notice(query):
    f = parse_filters(QueryDict(query), tier_ids={1}, segments={"SMB"}, manager_ids={2}, today=TODAY)
    assert f.notices, query
    assert f.period in ("month", "custom") and f.tier_id is None and f.manager_id is None
    assert f.segment == "" and f.status == ""


def test_valid_filters_are_kept():
    f = parse_filters(QueryDict("tier=1&segment=SMB&manager=2&status=active&q=Acme"), tier_ids={1}, segments={"SMB"},
                      manager_ids={2}, today=TODAY)
    assert (f.tier_id, f.segment, f.manager_id, f.status, f.q, f.notices) == (1, "SMB", 2, "active", "Acme", [])
    assert f.has_partner_filters


def test_selectors_need_a_scope(tenant_a):
    f = parse_filters(QueryDict(""))
    with pytest.raises(ScopeError):
        list(selectors.partners_table(tenant=tenant_a, filters=f))


def test_selectors_do_not_leak_between_tenants(tenant_a, tenant_b, manager_a, manager_b):
    build_dashboard_data(tenant_a, partners=4, manager=manager_a)
    build_dashboard_data(tenant_b, partners=2, manager=manager_b)
    f = parse_filters(QueryDict(""))
    with scope(tenant=tenant_b.pk):
        rows = list(selectors.partners_table(tenant=tenant_b, filters=f))
        assert len(rows) == 2 and all(p.tenant_id == tenant_b.pk for p in rows)
        faq = selectors.faq_analytics(tenant=tenant_b, filters=f)
        assert faq["totals"]["searches"] == 2 * 4  # 2 partners × (3 + 1) searches
        content = selectors.content_usage(tenant=tenant_b, filters=f)
        assert all(u.asset.tenant_id == tenant_b.pk for u in content["rows"])
        assert max(u.partners for u in content["rows"]) == 2
        cards = selectors.kpi_cards(tenant=tenant_b, end=f.end, language="en")
        assert {c.definition.tenant_id for c in cards} == {tenant_b.pk}
        overview = selectors.overview(tenant=tenant_b, filters=f)
        assert overview.partner_count == 2


@pytest.mark.django_db
def test_content_reads_each_assigned_asset_once_not_each_assignment(tenant_a):
    """A playbook assigned to many partners is many assignments of the same few assets: the content
    page asks the database which assets are assigned, one row each (its peak memory grew with the
    assignments at 5,000 partners)."""
    from django.db import connection

    from tests import factories as f

    with scope(tenant=tenant_a.pk):
        asset, in_path, idle = (f.AssetFactory(tenant=tenant_a) for _ in range(3))
        path = f.LearningPathFactory(tenant=tenant_a)
        f.LearningPathItemFactory(tenant=tenant_a, path=path, asset=in_path)
        for _ in range(12):
            partner = f.PartnerFactory(tenant=tenant_a)
            f.AssignmentFactory(tenant=tenant_a, asset=asset, partner=partner)
            f.AssignmentFactory(tenant=tenant_a, asset=None, learning_path=path, partner=partner)
        filters = parse_filters(QueryDict(""), today=dt.date.today())
        fetched = []

        def rows_of_assignment_reads(execute, sql, params, many, context):
            if "enablement_assignment" in sql and not sql.startswith("SELECT COUNT(*) FROM (SELECT"):
                with connection.cursor() as cursor:  # passes this wrapper too, marked by its prefix
                    cursor.execute(f"SELECT COUNT(*) FROM ({sql}) x", params)  # noqa: S608 - the statement itself
                    fetched.append(cursor.fetchone()[0])
            return execute(sql, params, many, context)

        with connection.execute_wrapper(rows_of_assignment_reads):
            rows = selectors.content_usage(tenant=tenant_a, filters=filters)["rows"]
    assert fetched and max(fetched) == 1, fetched
    assert {u.asset.pk: u.assigned for u in rows} == {asset.pk: True, in_path.pk: True, idle.pk: False}
