"""A person answers the same FAQ again and again, in batches and out of order: each new answer
supersedes only the answer just before it (in time, then id), so the incremental run recomputes
that one's day and no other — and the facts equal a full computation after every batch."""

from __future__ import annotations

import datetime as dt

import pytest
from django_scopes import scope

from kpis.rollup import rollup_tenant
from tests.kpis.test_rollup_lookups import DAY10, _record
from tests.kpis.test_rollup_properties import World, assert_same

pytestmark = pytest.mark.django_db

DAY = 96  # quarter hours


def _answers(world, quarters_and_answers, *, start_index, received_at):
    specs = [(0, 0, "faq.feedback", 2, q, None, None, "", None, resolved) for q, resolved in quarters_and_answers]
    return world.events(specs, start_index=start_index, received_at=received_at)


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "America/New_York"])
def test_each_new_answer_supersedes_the_one_just_before_it(zone):
    world = World(tz=zone)
    batches = [
        [(4, False), (DAY + 4, True)],  # day 0 then day 1: the day-1 answer counts
        [(3 * DAY + 4, False)],  # a later day: the day-1 answer is superseded now
        [(DAY // 2, True), (2 * DAY + 4, True)],  # late answers between the earlier ones: superseded at once
        [(5 * DAY + 4, True), (5 * DAY + 4, False)],  # two at the same instant: the later id counts
        [(4 * DAY + 4, False)],  # late again, before the latest: changes nothing stored
    ]
    seen = []
    for k, batch in enumerate(batches):
        events = _answers(world, batch, start_index=10 * k, received_at=DAY10 + dt.timedelta(hours=k))
        _record(world, events)
        seen += events
        with scope(tenant=world.tenant.pk):
            rollup_tenant(world.tenant)
        snap = world.snapshot() | {"results": {}}
        assert_same(snap, world.expected(seen) | {"results": {}})
