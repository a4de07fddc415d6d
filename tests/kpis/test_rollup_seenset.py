"""The incremental run right after a full recompute (the seen-events set nearly empty, the
statistics taken then): writing the run's batch into the set checks each window event against
the set's unique index — never a scan of the set per event, which also reads every row the
statement has inserted so far (quadratic in the batch) — and no statement of the run is
JIT-compiled (a fixed cost per statement that the history's statistics, not the new events,
switched on). PostgreSQL plans and settings; no wall-clock time is asserted."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection
from django_scopes import scope

from kpis.models import MergedEvent
from kpis.rollup import rollup_tenant
from tests.kpis.test_rollup_lookups import DAY10, _record, _searches_and_views
from tests.kpis.test_rollup_properties import World, assert_same

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

RUN_STEPS = ("scan", "new events", "daily facts", "source facts", "FAQ search facts", "user states", "partner states")


def _nodes(plan):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _world_after_full_recompute():
    """A tenant whose history was rolled up by a full recompute, then ANALYZEd (the set holds
    only what the recompute left in it), and a batch of new events."""
    world = World()
    history = _searches_and_views(world, 10, start_index=0, day=0, received_at=DAY10)
    _record(world, history)
    with scope(tenant=world.tenant.pk):
        rollup_tenant(world.tenant, full=True)
        assert MergedEvent.objects.filter(tenant=world.tenant).count() <= len(history)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE kpis_mergedevent")
        cursor.execute("ANALYZE enablement_activityevent")
    batch = _searches_and_views(world, 40, start_index=100, day=1, received_at=DAY10 + dt.timedelta(days=1))
    _record(world, batch)
    return world, history + batch


def _run(world, on_statement):
    step = {"name": ""}

    def wrapper(execute, sql, params, many, context):
        on_statement(step["name"], sql, params)
        return execute(sql, params, many, context)

    with scope(tenant=world.tenant.pk), connection.execute_wrapper(wrapper):
        return rollup_tenant(world.tenant, progress=lambda name: step.update(name=name))


def test_the_batch_is_written_to_the_seen_set_without_scanning_it():
    world, events = _world_after_full_recompute()
    plans = []

    def plan_of_the_set_write(step, sql, params):
        if step == "new events" and sql.lstrip().startswith("INSERT INTO kpis_mergedevent"):
            # the plan the statement gets now, planned from the set as it is before it runs
            with connection.connection.cursor() as raw:  # not through Django's wrappers
                raw.execute("EXPLAIN (FORMAT JSON) " + sql, params)
                raw_plan = raw.fetchone()[0]
            plans.append((json.loads(raw_plan) if isinstance(raw_plan, str) else raw_plan)[0]["Plan"])

    stats = _run(world, plan_of_the_set_write)
    assert stats.merged_events == 80
    assert len(plans) == 1
    reads = [n for n in _nodes(plans[0]) if n.get("Relation Name") == "kpis_mergedevent" and n["Node Type"] != "ModifyTable"]
    # the unique index itself skips what the set holds (ON CONFLICT): no scan or probe of the set
    assert reads == [], [(n["Node Type"], n.get("Parent Relationship")) for n in reads]
    assert plans[0]["Node Type"] == "ModifyTable" and plans[0].get("Conflict Resolution") == "NOTHING"
    snap = world.snapshot() | {"results": {}}
    assert_same(snap, world.expected(events) | {"results": {}})


def test_no_statement_of_the_incremental_run_is_jit_compiled():
    world, events = _world_after_full_recompute()
    settings: dict[str, set[str]] = {}

    restored = []

    def jit_setting(step, sql, params):
        if "set_config('jit', %s" in sql:  # the run sets it back: the bookkeeping after it is not the merge
            restored.append(step)
        elif step in RUN_STEPS and not restored and "set_config('jit'" not in sql:
            with connection.connection.cursor() as raw:  # the setting the statement runs with
                raw.execute("SELECT current_setting('jit')")
                settings.setdefault(step, set()).add(raw.fetchone()[0])

    _run(world, jit_setting)
    assert set(settings) >= {"scan", "new events", "daily facts", "FAQ search facts", "user states", "partner states"}
    assert all(values == {"off"} for values in settings.values()), settings
    snap = world.snapshot() | {"results": {}}
    assert_same(snap, world.expected(events) | {"results": {}})
