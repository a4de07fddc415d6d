"""The manager overview's counts, kept by the KPI job so the page reads a few rows, not every pair.

``refresh_overview_summary`` runs inside ``compute_kpis``'s transaction, right where it consumes the
``KpiInputChange`` markers, and writes, for the tenant-local day ``today``:

* ``OverviewPairCount``: each partner's targeted pairs (``kpis.targeting.targeted_pairs_sql``)
  counted by the tier and segment they were targeted with, their due date and the tenant-local day
  they were done (``enablement.completion.pair_done_by``: the partner's first completion and, for a pair
  needing N completions, the N-th user's first completion). A pair is done on time when done on or
  before its due date, by the period's end when done on or before the period's last day — the
  same instants as ``end_of_day`` / ``Span.end_utc`` of the live statement.
* ``OverviewAtRisk``: the partners the at-risk list may show — overdue pairs not done (due before
  ``today``), or activity of the last 30 days (facts, portal logins aside) down by half or more
  against the 30 before — with those four numbers.

Every row is one partner's, so a run rewrites only the partners its markers name
(``kpis.scope.overview_partners``: a rollup's partners, a partner created, edited or deleted, the
partners an assignment created, edited or deleted targets before and after) when the stored
summary is for ``today``, reading only those partners' pairs, states and 60 days of facts; a
marker for everything, the day's freeze or a summary of another day rebuild every partner's rows.

The page (``kpis.dashboards.selectors.overview``) uses them only when they are exact: computed for
today and no marker pending (every input of these numbers writes one in the transaction of the
change — facts and states by the rollup, assignments, tiers, partners, assets… by ``kpis.scope``);
its partner filters are a WHERE on the per-partner rows. Otherwise it computes the same numbers
from the pairs and facts. A run with no pending marker and a summary already computed for today
writes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable

from django.db import connection
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from enablement.models import Verb
from kpis.models import (
    DailyActivityFact,
    OverviewAtRisk,
    OverviewPairCount,
    OverviewSummary,
    PartnerAssetState,
    UserAssetState,
)
from kpis.targeting import PAIR_REQUIRED_SQL, targeted_pairs_sql
from partners.models import Partner

RECENT_DAYS = 30


def _local_day(value, zone) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if timezone.is_naive(value):
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(zone).date()


def summary_is_current(tenant, today: dt.date) -> bool:
    return OverviewSummary.objects.filter(tenant=tenant, as_of=today).exists()


# Past this many touched partners a run rewrites every partner (one statement, no long IN lists).
SCOPED_MAX_PARTNERS = 500


def refresh_overview_summary(
    tenant, today: dt.date, *, changed: bool = True, partner_ids: Iterable[int] | None = None
) -> int | None:
    """Recompute the tenant's overview summary for ``today`` (inside the caller's transaction).
    ``changed=False`` (no marker was pending): only when the stored one is not for ``today``.
    ``partner_ids`` (``kpis.scope.overview_partners``): only those partners' rows are rewritten, when
    the stored summary is for ``today`` (else, or with None, every partner's). Returns the number of
    partners whose rows were rewritten (every partner: the tenant's partner count), None when
    nothing was written."""
    current = summary_is_current(tenant, today)
    if not changed and current:
        return None
    only = sorted({int(p) for p in partner_ids}) if partner_ids is not None and current else None
    if only is not None and len(only) > SCOPED_MAX_PARTNERS:
        only = None
    if only is None:
        pairs, risks = _partner_rows(tenant, today, None)
        OverviewPairCount.objects.filter(tenant=tenant).delete()
        OverviewAtRisk.objects.filter(tenant=tenant).delete()
        rewritten = Partner.objects.filter(tenant=tenant).count()
    elif only:
        pairs, risks = _partner_rows(tenant, today, only)
        OverviewPairCount.objects.filter(tenant=tenant, partner_id__in=only).delete()
        OverviewAtRisk.objects.filter(tenant=tenant, partner_id__in=only).delete()
        rewritten = len(only)
    else:  # markers naming no partner (a scoped change of nobody): the rows stand as they are
        pairs, risks, rewritten = [], [], 0
    OverviewPairCount.objects.bulk_create(pairs, batch_size=1000)
    OverviewAtRisk.objects.bulk_create(risks, batch_size=1000)
    OverviewSummary.objects.update_or_create(tenant=tenant, defaults={"as_of": today, "computed_at": timezone.now()})
    return rewritten


def _partner_rows(tenant, today: dt.date, only: list[int] | None) -> tuple[list[OverviewPairCount], list[OverviewAtRisk]]:
    """The summary rows of the partners ``only`` (None: every partner), not yet written."""
    zone = tenant.zoneinfo
    tid = tenant.pk
    pairs_sql, pairs_params = targeted_pairs_sql(tenant=tid, partner_ids=only)
    uas, pas = UserAssetState._meta.db_table, PartnerAssetState._meta.db_table
    only_u, only_params = "", []
    if only is not None:
        only_u, only_params = f" AND x.partner_id IN ({', '.join(['%s'] * len(only))})", list(only)
    # One row per targeted pair: its partner, tier, segment, due date, required completions (at least
    # 1), the partner's first completion and the N-th user's first completion (N = required).
    sql = (
        f"WITH tp AS ({pairs_sql}), "  # noqa: S608 - table names and constants only
        "u AS (SELECT x.partner_id, x.asset_id, x.first_completed_at, ROW_NUMBER() OVER ("
        "PARTITION BY x.partner_id, x.asset_id ORDER BY x.first_completed_at) AS rn "
        f"FROM {uas} x WHERE x.tenant_id = %s{only_u} AND x.first_completed_at IS NOT NULL), "
        "q AS (SELECT tp.partner_id, tp.asset_id, tp.tier_id, tp.segment, tp.due_on, "
        f"{PAIR_REQUIRED_SQL} AS req FROM tp) "
        "SELECT q.partner_id, q.tier_id, q.segment, q.due_on, q.req, ps.first_completed_at, u.first_completed_at "
        f"FROM q LEFT JOIN {pas} ps ON ps.tenant_id = %s AND ps.partner_id = q.partner_id "
        "AND ps.asset_id = q.asset_id AND ps.first_completed_at IS NOT NULL "
        "LEFT JOIN u ON u.partner_id = q.partner_id AND u.asset_id = q.asset_id AND u.rn = q.req"
    )
    counts: Counter = Counter()
    overdue: dict[int, list] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [*pairs_params, tid, *only_params, tid])
        while batch := cursor.fetchmany(2000):
            for partner_id, tier_id, segment, due_on, req, pfirst, nth in batch:
                due_on = due_on if isinstance(due_on, dt.date) else dt.date.fromisoformat(str(due_on))
                done_at = None
                if pfirst is not None:  # enablement.completion.pair_done_by
                    pfirst_day, nth_day = _local_day(pfirst, zone), _local_day(nth, zone)
                    done_at = min(d for d in (pfirst_day, nth_day) if d is not None) if req == 1 else nth_day
                counts[(partner_id, tier_id, segment or "", due_on, done_at)] += 1
                if done_at is None and due_on < today:
                    row = overdue.setdefault(partner_id, [0, due_on])
                    row[0] += 1
                    row[1] = min(row[1], due_on)
    recent_start = today - dt.timedelta(days=RECENT_DAYS - 1)
    previous_start = today - dt.timedelta(days=2 * RECENT_DAYS - 1)
    facts = DailyActivityFact.objects.filter(tenant=tenant, day__gte=previous_start, day__lte=today, partner__isnull=False)
    if only is not None:
        facts = facts.filter(partner_id__in=only)
    activity = (
        facts.exclude(verb=Verb.PORTAL_LOGIN)
        .values("partner_id")
        .annotate(
            recent=Coalesce(Sum("event_count", filter=Q(day__gte=recent_start)), 0),
            previous=Coalesce(Sum("event_count", filter=Q(day__lt=recent_start)), 0),
        )
        .order_by()
    )
    rows: dict[int, OverviewAtRisk] = {
        pid: OverviewAtRisk(tenant=tenant, partner_id=pid, overdue=n, oldest_due=oldest) for pid, (n, oldest) in overdue.items()
    }
    for a in activity.iterator(chunk_size=2000):
        recent, previous = int(a["recent"]), int(a["previous"])
        row = rows.get(a["partner_id"])
        if row is None:
            if not (previous > 0 and 2 * recent <= previous):
                continue
            row = rows[a["partner_id"]] = OverviewAtRisk(tenant=tenant, partner_id=a["partner_id"])
        row.recent, row.previous = recent, previous
    pairs = [
        OverviewPairCount(tenant=tenant, partner_id=partner_id, tier_id=tier_id, segment=segment, due_on=due_on,
                          done_on=done_on, pairs=n)
        for (partner_id, tier_id, segment, due_on, done_on), n in counts.items()
    ]
    return pairs, list(rows.values())
