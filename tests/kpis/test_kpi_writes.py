"""The periodic KPI job writes only the results whose numbers changed: nothing when nothing happened."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_scopes import scope

from enablement.services.log import activity_record_many
from kpis.models import KpiResult
from kpis.services import kpis_refresh_now
from tests.kpis.test_rollup_properties import BASE, World


def _kpi_writes(queries) -> list[str]:
    table = KpiResult._meta.db_table
    return [
        q["sql"] for q in queries
        if table in q["sql"] and q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]


def _now_events(world, specs, *, received_at, start_index=0):
    """World events moved to the last hours (the KPI job computes the periods around today)."""
    events = world.events(specs, start_index=start_index)
    for e in events:
        e.occurred_at = received_at - dt.timedelta(hours=3) + (e.occurred_at - BASE) / 100
        e.received_at = received_at
    return events


@pytest.mark.django_db
def test_the_kpi_job_with_no_new_events_writes_no_kpi_row():
    world = World()
    now = timezone.now()
    specs = [(0, 0, "document.downloaded", 1, q, None, None, "", None, None) for q in range(0, 300, 20)]
    events = _now_events(world, specs, received_at=now - dt.timedelta(hours=1))
    with scope(tenant=world.tenant.pk):
        activity_record_many(tenant=world.tenant, events=events)
        first = kpis_refresh_now(tenant=world.tenant, periods_back=2)
        assert first.results > 0 and first.written == first.results
        stored = {r.pk: (r.computed_at, r.value) for r in KpiResult.objects.filter(tenant=world.tenant)}
        with CaptureQueriesContext(connection) as ctx:
            again = kpis_refresh_now(tenant=world.tenant, periods_back=2)
        # no new event (the overlap's events were counted already): nothing computed, nothing written
        assert again.scope == "scoped" and again.results == 0 and again.written == 0
        assert _kpi_writes(ctx.captured_queries) == []
        assert {r.pk: (r.computed_at, r.value) for r in KpiResult.objects.filter(tenant=world.tenant)} == stored
        # one more download today: only the rows whose numbers change are written
        more = _now_events(world, specs[:1], received_at=now - dt.timedelta(minutes=30), start_index=1000)
        activity_record_many(tenant=world.tenant, events=more)
        changed = kpis_refresh_now(tenant=world.tenant, periods_back=2)
    assert 0 < changed.written < changed.results
