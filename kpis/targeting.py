"""Who was targeted, and whether they did it: the enablement completion rate's pairs and outcomes.

The KPI metric (``kpis.metrics``), the overview's tier table, the partner scorecard and their CSV
exports all count pairs here, so the 支援消化率 card and the tables agree by construction.

* Pairs: ``enablement.pairs.assigned_pairs`` (one row per assigned ``(partner, asset)``), frozen
  once their due date is over (``pairs_freeze``, run before every KPI computation): a pair due on
  a frozen date is read from ``FrozenPair`` — partner, asset, due date, required completions and
  the partner's tier and segment as they were then — and live pairs count only for later due
  dates. So who was targeted is fixed per period: changing a tier, a segment, a learning path, an
  asset's status or an assignment afterwards (even one created now and due last month) leaves
  closed periods as they were, and recomputing a closed period reproduces its numbers.
  A snapshot, not membership history: one small table written once, read set-based, instead of
  valid-from/valid-to versions of tiers, segments, paths, assignments and asset status.
* Partners: each partner's tier, segment and status as they were in a closed period come from
  ``PartnerSnapshot`` (``partners_snapshot``, run with ``pairs_freeze``; ``PartnerHistory`` reads
  it), so every tier/segment-filtered KPI and the active-partner rate keep their closed periods
  when a partner changes tier, segment or status; a partner counts for a period only from the day
  it joined (``Partner.joined_on``: the day it was created unless entered otherwise), as for pairs.
* Completion: ``enablement.completion`` over the rollup states (``UserAssetState`` per user's
  first completion, ``PartnerAssetState`` for the partner's first completion event).
* A pair counts in the period containing its due date; it is *on time* when done by the end
  of its due date (tenant-local), *by period end* when done by the end of the period.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from enablement.certifications.models import TierCertificationRequirement
from enablement.completion import pair_done_by
from enablement.pairs import AssignmentPair, assigned_pairs, assigned_pairs_sql
from kpis.models import (
    FrozenPair,
    PairFreeze,
    PartnerAssetState,
    PartnerSnapshot,
    RequirementSnapshot,
    UserAssetState,
)
from kpis.periods import Span, end_of_day
from partners.models import Partner, Tenant


@dataclass(frozen=True)
class PairCompletion:
    users: tuple[dt.datetime, ...]  # each user's first completion, sorted
    partner_first: dt.datetime | None  # the partner's first completion event (with or without a user)


NOT_DONE = PairCompletion((), None)


def frozen_through(*, tenant: Tenant) -> dt.date | None:
    return PairFreeze.objects.filter(tenant=tenant).values_list("frozen_through", flat=True).first()


@transaction.atomic
def pairs_freeze(*, tenant: Tenant, through: dt.date) -> int:
    """Freeze every live pair due after the last frozen date and on or before ``through`` (the
    day before today, tenant-local). Idempotent; returns the number of pairs written."""
    state = PairFreeze.objects.select_for_update().filter(tenant=tenant).first()
    since = state.frozen_through if state else None
    if since is not None and since >= through:
        return 0
    done = set(FrozenPair.objects.filter(tenant=tenant).values_list("partner_id", "asset_id"))
    now = timezone.now()
    rows = [
        FrozenPair(
            tenant=tenant, partner_id=p.partner_id, asset_id=p.asset_id, due_on=p.due_on,
            required_completions=p.required_completions, tier_id=p.tier_id, segment=p.segment, frozen_at=now,
        )
        for p in assigned_pairs(tenant=tenant)
        if p.due_on <= through and (since is None or p.due_on > since) and (p.partner_id, p.asset_id) not in done
    ]
    FrozenPair.objects.bulk_create(rows, batch_size=1000)
    if state is None:
        PairFreeze.objects.create(tenant=tenant, frozen_through=through, frozen_at=now)
    else:
        PairFreeze.objects.filter(pk=state.pk).update(frozen_through=through, frozen_at=now)
    return len(rows)


@transaction.atomic
def partners_snapshot(*, tenant: Tenant, through: dt.date) -> int:
    """Record each partner whose tier, segment or status differs from its latest snapshot, valid
    from ``through`` + 1 day (the first day not frozen); a partner's first snapshot is valid from
    the day it joined (what it is now is all that is known of its past). A snapshot dated after
    ``through`` is not read by any closed period yet, so a second change on the same day replaces
    it. 2 queries when nothing changed; returns the number of snapshots written."""
    since = through + dt.timedelta(days=1)
    latest: dict[int, tuple] = {}
    for pid, tier_id, segment, status in (
        PartnerSnapshot.objects.filter(tenant=tenant).order_by("partner_id", "since")
        .values_list("partner_id", "tier_id", "segment", "status")
    ):
        latest[pid] = (tier_id, segment, status)
    now = timezone.now()
    rows = [
        PartnerSnapshot(tenant=tenant, partner_id=pid, since=since if pid in latest else min(joined_on, since),
                        tier_id=tier_id, segment=segment, status=status, taken_at=now)
        for pid, tier_id, segment, status, joined_on in Partner.objects.filter(tenant=tenant).values_list(
            "id", "tier_id", "segment", "status", "joined_on"
        )
        if latest.get(pid) != (tier_id, segment, status)
    ]
    if rows:
        PartnerSnapshot.objects.filter(tenant=tenant, since__gte=since, partner_id__in=[r.partner_id for r in rows]).delete()
        PartnerSnapshot.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


# The first snapshots of a tenant stand for every earlier day.
SNAPSHOT_START = dt.date(2000, 1, 1)
_UNREAD = object()


@transaction.atomic
def requirements_snapshot(*, tenant: Tenant, through: dt.date) -> int:
    """Record each tier certification requirement that differs from its latest snapshot (added,
    changed, or removed: 0 people), valid from ``through`` + 1 day, the first day not frozen. Before
    the tenant's first freeze every requirement is recorded as valid from the start; after it, a
    requirement seen for the first time is new, so it counts only from the first day not frozen. A
    snapshot dated after ``through`` is not read by any closed period yet, so a second change on the
    same day replaces it. Run before ``pairs_freeze`` (it reads whether the tenant was frozen). 3
    queries when nothing changed; returns the number of snapshots written."""
    since = through + dt.timedelta(days=1)
    first = frozen_through(tenant=tenant) is None
    latest: dict[tuple[int, int], int] = {}
    for tier_id, certification_id, people in (
        RequirementSnapshot.objects.filter(tenant=tenant).order_by("since")
        .values_list("tier_id", "certification_id", "required_people")
    ):
        latest[(tier_id, certification_id)] = people
    live = {
        (tier_id, certification_id): people
        for tier_id, certification_id, people in TierCertificationRequirement.objects.filter(tenant=tenant)
        .values_list("tier_id", "certification_id", "required_people")
    }
    now = timezone.now()
    rows = [
        RequirementSnapshot(
            tenant=tenant, tier_id=key[0], certification_id=key[1], required_people=live.get(key, 0), taken_at=now,
            since=SNAPSHOT_START if first and key not in latest else since,
        )
        for key in sorted(live.keys() | latest.keys())
        if live.get(key, 0) != latest.get(key, 0)
    ]
    for row in rows:
        RequirementSnapshot.objects.filter(
            tenant=tenant, tier_id=row.tier_id, certification_id=row.certification_id, since__gte=row.since
        ).delete()
    RequirementSnapshot.objects.bulk_create(rows)
    return len(rows)


class RequirementHistory:
    """The tiers' certification requirements on a day: the snapshots in force for a frozen day (on
    or before the last ``through``), the live requirements after it. ``as_of(day)`` is
    ``{tier_id: [(certification_id, certification name, required people), …]}`` in name order. 2 queries
    (3 when ``through`` is not given)."""

    def __init__(self, *, tenant: Tenant, through: dt.date | None | object = _UNREAD):
        """``through``: the tenant's frozen date when the caller has read it (``PartnerHistory.through``)."""
        self.through = frozen_through(tenant=tenant) if through is _UNREAD else through
        self._live: dict[int, list[tuple[int, str, int]]] = defaultdict(list)
        names: dict[int, str] = {}
        for tier_id, certification_id, name, people in (
            TierCertificationRequirement.objects.filter(tenant=tenant)
            .order_by("certification__name", "pk")
            .values_list("tier_id", "certification_id", "certification__name", "required_people")
        ):
            self._live[tier_id].append((certification_id, name, people))
            names[certification_id] = name
        self._rows: list[tuple[dt.date, int, int, str, int]] = []
        if self.through is not None:
            self._rows = list(
                RequirementSnapshot.objects.filter(tenant=tenant).order_by("since", "pk")
                .values_list("since", "tier_id", "certification_id", "certification__name", "required_people")
            )

    def as_of(self, day: dt.date) -> dict[int, list[tuple[int, str, int]]]:
        if self.through is None or day > self.through:
            return self._live
        in_force: dict[tuple[int, int], tuple[str, int]] = {}
        for since, tier_id, certification_id, name, people in self._rows:
            if since > day:
                break
            in_force[(tier_id, certification_id)] = (name, people)
        out: dict[int, list[tuple[int, str, int]]] = defaultdict(list)
        for (tier_id, certification_id), (name, people) in sorted(in_force.items(), key=lambda kv: (kv[1][0], kv[0])):
            if people:
                out[tier_id].append((certification_id, name, people))
        return out


