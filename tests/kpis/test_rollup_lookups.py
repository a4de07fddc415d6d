"""The incremental rollup's cost follows the new events: the FAQ step and the scan issue the same
statements whatever the number of new searches, and (PostgreSQL) every probe of the seen-events set
and every follow-up / earlier-answer lookup is one bounded lookup per row — never a join planned
from the set's stale statistics (quadratic in the batch) nor a hash of the tenant's history.
No wall-clock time is asserted; the plans are read with ``EXPLAIN (ANALYZE, FORMAT JSON)``."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter

import pytest
from django.db import connection, transaction
from django_scopes import scope

from enablement.services.log import activity_record_many
from kpis.rollup import rollup_tenant
from tests.kpis.test_rollup_properties import BASE, World, assert_same

pytestmark = pytest.mark.django_db

DAY10 = BASE + dt.timedelta(days=10)
MERGED_PROBE = re.compile(r"EXISTS \(SELECT 1 FROM kpis_mergedevent")
# an index condition that refers to the row being looked up for (``user_id = n.user_id``)
PER_ROW = re.compile(r"\(\w+ = \w+\.\w+\)")


def _searches_and_views(world, n: int, *, start_index: int, day: int, received_at):
    """n searches of the users of partner 0 and n FAQ views 5 minutes after each (every second
    one a "no" answer instead), plus one view of the first search of the batch before."""
    specs = []
    for i in range(n):
        quarter = 4 * 24 * day + i
        specs.append((0, i % 2, "faq.searched", 2, quarter, None, None, f"VPN {i % 3}", i % 2, None))
        specs.append((0, i % 2, "faq.viewed" if i % 2 else "faq.feedback", 2, quarter, None, None, "", None, False))
    events = world.events(specs, start_index=start_index, received_at=received_at)
    for e in events[1::2]:
        e.occurred_at += dt.timedelta(minutes=5)
    return events


def _record(world, events):
    with scope(tenant=world.tenant.pk):
        activity_record_many(tenant=world.tenant, events=events)


def _rollup_recording(world):
    """One incremental run; returns [(step, sql, params)] of every statement it issued."""
    statements: list[tuple[str, str, list]] = []
    step = {"name": ""}

    def record(execute, sql, params, many, context):
        statements.append((step["name"], sql, list(params or [])))
        return execute(sql, params, many, context)

    with scope(tenant=world.tenant.pk), connection.execute_wrapper(record):
        rollup_tenant(world.tenant, progress=lambda name: step.update(name=name))
    return statements


def _steps(statements, names=("scan", "new events", "FAQ search facts")) -> Counter:
    return Counter(s for s, _, _ in statements if s in names)


def test_the_faq_step_issues_the_same_statements_for_few_and_many_searches():
    world = World()
    first = world.events([(0, 0, "faq.searched", 2, 4, None, None, "VPN", 3, None)], received_at=DAY10)
    _record(world, first)
    _rollup_recording(world)
    few = _searches_and_views(world, 1, start_index=10, day=1, received_at=DAY10 + dt.timedelta(days=1))
    _record(world, few)
    small = _rollup_recording(world)
    many = _searches_and_views(world, 30, start_index=100, day=2, received_at=DAY10 + dt.timedelta(days=2))
    _record(world, many)
    large = _rollup_recording(world)
    assert _steps(small)["FAQ search facts"] == 2
    assert _steps(small) == _steps(large)
    snap = world.snapshot() | {"results": {}}
    assert_same(snap, world.expected(first + few + many) | {"results": {}})


def _plan_nodes(plan, under_subplan=False, inner=False, hashed=False, joins=""):
    """Every node with: under a SubPlan (a per-row probe), on the inner side of a nested loop or
    a SubPlan (looked up per outer row), under a Hash (built from all its input), and the join
    filters of the nodes above it (a per-row condition the planner applied one level up)."""
    relationship = plan.get("Parent Relationship")
    sub = under_subplan or relationship == "SubPlan"
    inner = inner or relationship in ("SubPlan", "Inner")
    hashed = hashed or plan.get("Node Type") == "Hash"
    yield plan, sub, inner, hashed, joins
    joins = joins + plan.get("Join Filter", "")
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child, sub, inner, hashed, joins)


def _explain_analyze(sql, params):
    """The statement's executed plan; whatever it writes (and the setting) is rolled back. Sequential
    scans are off for it: on these few test rows the planner may read a whole tiny table per row,
    which says nothing about the plan at scale, where the history is never read whole per row."""
    sid = transaction.savepoint_create()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
            raw = cursor.fetchone()[0]
    finally:
        transaction.savepoint_rollback(sid)
    return (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]


@pytest.mark.postgres  # plans are PostgreSQL's: deselected with a note on SQLite, run in the PostgreSQL pass
def test_each_new_event_is_probed_and_followed_up_by_one_lookup():
    world = World()
    first = _searches_and_views(world, 4, start_index=0, day=0, received_at=DAY10)
    _record(world, first)
    _rollup_recording(world)
    with connection.cursor() as cursor:  # statistics that know the history, as in production
        cursor.execute("ANALYZE enablement_activityevent")
        cursor.execute("ANALYZE kpis_mergedevent")
    batch = _searches_and_views(world, 20, start_index=100, day=0, received_at=DAY10 + dt.timedelta(days=1))
    # a second answer on the same FAQ: the earlier answers' days and partners are looked up
    _record(world, batch)
    statements = _rollup_recording(world)
    checked_probes = checked_scans = 0
    for step, sql, params in statements:
        probes = MERGED_PROBE.search(sql) is not None
        lookups = step in ("scan", "new events", "FAQ search facts") and "enablement_activityevent" in sql
        if not (probes or lookups):
            continue
        with scope(tenant=world.tenant.pk):
            plan = _explain_analyze(sql, params)
        for node, under_subplan, inner, hashed, joins in _plan_nodes(plan):
            relation = "" if node["Node Type"] == "ModifyTable" else node.get("Relation Name", "")
            if probes and relation == "kpis_mergedevent":
                # a per-row probe (SubPlan), never a semi/anti-join built from stale statistics
                assert under_subplan, (step, sql[:200], node.get("Node Type"))
                checked_probes += 1
            if lookups and relation.startswith("enablement_activityevent"):
                # the log is never hashed whole; a scan driven by another row is bounded by it
                # (``user_id = n.user_id`` in its index condition or, on a table this small, its filter)
                assert not hashed, (step, sql[:200], node.get("Node Type"))
                if inner:
                    cond = node.get("Index Cond", "") + node.get("Recheck Cond", "") + node.get("Filter", "") + joins
                    assert PER_ROW.search(cond), (step, sql[:200], node.get("Node Type"), cond)
                    checked_scans += 1
    assert checked_probes and checked_scans
    snap = world.snapshot() | {"results": {}}
    assert_same(snap, world.expected(first + batch) | {"results": {}})
