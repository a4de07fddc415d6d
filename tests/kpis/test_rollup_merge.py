"""The incremental rollup merges only the new events into the facts (additive upserts, the
seen-events set ``MergedEvent``), and the full recompute runs in committed, resumable chunks.
Every test compares with the brute-force recomputation of tests/kpis/brute.py."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django_scopes import scope

from enablement.services.log import activity_record_many
from kpis import rollup
from kpis.models import DailyActivityFact, FaqSearchFact, MergedEvent, RollupState, UserAssetState
from kpis.rollup import rollup_tenant
from tests.kpis.test_rollup_properties import BASE, World, assert_same

pytestmark = pytest.mark.django_db

DAY10 = BASE + dt.timedelta(days=10)


def _record(world, events):
    with scope(tenant=world.tenant.pk):
        activity_record_many(tenant=world.tenant, events=events)


def _facts_only(snapshot):
    return snapshot | {"results": {}}


def _rollup(world, **kw):
    with scope(tenant=world.tenant.pk):
        return rollup_tenant(world.tenant, **kw)


def test_a_late_view_resolves_an_old_search_in_place():
    """A search merged as unresolved; a view of the same user 10 minutes later arrives in a later
    run: the key's row is updated where it is (same pk), not deleted and recomputed."""
    world = World()
    search = world.events([(0, 0, "faq.searched", 0, 4, None, None, "VPN", 3, None)], received_at=DAY10)
    _record(world, search)
    _rollup(world)
    with scope(tenant=world.tenant.pk):
        row = FaqSearchFact.objects.get(tenant=world.tenant)
    assert (row.searches, row.unresolved_searches) == (1, 1)
    view = world.events([(0, 0, "faq.viewed", 2, 4, None, None, "", None, None)], start_index=1,
                        received_at=DAY10 + dt.timedelta(days=1))
    view[0].occurred_at = search[0].occurred_at + dt.timedelta(minutes=10)
    _record(world, view)
    _rollup(world)
    with scope(tenant=world.tenant.pk):
        again = FaqSearchFact.objects.get(tenant=world.tenant)
    assert again.pk == row.pk and (again.searches, again.unresolved_searches) == (1, 0)
    # a "no" answer inside the window makes it unresolved again
    no = world.events([(0, 0, "faq.feedback", 2, 4, None, None, "", None, False)], start_index=2,
                      received_at=DAY10 + dt.timedelta(days=2))
    no[0].occurred_at = search[0].occurred_at + dt.timedelta(minutes=20)
    _record(world, no)
    _rollup(world)
    assert_same(_facts_only(world.snapshot()), _facts_only(world.expected(search + view + no)))
    with scope(tenant=world.tenant.pk):
        assert FaqSearchFact.objects.get(tenant=world.tenant).unresolved_searches == 1


def test_a_new_answer_supersedes_the_earlier_one_on_another_day():
    world = World()
    first = world.events([(0, 0, "faq.feedback", 2, 4, None, None, "", None, False)], received_at=DAY10)
    _record(world, first)
    _rollup(world)
    later = world.events([(0, 0, "faq.feedback", 2, 4 * 24 * 2, None, None, "", None, True)], start_index=1,
                         received_at=DAY10 + dt.timedelta(days=1))
    _record(world, later)
    _rollup(world)
    snap = world.snapshot()
    assert_same(_facts_only(snap), _facts_only(world.expected(first + later)))
    feedback = {k: v for k, v in snap["daily"].items() if k[3] == "faq.feedback"}
    # only the latest answer counts; the earlier one's day keeps its row with nothing counted (the
    # answer happened: its partner stays active that day)
    assert [v[0] for _k, v in sorted(feedback.items())] == [0, 1]


def test_distinct_users_merge_across_runs():
    """The same user on the same key and day in two runs counts once; another user adds one."""
    world = World()
    a = world.events([(0, 0, "document.viewed", 1, 8, None, None, "", None, None)], received_at=DAY10)
    b = world.events([(0, 0, "document.viewed", 1, 9, None, None, "", None, None),
                      (0, 1, "document.viewed", 1, 10, None, None, "", None, None)], start_index=1,
                     received_at=DAY10 + dt.timedelta(days=1))
    _record(world, a)
    _rollup(world)
    _record(world, b)
    _rollup(world)
    with scope(tenant=world.tenant.pk):
        fact = DailyActivityFact.objects.get(tenant=world.tenant, verb="document.viewed")
    assert (fact.event_count, fact.user_count) == (3, 2)
    assert_same(_facts_only(world.snapshot()), _facts_only(world.expected(a + b)))