class PartnerHistory:
    """Partners' tier, segment and status on a day: the snapshot in force for a frozen day (on or
    before the last ``through``), the partner's live values after it. 2 queries."""

    def __init__(self, *, tenant: Tenant):
        self.through = frozen_through(tenant=tenant)
        self._rows: dict[int, list[tuple[dt.date, int | None, str, str]]] = defaultdict(list)
        if self.through is not None:
            for pid, since, tier_id, segment, status in (
                PartnerSnapshot.objects.filter(tenant=tenant).order_by("partner_id", "since")
                .values_list("partner_id", "since", "tier_id", "segment", "status")
            ):
                self._rows[pid].append((since, tier_id, segment, status))

    def as_of(self, partner: dict, day: dt.date) -> dict:
        """``partner`` (a dict with ``id``, ``tier_id``, ``segment``, ``status``) as it was on ``day``."""
        rows = self._rows.get(partner["id"])
        if self.through is None or day > self.through or not rows:
            return partner
        chosen = rows[0]
        for row in rows:
            if row[0] > day:
                break
            chosen = row
        return {**partner, "tier_id": chosen[1], "segment": chosen[2], "status": chosen[3] or partner["status"]}


def targeted_pairs(*, tenant: Tenant, partner_id: int | None = None) -> list[AssignmentPair]:
    """The pairs the completion rate counts: frozen pairs for frozen due dates, live pairs after
    them (a pair already frozen is not counted again). ``partner_id``: only that partner's pairs,
    selected in the database. 3 queries."""
    through = frozen_through(tenant=tenant)
    live = assigned_pairs(tenant=tenant, partner_id=partner_id)
    if through is None:
        return live
    frozen_rows = FrozenPair.objects.filter(tenant=tenant)
    if partner_id is not None:
        frozen_rows = frozen_rows.filter(partner_id=partner_id)
    frozen = [
        AssignmentPair(r.partner_id, r.asset_id, r.due_on, r.required_completions, 0, None, r.tier_id, r.segment)
        for r in frozen_rows.only(
            "partner_id", "asset_id", "due_on", "required_completions", "tier_id", "segment"
        )
    ]
    keys = {(p.partner_id, p.asset_id) for p in frozen}
    return frozen + [p for p in live if p.due_on > through and (p.partner_id, p.asset_id) not in keys]


