"""The tables the incremental rollup merges into keep free room on each page (kpis 0032), and the
merge updates only columns that no index covers: every update it makes is a heap-only (HOT) update
that touches no index. PostgreSQL's catalogue and its per-transaction statistics; no time asserted."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django_scopes import scope

from kpis.rollup import rollup_tenant
from tests.kpis.test_rollup_lookups import DAY10, _record, _searches_and_views
from tests.kpis.test_rollup_properties import World

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

MERGED = ("kpis_dailyactivityfact", "kpis_dailysourcefact", "kpis_faqsearchfact", "kpis_userassetstate",
          "kpis_partnerassetstate")


def test_the_merged_tables_leave_room_on_each_page():
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname, reloptions FROM pg_class WHERE relname = ANY(%s)", [list(MERGED)])
        options = dict(cursor.fetchall())
    assert options == {table: ["fillfactor=85"] for table in MERGED}


def _updates():
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = ANY(%s)",
                       [list(MERGED)])
        return {name: (upd, hot) for name, upd, hot in cursor.fetchall()}


def test_a_merge_into_existing_rows_updates_them_without_touching_an_index():
    world = World()
    _record(world, _searches_and_views(world, 12, start_index=0, day=0, received_at=DAY10))
    with scope(tenant=world.tenant.pk):
        rollup_tenant(world.tenant)
    before = _updates()
    # the same users, assets, queries and day again: every row the merge touches exists already
    _record(world, _searches_and_views(world, 12, start_index=100, day=0, received_at=DAY10 + dt.timedelta(hours=1)))
    with scope(tenant=world.tenant.pk):
        stats = rollup_tenant(world.tenant)
    assert stats.merged_events == 24
    after = _updates()
    grown = {t: (after[t][0] - before.get(t, (0, 0))[0], after[t][1] - before.get(t, (0, 0))[1]) for t in after}
    for table in ("kpis_dailyactivityfact", "kpis_faqsearchfact", "kpis_userassetstate", "kpis_partnerassetstate"):
        updated, hot = grown[table]
        assert updated > 0, (table, grown)
        assert hot == updated, (table, grown)  # an index on an updated column would make these differ