def test_the_overlap_is_counted_once_and_the_seen_set_stays_small(settings):
    settings.KPIS_ROLLUP_OVERLAP_SECONDS = 3600
    world = World()
    specs = [(0, 0, "document.downloaded", 1, q, None, None, "", None, None) for q in range(0, 40, 2)]
    events = world.events(specs, received_at=DAY10)
    _record(world, events)
    _rollup(world)
    for run in range(3):  # the same events stay inside the overlap of every run: no change
        stats = _rollup(world)
        assert stats.merged_events == 0, run
    assert_same(_facts_only(world.snapshot()), _facts_only(world.expected(events)))
    later = world.events([(1, 0, "portal.login", 0, 50, None, None, "", None, None)], start_index=100,
                         received_at=DAY10 + dt.timedelta(days=1))
    _record(world, later)
    stats = _rollup(world)
    assert stats.merged_events == 1
    with scope(tenant=world.tenant.pk):  # only what the next window can still see is kept
        assert MergedEvent.objects.filter(tenant=world.tenant).count() == 1


@pytest.mark.parametrize("step", ["_merge_feedback", "_merge_sources", "_merge_faq", "_prune_merged"])
def test_a_killed_incremental_run_redelivered_counts_every_event_once(step):
    world = World()
    first = world.events([(p, u, v, a, q, 50.0, 10.0, "vpn", 0, False)
                          for q, (p, u, v, a) in enumerate([(0, 0, "faq.searched", 0), (0, 0, "faq.feedback", 2),
                                                            (1, 1, "training.progressed", 0), (0, 1, "portal.login", 0)])],
                         received_at=DAY10)
    rest = world.events([(0, 0, "faq.viewed", 2, 1, None, None, "", None, None),
                         (0, 0, "faq.feedback", 2, 30, None, None, "", None, True),
                         (1, 1, "training.completed", 0, 3, 100.0, 20.0, "", None, None),
                         (0, 1, "portal.login", 0, 2, None, None, "", None, None)], start_index=10,
                        received_at=DAY10 + dt.timedelta(days=1))
    _record(world, first)
    world.run()
    _record(world, rest)
    with scope(tenant=world.tenant.pk):
        before = RollupState.objects.get(tenant=world.tenant)
        with mock.patch.object(rollup, step, side_effect=RuntimeError("worker lost")), pytest.raises(RuntimeError):
            rollup_tenant(world.tenant)
        after_kill = RollupState.objects.get(tenant=world.tenant)
    assert (after_kill.watermark, after_kill.merge_batch) == (before.watermark, before.merge_batch)
    assert after_kill.status == RollupState.Status.FAILED
    incremental = world.run()  # the redelivery
    assert_same(incremental, world.expected(first + rest))
    assert world.run() == incremental
    with scope(tenant=world.tenant.pk):
        rollup_tenant(world.tenant, full=True)
    assert _facts_only(world.snapshot()) == _facts_only(incremental)


def test_the_full_recompute_commits_chunks_and_resumes_after_a_kill(settings):
    settings.KPIS_ROLLUP_CHUNK_DAYS = 1
    world = World()
    specs = [(q % 3, q % 2, v, q % 5, q * 7, 50.0, 5.0, "vpn", 1, q % 2 == 0)
             for q, v in enumerate(["training.progressed", "faq.searched", "faq.viewed", "document.viewed",
                                    "faq.feedback", "portal.login", "training.completed"] * 8)]
    events = world.events(specs, received_at=DAY10)
    _record(world, events)
    real = rollup._rebuild_chunk
    calls = []

    def dies_on_the_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("worker lost")
        return real(*args, **kwargs)

    with scope(tenant=world.tenant.pk):
        with mock.patch.object(rollup, "_rebuild_chunk", side_effect=dies_on_the_third), pytest.raises(RuntimeError):
            rollup_tenant(world.tenant)
        state = RollupState.objects.get(tenant=world.tenant)
        assert state.watermark is None and state.rebuild_hi is not None
        first_day = min(DailyActivityFact.objects.filter(tenant=world.tenant).values_list("day", flat=True))
        assert state.rebuild_next == first_day + dt.timedelta(days=2)  # two chunks committed
        stats = rollup_tenant(world.tenant)  # any later run resumes
        assert stats.mode == "full (resumed)" and stats.chunks >= 1
        state = RollupState.objects.get(tenant=world.tenant)
        assert state.rebuild_hi is None and state.watermark is not None
    assert_same(_facts_only(world.snapshot()), _facts_only(world.expected(events)))


