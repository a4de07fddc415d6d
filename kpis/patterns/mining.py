"""Success-pattern mining (DESIGN.md, "Success patterns").

For every asset, learning path and support-activity kind: the share of top partners that
consumed it BEFORE their first win in the window, against the share of the other partners
that consumed it before the window end — each share taken only over the partners for whom the
item EXISTED before that cutoff (an asset from its ``published_at``, else its ``created_at``; a
learning path once it and all its assets existed; support activities always). A top partner
whose first win came before an asset was published could not have used it, and is left out of
that asset's shares instead of counting as "did not use it". With fewer than ``MIN_SAMPLE``
such partners on either side the item is "too early to tell": no lift is stored. Lift = share_top / share_other (a risk ratio) with a
95% confidence interval by the Katz log method; when a cell is 0 (or a share is 1) 0.5 is
added to every cell (Haldane–Anscombe continuity correction) for the lift and its interval.

Reads are set-based: PartnerAssetState (first completion / first use per partner and asset,
filled by the rollup), LearningPathItem, SupportActivity (MIN(occurred_on) GROUP BY partner,
kind) and the deals (via the cohort selector). Python only walks these per-partner summary
rows (bounded by partners × items). The result is one PatternRun with its PatternItems.

This is association, not proof: top partners may simply be the ones that use everything.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import statistics
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from enablement.models import Asset, AssetStatus, LearningPath, LearningPathItem
from kpis.models import PartnerAssetState
from kpis.patterns.models import MIN_SAMPLE, OutcomeMetric, PatternItem, PatternItemType, PatternRun
from kpis.patterns.selectors import (
    DEFAULT_TOP_SHARE,
    DEFAULT_WINDOW_DAYS,
    consumed_at,
    partner_cohorts,
    store_cohorts,
)
from partners.models import SupportActivity, Tenant, User

logger = logging.getLogger(__name__)

Z95 = 1.959963984540054
KEEP_RUNS = 10


def risk_ratio_ci(a: int, n1: int, c: int, n2: int, *, z: float = Z95) -> tuple[float | None, float | None, float | None]:
    """Risk ratio (a/n1) / (c/n2) with the Katz log 95% interval.

    a of n1 exposed (top partners), c of n2 unexposed (others). A 0.5 continuity correction is
    added to every cell when any cell is 0. Returns ``(lift, low, high)``; Nones when undefined.
    """
    if n1 <= 0 or n2 <= 0:
        return None, None, None
    b, d = n1 - a, n2 - c
    if a == 0 and c == 0:
        return None, None, None
    if min(a, b, c, d) == 0:
        a, b, c, d = a + 0.5, b + 0.5, c + 0.5, d + 0.5
    n1c, n2c = a + b, c + d
    rr = (a / n1c) / (c / n2c)
    se = math.sqrt(1 / a - 1 / n1c + 1 / c - 1 / n2c)
    log_rr = math.log(rr)
    return rr, math.exp(log_rr - z * se), math.exp(log_rr + z * se)


@dataclass
class _Item:
    key: tuple
    item_type: str
    asset_id: int | None = None
    path_id: int | None = None
    activity_kind: str = ""
    # partner id → date of first consumption (tenant-local)
    first: dict[int, dt.date] = field(default_factory=dict)
    first_at: dict[int, dt.datetime] = field(default_factory=dict)
    # the tenant-local day the item came to exist (None: always)
    since: dt.date | None = None

    def existed_before(self, cutoff: dt.date) -> bool:
        return self.since is None or self.since < cutoff


def _local(value: dt.datetime, tz) -> dt.date:
    return timezone.localtime(value, tz).date()


@transaction.atomic
def mine_patterns(
    *,
    tenant: Tenant,
    window_days: int = DEFAULT_WINDOW_DAYS,
    top_share: float = DEFAULT_TOP_SHARE,
    metric: str = OutcomeMetric.REVENUE,
    as_of: dt.date | None = None,
    actor: User | None = None,
) -> PatternRun:
    """Compute and store one PatternRun for the tenant (the caller opens the tenant scope)."""
    tz = tenant.zoneinfo
    with timezone.override(tz):
        as_of = as_of or timezone.localdate()
        cohorts = partner_cohorts(tenant=tenant, window_days=window_days, top_share=top_share, metric=metric, as_of=as_of)
    run = PatternRun.objects.create(
        tenant=tenant,
        window_start=cohorts.window_start,
        window_end=cohorts.window_end,
        top_share=round(top_share, 3),
        metric=metric,
        top_n=len(cohorts.top),
        other_n=len(cohorts.non_top),
        status=PatternRun.Status.RUNNING,
    )
    # The page reads this run's cohorts from its stored ranking (one page of each list per request).
    store_cohorts(tenant=tenant, run=run)
    # Cutoff per partner (exclusive): top partners — their first win in the window (a partner put in
    # the top cohort by hand without a win: the window end); the others — the end of the window.
    end_excl = cohorts.window_end + dt.timedelta(days=1)
    cutoff: dict[int, dt.date] = {}
    joined: dict[int, dt.date] = {}
    top_ids = cohorts.top_ids
    for row in [*cohorts.top, *cohorts.non_top]:
        pid = row.partner.pk
        cutoff[pid] = row.first_win_on if (pid in top_ids and row.first_win_on) else end_excl
        joined[pid] = row.partner.joined_on
    other_ids = set(cutoff) - top_ids
    if not top_ids or not other_ids:
        run.status = PatternRun.Status.INSUFFICIENT
        run.note = "Need at least one top partner (with a won deal in the window) and one other partner."
        run.computed_at = timezone.now()
        run.save(update_fields=["status", "note", "computed_at"])
        return run

    partner_ids = list(cutoff)
    items: dict[tuple, _Item] = {}

    # Assets: first consumption per (partner, asset) from the rollup's PartnerAssetState.
    # When the log began (the tenant's first recorded use of anything): before it nobody could be
    # seen using an asset, so an asset "exists" for the comparison only from then on.
    log_began = PartnerAssetState.objects.filter(tenant=tenant).aggregate(m=Min("first_activity_at"))["m"]
    kinds: dict[int, str] = {}
    asset_since: dict[int, dt.date] = {}
    for aid, kind, published_at, created_at in (
        Asset.objects.filter(tenant=tenant).exclude(status=AssetStatus.DRAFT)
        .values_list("id", "kind", "published_at", "created_at")
    ):
        kinds[aid] = kind
        asset_since[aid] = _local(max(published_at or created_at, log_began or created_at), tz)
    asset_first: dict[tuple[int, int], dt.datetime] = {}
    for state in PartnerAssetState.objects.filter(
        tenant=tenant, partner_id__in=partner_ids, asset_id__in=list(kinds)
    ).only("partner_id", "asset_id", "first_activity_at", "first_completed_at"):
        at = consumed_at(state, kinds[state.asset_id])
        if at is None:
            continue
        asset_first[(state.partner_id, state.asset_id)] = at
        key = ("asset", state.asset_id)
        item = items.setdefault(
            key, _Item(key=key, item_type=PatternItemType.ASSET, asset_id=state.asset_id, since=asset_since[state.asset_id])
        )
        item.first[state.partner_id] = _local(at, tz)
        item.first_at[state.partner_id] = at

    # Learning paths (not playbooks): consumed when every item is; the date is the last item's.
    path_assets: dict[int, list[int]] = {}
    for path_id, asset_id in LearningPathItem.objects.filter(tenant=tenant, path__is_playbook=False).values_list(
        "path_id", "asset_id"
    ):
        path_assets.setdefault(path_id, []).append(asset_id)
    path_created = dict(LearningPath.objects.filter(tenant=tenant, pk__in=list(path_assets)).values_list("pk", "created_at"))
    for path_id, asset_ids in path_assets.items():
        key = ("path", path_id)
        if any(a not in asset_since for a in asset_ids):
            continue  # a draft item: the path cannot be consumed as a whole
        since = max([_local(path_created[path_id], tz), *(asset_since[a] for a in asset_ids)])
        for pid in partner_ids:
            times = [asset_first.get((pid, a)) for a in asset_ids]
            if times and all(times):
                at = max(times)  # type: ignore[type-var]
                item = items.setdefault(
                    key, _Item(key=key, item_type=PatternItemType.LEARNING_PATH, path_id=path_id, since=since)
                )
                item.first[pid] = _local(at, tz)
                item.first_at[pid] = at

    # Support-activity kinds: the first activity of each kind per partner (one GROUP BY); a kind
    # "exists" from the first day anyone logged one.
    for r in (
        SupportActivity.objects.filter(tenant=tenant, partner_id__in=partner_ids)
        .values("partner_id", "kind")
        .annotate(first=Min("occurred_on"))
    ):
        key = ("kind", r["kind"])
        item = items.setdefault(
            key, _Item(key=key, item_type=PatternItemType.SUPPORT_ACTIVITY_KIND, activity_kind=r["kind"], since=r["first"])
        )
        item.since = min(item.since, r["first"]) if item.since else r["first"]
        item.first[r["partner_id"]] = r["first"]
        item.first_at[r["partner_id"]] = timezone.make_aware(dt.datetime.combine(r["first"], dt.time(12)), tz)

    # Typical order: each top partner's items consumed before its first win, ranked by time.
    ranks: dict[tuple, list[int]] = {}
    for pid in top_ids:
        before = sorted(
            ((item.first_at[pid], item.key) for item in items.values() if pid in item.first and item.first[pid] < cutoff[pid]),
        )
        for rank, (_at, key) in enumerate(before, start=1):
            ranks.setdefault(key, []).append(rank)

    rows = []
    for item in items.values():
        # Only the partners for whom the item existed before their cutoff can have used it before it.
        top_eligible = [pid for pid in top_ids if item.existed_before(cutoff[pid])]
        other_eligible = [pid for pid in other_ids if item.existed_before(cutoff[pid])]
        n1, n2 = len(top_eligible), len(other_eligible)
        top_before = [pid for pid in top_eligible if pid in item.first and item.first[pid] < cutoff[pid]]
        other_before = [pid for pid in other_eligible if pid in item.first and item.first[pid] < cutoff[pid]]
        a, c = len(top_before), len(other_before)
        if a == 0 and c == 0:
            continue
        too_early = n1 < MIN_SAMPLE or n2 < MIN_SAMPLE
        lift, low, high = (None, None, None) if too_early else risk_ratio_ci(a, n1, c, n2)
        days = [(item.first[pid] - joined[pid]).days for pid in top_before if joined.get(pid)]
        rows.append(
            PatternItem(
                tenant=tenant,
                run=run,
                item_type=item.item_type,
                asset_id=item.asset_id,
                path_id=item.path_id,
                activity_kind=item.activity_kind,
                top_count=a,
                top_n=n1,
                other_count=c,
                other_n=n2,
                share_top=a / n1 if n1 else 0.0,
                share_other=c / n2 if n2 else 0.0,
                lift=lift,
                ci_low=low,
                ci_high=high,
                median_days_from_joining=statistics.median(days) if days else None,
                typical_order=statistics.median(ranks[item.key]) if item.key in ranks else None,
            )
        )
    # Ranking: items whose whole interval is above 1 first, then by lift (effect size), then top
    # share; items too early to tell last.
    rows.sort(key=lambda r: (
        r.too_early, not (r.ci_low or 0) > 1, -(r.lift or 0), -r.share_top, r.item_type, r.asset_id or 0, r.path_id or 0,
        r.activity_kind,
    ))
    for rank, row in enumerate(rows, start=1):
        row.rank = rank
    PatternItem.objects.bulk_create(rows, batch_size=500)
    run.status = PatternRun.Status.OK
    run.computed_at = timezone.now()
    run.save(update_fields=["status", "computed_at"])
    # Keep the most recent runs only (their items go with them).
    old = list(
        PatternRun.objects.filter(tenant=tenant).order_by("-computed_at", "-id").values_list("id", flat=True)[KEEP_RUNS:]
    )
    if old:
        PatternRun.objects.filter(tenant=tenant, id__in=old).delete()
    logger.info("success patterns for %s: %d items, %d top / %d others", tenant.slug, len(rows), len(top_ids), len(other_ids))
    return run

