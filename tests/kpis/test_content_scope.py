"""Content utilisation in a scoped KPI run: the tenant-level row counts *distinct* assets used by
any partner, so the run keeps per-asset partner counts (``KpiResult.asset_uses``) and adjusts them
by the touched partners' old and new assets (``kpis.metrics._StoredParts``) — it reads no other
partner's facts, and its rows equal the brute force and a computation of every partner."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scope
from hypothesis import example, given
from hypothesis import strategies as st

from enablement.services.log import activity_record_many
from kpis import metrics
from kpis.metrics import compute_kpis
from kpis.models import DailyActivityFact, KpiResult
from kpis.periods import recent_periods
from kpis.rollup import rollup_tenant
from kpis.scope import KpiTouched, record_input_change
from tests.kpis import brute
from tests.kpis.test_kpi_job_scope import RECEIVED, _assert_equals_full_recompute, _job, _world
from tests.kpis.test_rollup_properties import HYPOTHESIS, TODAY, World

CONTENT_VERBS = ["document.viewed", "document.downloaded", "training.started", "training.completed", "faq.viewed"]
# (partner 0–2, asset 0–6 — asset 3 is a draft, never counted —, verb, quarter hours after BASE:
# 27 February to 3 March, so both the current and the previous month)
use_st = st.tuples(st.integers(0, 2), st.integers(0, 6), st.sampled_from(CONTENT_VERBS), st.integers(0, 4 * 24 * 4 - 1))


def _send(world, uses) -> None:
    """Log the uses (received after everything before) and keep them for the brute force."""
    world.step += 1
    specs = [(p, 0, verb, a, q, None, None, "", None, None) for p, a, verb, q in uses]
    events = world.events(specs, received_at=RECEIVED + dt.timedelta(hours=world.step), start_index=1000 * world.step)
    with scope(tenant=world.tenant.pk):
        activity_record_many(tenant=world.tenant, events=events)
    world.log += events


def _delete(world, partner: int, asset: int) -> None:
    """A change that takes facts away (no path of the rollup does so in a scoped run today — it only
    adds; its recomputes ask for everything —, but the scoped computation must not depend on it):
    the partner's facts of the asset are deleted, with the marker such a change records."""
    p, a = world.partners[partner], world.assets[asset]
    with scope(tenant=world.tenant.pk):
        days = set(DailyActivityFact.objects.filter(tenant=world.tenant, partner=p, asset=a).values_list("day", flat=True))
        DailyActivityFact.objects.filter(tenant=world.tenant, partner=p, asset=a).delete()
        if days:
            record_input_change(world.tenant.pk, "test.deletion", partner_ids=[p.pk], days=days)
    world.log = [e for e in world.log if not (e.partner_id == p.pk and e.asset_id == a.pk)]


def _content_rows(world) -> dict:
    with scope(tenant=world.tenant.pk):
        return {
            (r.definition_id, r.period_start, r.partner_id): (r.numerator, r.denominator, r.value)
            for r in KpiResult.objects.filter(tenant=world.tenant, definition__metric="content_utilisation")
        }


def _brute_content(world) -> dict:
    assets = {a.pk: (a.kind, a.status == "published") for a in world.assets}
    out = {}
    for d in world.definitions:
        if d.metric != "content_utilisation":
            continue
        partners = {p.pk: (p.status, p.joined_on) for p in world.partners if d.tier_id is None or p.tier_id == d.tier_id}
        for start, end in recent_periods(d.period, TODAY, 1):
            overall, per = brute.kpi(d.metric, events=world.log, partners=partners, assets=assets, pairs=[], supports=[],
                                     start=start, end=end, zone=world.zone)
            out[(d.pk, start, None)] = overall
            out.update({(d.pk, start, pid): c for pid, c in per.items()})
    return out


def _content_world(first) -> World:
    """The scope tests' world after a first log (at least one use: the rollup then has a watermark,
    so the next runs are incremental) and the day's full run."""
    world = _world()
    world.log = []
    _send(world, first)
    full = _job(world)
    assert full["scope"] == "full"
    assert _content_rows(world) == _brute_content(world)
    return world


step_st = st.one_of(
    st.tuples(st.just("uses"), st.lists(use_st, min_size=1, max_size=6)),
    st.tuples(st.just("delete"), st.tuples(st.integers(0, 2), st.integers(0, 6))),
)


@pytest.mark.django_db
@HYPOTHESIS
@given(first=st.lists(use_st, min_size=1, max_size=25), steps=st.lists(step_st, min_size=1, max_size=4))
# partner 1 starts using an asset nobody used (unused → used); partner 0 uses the document partner
# 2 uses too (several partners: still one asset); partner 2's use of it is deleted (partner 0 keeps it
# used), then partner 0's only use of the training (used → unused)
@example(
    first=[(0, 1, "document.viewed", 370), (2, 1, "document.downloaded", 375), (0, 0, "training.started", 372)],
    steps=[("uses", [(1, 6, "document.viewed", 380)]), ("uses", [(0, 1, "document.viewed", 381)]),
           ("delete", (2, 1)), ("delete", (0, 0))],
)
def test_scoped_content_utilisation_equals_the_brute_force_whoever_is_touched(first, steps):
    world = _content_world(first)
    for kind, arg in steps:
        if kind == "uses":
            _send(world, arg)
        else:
            _delete(world, *arg)
        run = _job(world)
        assert run["scope"] == "scoped"
        assert _content_rows(world) == _brute_content(world)
        _assert_equals_full_recompute(world)


