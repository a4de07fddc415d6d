"""The full recompute's statements: chunks of consecutive days select their events by the days' UTC
bounds alone (no per-row test of the local day), across a daylight-saving change and with FAQ
answers superseded by answers in later chunks; and (PostgreSQL) the superseded-answer look-up runs
once per event, not once per aggregate that reads the flag."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection, transaction
from django_scopes import scope

from enablement.services.log import activity_record_many
from kpis import rollup
from kpis.rollup import rollup_tenant
from tests.kpis.test_rollup_properties import World, assert_same

pytestmark = pytest.mark.django_db

VERBS = ["faq.feedback", "training.progressed", "faq.viewed", "document.viewed", "faq.searched", "faq.feedback",
         "training.completed", "portal.login", "document.downloaded"]


def _specs(n: int, step: int):
    """n events ``step`` quarter hours apart (so they fall on every side of local midnights), from
    2026-02-27 10:00 UTC over the New York daylight-saving change of 2026-03-08; the FAQ answers
    of a user on the FAQ change day after day, so most are superseded by one in a later chunk."""
    out = []
    for q in range(n):
        verb = VERBS[q % len(VERBS)]
        out.append((q % 2, (q // 3) % 2, verb, 2 if verb.startswith("faq") else q % 2, q * step, float(q % 101),
                    float(q % 7) * 10, "VPN" if q % 4 else "料金", q % 3, q % 3 != 0))
    return out


def _facts_only(snapshot):
    return snapshot | {"results": {}}


def test_chunks_of_consecutive_days_equal_the_brute_force_across_a_daylight_saving_change(settings):
    settings.KPIS_ROLLUP_CHUNK_DAYS = 2
    world = World(tz="America/New_York")
    events = world.events(_specs(90, 13), received_at=dt.datetime(2026, 3, 20, tzinfo=dt.UTC))
    assert {e.occurred_at.astimezone(world.zone).utcoffset() for e in events} == {
        dt.timedelta(hours=-5), dt.timedelta(hours=-4)}  # both sides of the change
    with scope(tenant=world.tenant.pk):
        activity_record_many(tenant=world.tenant, events=events)
        stats = rollup_tenant(world.tenant, full=True)
    assert stats.chunks >= 6
    assert_same(_facts_only(world.snapshot()), _facts_only(world.expected(events)))


def test_a_window_of_days_with_gaps_still_tests_the_local_day():
    """Only consecutive days are selected by bounds alone; other windows keep the per-row test."""
    d = rollup.Dialect(vendor="postgresql", tz="Asia/Tokyo")
    run = rollup.Window(days=[dt.date(2026, 3, 1), dt.date(2026, 3, 2), dt.date(2026, 3, 3)])
    gaps = rollup.Window(days=[dt.date(2026, 3, 1), dt.date(2026, 3, 3)])
    assert "AT TIME ZONE" not in rollup._day_filter(d, run)[0]
    assert "AT TIME ZONE" in rollup._day_filter(d, gaps)[0]
    assert rollup._day_filter(d, run, day_col="day")[0] == " AND day >= %s AND day <= %s"
    assert " IN (" in rollup._day_filter(d, gaps, day_col="day")[0]


def _subplans(plan) -> int:
    own = 1 if plan.get("Parent Relationship") == "SubPlan" else 0
    return own + sum(_subplans(child) for child in plan.get("Plans", []))


@pytest.mark.postgres  # plans are PostgreSQL's: deselected with a note on SQLite, run in the PostgreSQL pass
def test_the_superseded_answer_lookup_runs_once_per_event():
    """Before: the flag sat in an unfenced ``SELECT e.*, flag`` that PostgreSQL flattened, copying
    the look-up into each of the four aggregates reading it (four SubPlans per FAQ answer)."""
    world = World()
    events = world.events(_specs(30, 7), received_at=dt.datetime(2026, 3, 20, tzinfo=dt.UTC))
    statements = []

    def record(execute, sql, params, many, context):
        if sql.startswith(f"INSERT INTO {rollup.DAILY} ") and " AS superseded " in sql:
            statements.append((sql, list(params)))
        return execute(sql, params, many, context)

    with scope(tenant=world.tenant.pk):
        activity_record_many(tenant=world.tenant, events=events)
        with connection.execute_wrapper(record):
            rollup_tenant(world.tenant, full=True)
        assert statements
        for sql, params in statements:
            sid = transaction.savepoint_create()
            try:
                with connection.cursor() as cursor:
                    cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
                    raw = cursor.fetchone()[0]
            finally:
                transaction.savepoint_rollback(sid)
            plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
            assert _subplans(plan) == 1, sql[:300]
    assert_same(_facts_only(world.snapshot()), _facts_only(world.expected(events)))