def test_the_states_merge_reads_only_new_events(settings):
    """Events seen again in the overlap are not merged into the states again (the seen-events set
    says they are not new): a rerun touches no state row; a new event of the same pair adds its
    seconds once."""
    settings.KPIS_ROLLUP_OVERLAP_SECONDS = 3600
    world = World()
    first = world.events([(0, 0, "training.progressed", 0, q, 10.0 * q, 10.0, "", None, None) for q in (1, 2, 3)]
                         + [(0, None, "document.viewed", 1, 4, None, None, "", None, None)], received_at=DAY10)
    _record(world, first)
    stats = _rollup(world)
    assert (stats.user_pairs, stats.partner_pairs) == (1, 2)
    for run in range(2):  # every event is still inside the overlap of the next window
        stats = _rollup(world)
        assert (stats.merged_events, stats.user_pairs, stats.partner_pairs) == (0, 0, 0), run
    later = world.events([(0, 0, "training.progressed", 0, 5, 60.0, 5.0, "", None, None)], start_index=10,
                         received_at=DAY10 + dt.timedelta(minutes=30))
    _record(world, later)
    stats = _rollup(world)
    assert (stats.merged_events, stats.user_pairs, stats.partner_pairs) == (1, 1, 1)
    snap = world.snapshot()
    assert_same(_facts_only(snap), _facts_only(world.expected(first + later)))
    assert [v[5] for v in snap["uas"].values()] == [35.0]


def test_the_full_recompute_rebuilds_the_states_in_committed_chunks_and_resumes(settings):
    """The states of a full recompute are rebuilt set-based by ranges of users, then of partners,
    each range committed; a run killed in either phase is resumed by the next run and gives what
    the brute force gives (users without a user id count in the partner states only)."""
    settings.KPIS_ROLLUP_STATE_CHUNK_ROWS = 3
    world = World()
    verbs = ["training.progressed", "document.downloaded", "faq.viewed", "document.viewed", "training.completed",
             "faq.feedback", "document.read"]
    specs = [(q % 3, None if q % 7 == 3 else q % 3, verbs[q % 7], [0, 5, 2, 1, 0, 2, 6][q % 7], q * 5,
              float(q % 101), float(q % 13) * 20, "", None, q % 2 == 0) for q in range(60)]
    events = world.events(specs, received_at=DAY10)
    _record(world, events)
    real = rollup._rebuild_states_chunk
    seen = []

    def dies_at(phase, nth):
        def chunk(cursor, d, tenant, state, stats, step):
            seen.append(state.rebuild_phase)
            if seen.count(phase) == nth:
                raise RuntimeError("worker lost")
            return real(cursor, d, tenant, state, stats, step)
        return chunk

    with scope(tenant=world.tenant.pk):
        with mock.patch.object(rollup, "_rebuild_states_chunk", side_effect=dies_at("users", 3)), \
                pytest.raises(RuntimeError):
            rollup_tenant(world.tenant)
        state = RollupState.objects.get(tenant=world.tenant)
        assert (state.watermark, state.rebuild_phase) == (None, "users") and state.rebuild_after is not None
        assert UserAssetState.objects.filter(tenant=world.tenant).exists()  # two chunks committed
        seen.clear()
        with mock.patch.object(rollup, "_rebuild_states_chunk", side_effect=dies_at("partners", 2)), \
                pytest.raises(RuntimeError):
            rollup_tenant(world.tenant)
        state = RollupState.objects.get(tenant=world.tenant)
        assert (state.watermark, state.rebuild_phase) == (None, "partners") and state.rebuild_after is not None
        stats = rollup_tenant(world.tenant)
        assert stats.mode == "full (resumed)" and stats.state_chunks >= 1
        state = RollupState.objects.get(tenant=world.tenant)
        assert state.rebuild_hi is None and state.watermark is not None
    assert_same(_facts_only(world.snapshot()), _facts_only(world.expected(events)))
    with scope(tenant=world.tenant.pk):
        stats = rollup_tenant(world.tenant, full=True)  # the same again, uninterrupted
    assert stats.state_chunks > 4
    assert_same(_facts_only(world.snapshot()), _facts_only(world.expected(events)))