def _overall(world, definition, start=dt.date(2026, 3, 1)):
    with scope(tenant=world.tenant.pk):
        return KpiResult.objects.get(definition=definition, partner=None, period_start=start)


@pytest.mark.django_db
def test_the_stored_asset_uses_move_with_one_partners_new_and_deleted_facts():
    """Partners 0 and 1 used the document, partner 0 the training: the overall counts 2 assets and
    the document's 2 partners. Partner 2 starts on the FAQ (3 assets); partner 0's document facts
    go (still used by partner 1); partner 0's training facts go (the training is unused)."""
    world = _content_world([(0, 1, "document.viewed", 370), (1, 1, "document.downloaded", 371),
                            (0, 0, "training.started", 372)])
    content = next(d for d in world.definitions if d.metric == "content_utilisation" and d.tier_id is None)
    doc, training, faq = (str(world.assets[i].pk) for i in (1, 0, 2))
    row = _overall(world, content)
    assert (row.numerator, row.asset_uses) == (2, {doc: 2, training: 1})

    _send(world, [(2, 2, "faq.viewed", 380)])
    run = _job(world)
    assert run["stats"].kpi_touched_partner_ids == {world.partners[2].pk}
    assert run["overall_from_parts"] == run["periods"]  # no content overall counted from every partner's facts
    row = _overall(world, content)
    assert (row.numerator, row.asset_uses) == (3, {doc: 2, training: 1, faq: 1})
    with scope(tenant=world.tenant.pk):
        assert KpiResult.objects.get(definition=content, partner=world.partners[2],
                                     period_start=dt.date(2026, 3, 1)).asset_uses == [world.assets[2].pk]

    _delete(world, 0, 1)
    _job(world)
    row = _overall(world, content)
    assert (row.numerator, row.asset_uses) == (3, {doc: 1, training: 1, faq: 1})
    _delete(world, 0, 0)
    _job(world)
    row = _overall(world, content)
    assert (row.numerator, row.asset_uses) == (2, {doc: 1, faq: 1})
    assert _content_rows(world) == _brute_content(world)
    _assert_equals_full_recompute(world)


@pytest.mark.django_db
def test_rows_stored_without_their_assets_are_counted_from_every_partners_facts():
    """Results stored before the assets were kept (``asset_uses`` null) fall back to the distinct
    count over every partner's facts, then carry their assets."""
    world = _content_world([(0, 1, "document.viewed", 370), (1, 0, "document.viewed", 371)])
    with scope(tenant=world.tenant.pk):
        KpiResult.objects.filter(tenant=world.tenant, definition__metric="content_utilisation").update(asset_uses=None)
    _send(world, [(2, 2, "faq.viewed", 380)])
    run = _job(world)
    assert run["scope"] == "scoped" and run["overall_from_parts"] < run["periods"]
    assert _content_rows(world) == _brute_content(world)
    with scope(tenant=world.tenant.pk):
        assert not KpiResult.objects.filter(tenant=world.tenant, definition__metric="content_utilisation",
                                            partner=None, period_start=dt.date(2026, 3, 1), asset_uses__isnull=True).exists()


FACTS = DailyActivityFact._meta.db_table
PARTNER_IN = re.compile(rf'"?{FACTS}"?\."partner_id" IN \(([^)]*)\)')


@pytest.mark.django_db
def test_a_scoped_runs_statements_read_the_touched_partners_facts_only(monkeypatch):
    """Every statement of the scoped KPI computation that reads the daily facts is restricted to
    the touched partner's ids (captured SQL). The overview summary the job also refreshes is left
    out here: it is rebuilt over every partner (docs/benchmarks.md, "KPI job scope")."""
    world = _content_world([(p, a, "document.viewed", 370 + p + a) for p in range(3) for a in (0, 1, 2)])
    _send(world, [(1, 5, "document.downloaded", 380), (1, 1, "document.viewed", 381)])
    monkeypatch.setattr(metrics, "refresh_overview_summary", lambda *args, **kwargs: False)
    with scope(tenant=world.tenant.pk):
        stats = rollup_tenant(world.tenant)
        touched = KpiTouched.from_stats(stats)
        assert touched.partner_ids == {world.partners[1].pk}
        report: dict = {}
        with CaptureQueriesContext(connection) as queries:
            compute_kpis(world.tenant, today=TODAY, periods_back=1, report=report, touched=touched)
    assert report["scope"] == "scoped" and report["overall_from_parts"] == report["periods"]
    reads = [q["sql"] for q in queries.captured_queries if FACTS in q["sql"]]
    assert reads  # the touched partner's facts were read
    for sql in reads:
        lists = PARTNER_IN.findall(sql)
        assert lists, sql
        for ids in lists:
            assert {int(x) for x in ids.split(",")} <= {world.partners[1].pk}, sql
    monkeypatch.undo()
    _assert_equals_full_recompute(world)

