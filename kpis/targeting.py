"""Who was targeted, and whether they did it: the enablement completion rate's pairs and outcomes.

The KPI metric (``kpis.metrics``), the overview's tier table, the partner scorecard and their CSV
exports all count pairs here, so the 支援消化率 card and the tables agree by construction.

* Pairs: ``enablement.pairs.assigned_pairs`` (one row per assigned ``(partner, asset)``).
* Completion: ``enablement.completion`` over the rollup states (``UserAssetState`` per user's
  first completion, ``PartnerAssetState`` for the partner's first completion event).
* A pair counts in the period containing its due date; it is *on time* when done by the end
  of its due date (tenant-local), *by period end* when done by the end of the period.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from enablement.completion import pair_done_by
from enablement.pairs import AssignmentPair, assigned_pairs
from kpis.models import PartnerAssetState, UserAssetState
from kpis.periods import Span, end_of_day
from partners.models import Tenant


@dataclass(frozen=True)
class PairCompletion:
    users: tuple[dt.datetime, ...]  # each user's first completion, sorted
    partner_first: dt.datetime | None  # the partner's first completion event (with or without a user)


NOT_DONE = PairCompletion((), None)


def targeted_pairs(*, tenant: Tenant) -> list[AssignmentPair]:
    """The assigned pairs the completion rate counts (1 query)."""
    return assigned_pairs(tenant=tenant)


def pair_completions(*, tenant: Tenant, partner_ids: Iterable[int] | None = None) -> dict[tuple[int, int], PairCompletion]:
    """``(partner, asset)`` → its completions, from the rollup states (2 queries)."""
    users = UserAssetState.objects.filter(tenant=tenant, first_completed_at__isnull=False)
    firsts = PartnerAssetState.objects.filter(tenant=tenant, first_completed_at__isnull=False)
    if partner_ids is not None:  # ids, or a sub-query of partner ids
        ids = partner_ids if hasattr(partner_ids, "query") else list(partner_ids)
        users, firsts = users.filter(partner_id__in=ids), firsts.filter(partner_id__in=ids)
    by_pair: dict[tuple[int, int], list[dt.datetime]] = defaultdict(list)
    for pid, aid, first in users.values_list("partner_id", "asset_id", "first_completed_at"):
        by_pair[(pid, aid)].append(first)
    return {
        (pid, aid): PairCompletion(tuple(sorted(by_pair.get((pid, aid), []))), first)
        for pid, aid, first in firsts.values_list("partner_id", "asset_id", "first_completed_at")
    }


@dataclass
class PairCount:
    """Pairs due in a period: how many, how many done on time, how many done by the period's end."""

    assigned: int = 0
    on_time: int = 0
    by_period_end: int = 0

    def add(self, other: PairCount) -> None:
        self.assigned += other.assigned
        self.on_time += other.on_time
        self.by_period_end += other.by_period_end

    @property
    def rate(self) -> float | None:
        return round(100 * self.on_time / self.assigned, 1) if self.assigned else None

    @property
    def rate_by_period_end(self) -> float | None:
        return round(100 * self.by_period_end / self.assigned, 1) if self.assigned else None


def pair_outcome(pair: AssignmentPair, completions: dict, span: Span, zone) -> tuple[bool, bool]:
    """(done on time, done by the period's end) of one pair."""
    done = completions.get((pair.partner_id, pair.asset_id), NOT_DONE)
    required = pair.required_completions
    on_time = pair_done_by(done.users, done.partner_first, required=required, deadline=end_of_day(pair.due_on, zone))
    by_end = on_time or pair_done_by(done.users, done.partner_first, required=required, deadline=span.end_utc)
    return on_time, by_end


def count_pairs(
    pairs: Iterable[AssignmentPair], completions: dict, span: Span, zone, *, partner_ids: Iterable[int]
) -> dict[int, PairCount]:
    """Per partner of ``partner_ids``: the pairs due in ``span`` and how many were done."""
    counts = {pid: PairCount() for pid in partner_ids}
    for pair in pairs:
        count = counts.get(pair.partner_id)
        if count is None or not (span.start <= pair.due_on <= span.end):
            continue
        on_time, by_end = pair_outcome(pair, completions, span, zone)
        count.assigned += 1
        count.on_time += int(on_time)
        count.by_period_end += int(by_end)
    return counts