# A pair's required completions as the completion rule reads them (at least 1, as
# ``enablement.completion.pair_done``), for a row ``tp`` of ``targeted_pairs_sql``.
PAIR_REQUIRED_SQL = (
    "CASE WHEN tp.required_completions IS NULL OR tp.required_completions < 1 THEN 1 "
    "ELSE tp.required_completions END"
)


def targeted_pairs_sql(
    *, tenant: Tenant | int, partner_id: int | None = None, partner_ids: Sequence[int] | None = None
) -> tuple[str, list]:
    """``targeted_pairs`` as one SQL statement (and its params), to embed as a sub-query: the frozen
    pairs (when the tenant has a freeze), then the live assigned pairs (``assigned_pairs_sql``) due
    after the frozen date and not frozen already. Columns: partner_id, asset_id, due_on,
    required_completions, assignment_id (0 for a frozen pair), learning_path_id (NULL for a frozen
    pair), tier_id, segment — the same rows as ``targeted_pairs``, without reading them into Python.
    ``partner_id`` or ``partner_ids`` (a non-empty list): those partners' pairs only."""
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    f, z = FrozenPair._meta.db_table, PairFreeze._meta.db_table
    live, live_params = assigned_pairs_sql(tenant=tenant_id, partner_id=partner_id, partner_ids=partner_ids)
    only_f, only_params = "", []
    if partner_id is not None:
        only_f, only_params = " AND fp.partner_id = %s", [partner_id]
    elif partner_ids is not None:
        only_f, only_params = f" AND fp.partner_id IN ({', '.join(['%s'] * len(partner_ids))})", [int(i) for i in partner_ids]
    # Only table names (from model meta) and fixed fragments are formatted in; values are parameters.
    sql = (
        f"SELECT fp.partner_id, fp.asset_id, fp.due_on, fp.required_completions, 0 AS assignment_id, "  # noqa: S608
        f"NULL AS learning_path_id, fp.tier_id, fp.segment FROM {f} fp "
        f"WHERE fp.tenant_id = %s{only_f} AND EXISTS (SELECT 1 FROM {z} fz WHERE fz.tenant_id = %s) "
        f"UNION ALL "
        f"SELECT lp.partner_id, lp.asset_id, lp.due_on, lp.required_completions, lp.assignment_id, "
        f"lp.learning_path_id, lp.tier_id, lp.segment FROM ({live}) lp "
        f"WHERE NOT EXISTS (SELECT 1 FROM {z} fz WHERE fz.tenant_id = %s AND (lp.due_on <= fz.frozen_through "
        f"OR EXISTS (SELECT 1 FROM {f} fk WHERE fk.tenant_id = %s AND fk.partner_id = lp.partner_id "
        f"AND fk.asset_id = lp.asset_id)))"
    )
    return sql, [tenant_id, *only_params, tenant_id, *live_params, tenant_id, tenant_id]


def pair_matches(pair: AssignmentPair, *, tier_id: int | None, segment: str) -> bool:
    """Does a pair fall under a tier / segment filter (the partner's tier and segment when it was
    targeted, frozen for closed due dates)?"""
    return (not tier_id or pair.tier_id == tier_id) and (not segment or pair.segment == segment)


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
