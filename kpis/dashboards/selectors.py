"""Dashboard reads for channel managers.

Every function here reads rollups only — DailyActivityFact, PartnerAssetState, UserAssetState,
FaqSearchFact, KpiResult, RollupState — plus small dimension tables (Partner, PartnerTier,
Asset, Team, SupportActivity, Membership/User, Deal). Never the raw ActivityEvent log.
Each function issues a fixed number of queries, whatever the number of partners.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connections, router
from django.db.models import (
    Avg,
    Count,
    DecimalField,
    Exists,
    F,
    Max,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone
from django.utils.translation import gettext as _

from enablement.certifications.models import Certificate, TierCertificationRequirement, valid_q
from enablement.certifications.selectors import (
    EXPIRY_HORIZONS,
    Coverage,
    partner_certificates,
    partner_coverage,
)
from enablement.completion import pair_done
from enablement.models import (
    Asset,
    AssetKind,
    AssetStatus,
    Assignment,
    FaqQuestion,
    FaqQuestionStatus,
    LearningPathItem,
    Team,
    Verb,
)
from kpis import metrics
from kpis.dashboards.filters import DashboardFilters
from kpis.models import (
    DailyActivityFact,
    FaqSearchFact,
    KpiDefinition,
    KpiInputChange,
    KpiResult,
    Metric,
    OverviewAtRisk,
    OverviewPairCount,
    OverviewSummary,
    PartnerAssetState,
    Period,
    RollupState,
    UserAssetState,
)
from kpis.periods import Span, elapsed_days, end_of_day
from kpis.targeting import PAIR_REQUIRED_SQL, PairCount, targeted_pairs, targeted_pairs_sql
from partners.deals.models import Deal
from partners.models import MANAGER_ROLES, Membership, Partner, PartnerTier, Role, SupportActivity, Tenant
from partners.reading import partner_ordering

TREND_LOOKBACK_DAYS = {"week": 7 * 12, "month": 366, "quarter": 3 * 366}
TREND_POINTS = 12


# --- dimensions ------------------------------------------------------------------------------------


@dataclass
class FilterChoices:
    tiers: list[tuple[int, str]]
    segments: list[str]
    managers: list[tuple[int, str]]

    @property
    def tier_ids(self) -> set[int]:
        return {t[0] for t in self.tiers}

    @property
    def manager_ids(self) -> set[int]:
        return {m[0] for m in self.managers}


def filter_choices(*, tenant) -> FilterChoices:
    """Tiers, segments and channel managers of the tenant (3 queries)."""
    tiers = list(PartnerTier.objects.filter(tenant=tenant).order_by("rank", "name").values_list("id", "name"))
    segments = list(  # order_by() clears Partner's default ordering, which would make DISTINCT per name
        Partner.objects.filter(tenant=tenant).exclude(segment="").order_by("segment").values_list("segment", flat=True).distinct()
    )
    managers = [
        (m.user_id, m.user.get_full_name() or m.user.email)
        for m in Membership.objects.filter(tenant=tenant, role__in=MANAGER_ROLES, is_active=True)
        .select_related("user")
        .order_by("user__name", "user__email")
    ]
    return FilterChoices(tiers=tiers, segments=segments, managers=managers)


def rollup_state(*, tenant) -> RollupState | None:
    return RollupState.objects.filter(tenant=tenant).first()


# --- KPI cards -------------------------------------------------------------------------------------


@dataclass
class KpiCard:
    definition: KpiDefinition
    name: str
    current: KpiResult | None
    previous: KpiResult | None
    trend: list[tuple[str, float | None]] = field(default_factory=list)
    # the target each trend point was judged by (a stored result's own; for a live card the target in
    # force when the period began, a count target prorated like the card's): the chart's dashed line
    trend_targets: list[float | None] = field(default_factory=list)
    live: bool = False  # computed now from the facts for the filter bar's partners and period
    period: str = ""  # the kind of period the card shows: the filter bar's when live, else the KPI's own

    @property
    def trend_rows(self) -> list[tuple[str, float | None, float | None]]:
        targets = self.trend_targets or [None] * len(self.trend)
        return [(label, value, target) for (label, value), target in zip(self.trend, targets, strict=False)]

    @property
    def period_kind(self) -> str:
        return self.period or self.definition.period

    @property
    def period_label(self) -> str:
        """What the card's period is ("Quarter", "Custom range"), true also when the filter bar's
        period differs from the KPI's own."""
        if self.period_kind in Period.values:
            return str(Period(self.period_kind).label)
        return _("Custom range")

    @property
    def own_period_differs(self) -> bool:
        return self.period_kind != self.definition.period

    @property
    def to_date(self) -> bool:
        """A current, partial period: judged by pacing, compared with the same days before."""
        return bool(self.current and self.current.elapsed_days)

    @property
    def is_rate(self) -> bool:
        return self.definition.is_rate

    @property
    def value(self) -> Decimal | None:
        return self.current.value if self.current else None

    @property
    def target(self) -> Decimal:
        return self.current.target if self.current else self.definition.target

    @property
    def status(self) -> str:
        return self.current.status if self.current else "no_data"

    @property
    def change(self) -> Decimal | None:
        """Against the previous period — over the same number of days while this one is partial."""
        if self.current is None or self.current.value is None:
            return None
        if self.to_date:
            before = self.current.previous_to_date
        else:
            before = self.previous.value if self.previous is not None else None
        return None if before is None else self.current.value - before

    @property
    def change_is_good(self) -> bool | None:
        change = self.change
        if change is None or change == 0:
            return None
        return (change > 0) == (self.definition.direction == "higher")


def kpi_cards(
    *, tenant, end: dt.date, language: str, partner: Partner | None = None, filters: DashboardFilters | None = None
) -> list[KpiCard]:
    """One card per active KPI definition: the result of the period containing ``end`` (or the
    latest before it), the one before, and up to 12 periods of trend. Overall results unless a
    partner is given. 2 queries.

    With ``filters`` (the overview's filter bar), a card whose definition does not match the
    selection — partner filters set, or a period other than the definition's — is computed now,
    set-based from the facts, for the filtered partners over the selected period (``live``)."""
    definitions = list(KpiDefinition.objects.filter(tenant=tenant, is_active=True).select_related("tier"))
    if not definitions:
        return []
    window = Q()
    for period, days in TREND_LOOKBACK_DAYS.items():
        window |= Q(definition__period=period, period_start__gte=end - dt.timedelta(days=days))
    results = KpiResult.objects.filter(
        window, tenant=tenant, definition__in=[d.pk for d in definitions], period_start__lte=end
    )
    results = results.filter(partner=partner) if partner is not None else results.filter(partner__isnull=True)
    by_definition: dict[int, list[KpiResult]] = defaultdict(list)
    for result in results.order_by("definition_id", "period_start"):
        by_definition[result.definition_id].append(result)
    cards = []
    for definition in definitions:
        rows = by_definition.get(definition.pk, [])[-TREND_POINTS:]
        cards.append(
            KpiCard(
                definition=definition,
                name=definition.name_for(language),
                current=rows[-1] if rows else None,
                previous=rows[-2] if len(rows) > 1 else None,
                trend=[(r.period_start.isoformat(), float(r.value) if r.value is not None else None) for r in rows],
                trend_targets=[float(r.target) if r.target is not None else None for r in rows],
            )
        )
    if filters is not None and partner is None:
        _live_cards(tenant=tenant, cards=cards, filters=filters)
    return cards


def _live_cards(*, tenant, cards: list[KpiCard], filters: DashboardFilters) -> None:
    """Recompute the cards the filter bar changes, from the facts (a fixed number of queries per
    definition, none per partner or period). The tier/segment filter applies as each period had it:
    pairs of the completion rate by the tier and segment they were targeted with (as the tier table
    does), partners by their tier and segment in the period (``kpis.targeting.PartnerHistory``).

    Each card's trend is ``metrics.metric_series`` over the last ``TREND_POINTS`` periods of the
    filter bar's kind (windows of the custom range's length): one grouped query per card, whose
    last point is the card's value and, for a closed period, the one before its comparison."""
    stale = [c for c in cards if filters.has_partner_filters or filters.period != c.definition.period]
    if not stale:
        return
    ctx = metrics.new_context(tenant)
    # Tier and segment are matched inside the metrics, against what each partner (or pair) had in
    # the period computed — frozen for closed periods — not against today's values.
    # The filter bar's partners stay a sub-query (manager, status, name as they are now): no partner
    # id is read into Python or sent as a parameter, whatever the number of partners.
    chosen = Partner.objects.filter(filters.partner_q(dims=False), tenant=tenant).order_by().values("id")
    start, end, today = filters.start, filters.end, filters.today
    partial = start <= today < end
    elapsed = elapsed_days(start, end, today)
    if partial:
        prev_start = filters.prev_start
        prev_end = min(prev_start + dt.timedelta(days=max(elapsed, 1) - 1), filters.prev_end)
    else:
        prev_start, prev_end = filters.prev_start, filters.prev_end
    periods = metrics.series_periods(filters.period, start, end, TREND_POINTS)
    for card in stale:
        definition = card.definition
        if (filters.tier_id and not definition.tier_id) or (filters.segment and not definition.segment):
            definition = KpiDefinition(
                tenant=tenant, metric=definition.metric, period=definition.period, target=definition.target,
                tier_id=definition.tier_id or filters.tier_id, segment=definition.segment or filters.segment,
                direction=definition.direction, warning_band=definition.warning_band,
            )
        if definition.metric == Metric.ENABLEMENT_COMPLETION_RATE:  # the pairs counted in SQL, not expanded
            cells = completion_cells(tenant=tenant, spans=[*periods, (prev_start, prev_end)], partners=chosen,
                                     tier_id=definition.tier_id, segment=definition.segment, today=today)
            series = [metrics.SeriesPoint(s, e, cell) for (s, e), cell in zip(periods, cells, strict=False)]
            now, before = series[-1].cell, cells[-1]
        else:
            series = metrics.metric_series(tenant, definition, periods, ctx=ctx, partners=chosen)
            now = series[-1].cell
            if partial or (series[-2].start, series[-2].end) != (prev_start, prev_end):
                before = metrics.metric_series(tenant, definition, [(prev_start, prev_end)], ctx=ctx, partners=chosen)[0].cell
            else:
                before = series[-2].cell
        in_force = metrics.target_in_force(card.definition, ctx.targets, start)[0]
        target = metrics.span_target(card.definition, start, end, today, target=in_force)
        status = metrics.kpi_status(now.value, target=target, direction=card.definition.direction,
                                    band=card.definition.warning_band)
        card.current = KpiResult(
            tenant=tenant, definition=card.definition, period_start=start, period_end=end, numerator=now.numerator,
            denominator=now.denominator, value=now.value, target=target, status=status,
            elapsed_days=elapsed if partial else None, previous_to_date=before.value if partial else None,
        )
        card.previous = KpiResult(
            tenant=tenant, definition=card.definition, period_start=prev_start, period_end=prev_end,
            numerator=before.numerator, denominator=before.denominator, value=before.value, target=target,
        )
        card.trend = [
            (p.start.isoformat(), float(p.cell.value) if p.cell.value is not None else None) for p in series
        ]
        card.trend_targets = [
            float(metrics.span_target(card.definition, p.start, p.end, today,
                                      target=metrics.target_in_force(card.definition, ctx.targets, p.start)[0]))
            for p in series
        ]
        card.live = True
        card.period = filters.period


def completion_cells(*, tenant, spans: list[tuple[dt.date, dt.date]], partners, tier_id: int | None = None,
                     segment: str = "", today: dt.date | None = None) -> list[metrics.Cell]:
    """The enablement completion rate (支援消化率) of each span for the partners of ``partners`` (a
    QuerySet of partner ids): the targeted pairs (``targeted_pairs_sql``) due in the span, of the
    definition's tier and segment as targeted, done by the end of their due date (tenant-local) —
    ``metrics.metric_values(..., partner_ids=...)``'s cell, counted in one grouped statement (spans
    may overlap) instead of expanding every pair in Python.

    With ``today``, the pair counts the KPI job keeps (``OverviewPairCount``) are read instead when
    they are exact now (``_summary_completion_cells``): a few rows per partner and due date, not
    every pair with its users' completions."""
    if not spans:
        return []
    if today is not None:
        cells = _summary_completion_cells(tenant=tenant, spans=spans, partners=partners, tier_id=tier_id,
                                          segment=segment, today=today)
        if cells is not None:
            return cells
    conn = connections[router.db_for_read(Partner)]
    postgres = conn.vendor == "postgresql"
    as_date, as_instant = ("CAST(%s AS date)", "CAST(%s AS timestamptz)") if postgres else ("%s", "%s")
    zone, tid = tenant.zoneinfo, tenant.pk
    days = [(i, start + dt.timedelta(days=n)) for i, (start, end) in enumerate(spans) for n in range((end - start).days + 1)]
    values = ", ".join(f"(%s, {as_date}, {as_instant})" for _ in days)
    day_params = [v for i, d in days for v in (i, conn.ops.adapt_datefield_value(d),
                                               conn.ops.adapt_datetimefield_value(end_of_day(d, zone)))]
    pairs_sql, pairs_params = targeted_pairs_sql(tenant=tid)
    chosen_sql, chosen_params = _compiled(partners)
    uas, pas = UserAssetState._meta.db_table, PartnerAssetState._meta.db_table
    cond, cond_params = "", []
    if tier_id:
        cond, cond_params = cond + " AND tp.tier_id = %s", [*cond_params, tier_id]
    if segment:
        cond, cond_params = cond + " AND tp.segment = %s", [*cond_params, segment]
    sql = (
        f"WITH tp AS ({pairs_sql}), d AS (SELECT v.column1 AS idx, v.column2 AS day, v.column3 AS deadline "  # noqa: S608
        f"FROM (VALUES {values}) v), "
        "p AS (SELECT tp.partner_id, tp.asset_id, d.idx, d.deadline, ps.first_completed_at AS pfirst, "
        f"{PAIR_REQUIRED_SQL} AS req FROM tp JOIN d ON d.day = tp.due_on "
        f"LEFT JOIN {pas} ps ON ps.tenant_id = %s AND ps.partner_id = tp.partner_id AND ps.asset_id = tp.asset_id "
        f"AND ps.first_completed_at IS NOT NULL WHERE tp.partner_id IN ({chosen_sql}){cond}) "
        "SELECT p.idx, COUNT(*), SUM(CASE WHEN p.pfirst IS NOT NULL AND ((p.req = 1 AND p.pfirst < p.deadline) OR "
        f"(SELECT COUNT(*) FROM {uas} u WHERE u.tenant_id = %s AND u.partner_id = p.partner_id "
        "AND u.asset_id = p.asset_id AND u.first_completed_at IS NOT NULL AND u.first_completed_at < p.deadline) >= p.req) "
        "THEN 1 ELSE 0 END) FROM p GROUP BY p.idx"
    )
    with conn.cursor() as cursor:
        cursor.execute(sql, [*pairs_params, *day_params, tid, *chosen_params, *cond_params, tid])
        got = {int(idx): (assigned, on_time) for idx, assigned, on_time in cursor.fetchall()}
    return [metrics.ratio(got.get(i, (0, 0))[1], got.get(i, (0, 0))[0], percent=True) for i in range(len(spans))]


def _summary_current(conn, *, tenant, today: dt.date, as_date: str) -> tuple[str, list]:
    """SQL condition (and its parameters): the KPI job's overview counts are exact now — computed
    for ``today`` and no ``KpiInputChange`` pending (an input changed since). Every reader of the
    summary decides with it, in the same statement as its read."""
    summary_t, change_t = OverviewSummary._meta.db_table, KpiInputChange._meta.db_table
    sql = (
        f"EXISTS (SELECT 1 FROM {summary_t} s WHERE s.tenant_id = %s AND s.as_of = {as_date}) "  # noqa: S608
        f"AND NOT EXISTS (SELECT 1 FROM {change_t} k WHERE k.tenant_id = %s)"
    )
    return sql, [tenant.pk, conn.ops.adapt_datefield_value(today), tenant.pk]


def _summary_completion_cells(*, tenant, spans: list[tuple[dt.date, dt.date]], partners, tier_id: int | None,
                              segment: str, today: dt.date) -> list[metrics.Cell] | None:
    """``completion_cells`` from the overview summary's pair counts (``kpis.overview``: each
    partner's targeted pairs by the tier and segment they were targeted with, due date and the
    tenant-local day they were done — done by the end of the due date is ``done_on <= due_on``), or
    None when the summary is not exact now (not computed for ``today``, or a ``KpiInputChange``
    pending), as the overview's ``_summary_rows`` decides. One statement."""
    conn = connections[router.db_for_read(Partner)]
    as_date = "CAST(%s AS date)" if conn.vendor == "postgresql" else "%s"
    day = conn.ops.adapt_datefield_value
    tid = tenant.pk
    pairs_t = OverviewPairCount._meta.db_table
    chosen_sql, chosen_params = _compiled(partners)
    cond, cond_params = "", []
    if tier_id:
        cond, cond_params = cond + " AND x.tier_id = %s", [*cond_params, tier_id]
    if segment:
        cond, cond_params = cond + " AND x.segment = %s", [*cond_params, segment]
    values = ", ".join(f"(%s, {as_date}, {as_date})" for _ in spans)
    span_params = [v for i, (start, end) in enumerate(spans) for v in (i, day(start), day(end))]
    first, last = min(start for start, _end in spans), max(end for _start, end in spans)
    # the chosen partners' rows summed per due date first (a few hundred rows), then per span; none
    # read when the summary is not current (the same condition, evaluated once, on both branches)
    current, current_params = _summary_current(conn, tenant=tenant, today=today, as_date=as_date)
    sql = (
        f"SELECT -1, 0, 0 WHERE {current} "  # noqa: S608
        "UNION ALL SELECT v.column1, SUM(y.n), SUM(y.on_time) FROM (VALUES "
        f"{values}) v JOIN (SELECT x.due_on, SUM(x.pairs) AS n, "
        f"SUM(CASE WHEN x.done_on <= x.due_on THEN x.pairs ELSE 0 END) AS on_time FROM {pairs_t} x "
        f"WHERE {current} AND x.tenant_id = %s AND x.due_on >= {as_date} AND x.due_on <= {as_date} "
        f"AND x.partner_id IN ({chosen_sql}){cond} GROUP BY x.due_on) y "
        "ON y.due_on >= v.column2 AND y.due_on <= v.column3 GROUP BY v.column1"
    )
    with conn.cursor() as cursor:
        cursor.execute(sql, [*current_params, *span_params, *current_params, tid, day(first), day(last),
                             *chosen_params, *cond_params])
        rows = cursor.fetchall()
    if not any(row[0] == -1 for row in rows):
        return None
    got = {int(idx): (assigned, on_time) for idx, assigned, on_time in rows if idx != -1}
    return [metrics.ratio(got.get(i, (0, 0))[1], got.get(i, (0, 0))[0], percent=True) for i in range(len(spans))]


def completion_definition(*, tenant, period: str) -> KpiDefinition | None:
    """The enablement-completion KPI whose per-partner results feed the partner tables:
    the selected period's untargeted definition first, any active one otherwise (1 query)."""
    candidates = list(
        KpiDefinition.objects.filter(tenant=tenant, is_active=True, metric=Metric.ENABLEMENT_COMPLETION_RATE).order_by(
            "id"
        )
    )
    candidates.sort(key=lambda d: (d.period != period, d.tier_id is not None or bool(d.segment), d.pk))
    return candidates[0] if candidates else None


# --- assignments -----------------------------------------------------------------------------------


def _filtered_partners(*, tenant, filters: DashboardFilters) -> dict[int, dict]:
    return {
        row["id"]: row
        for row in Partner.objects.filter(filters.partner_q(), tenant=tenant).values(
            "id", "name", "tier_id", "tier__name", "tier__rank", "status", "segment"
        )
    }


# --- overview --------------------------------------------------------------------------------------


@dataclass
class TierCompletion(PairCount):
    """Pairs of one tier due in the period (``kpis.targeting``): ``on_time`` is what the
    支援消化率 counts, ``by_period_end`` the secondary figure."""

    tier: str = ""

    @property
    def completed(self) -> int:
        return self.on_time


@dataclass
class AtRiskPartner:
    partner_id: int
    name: str
    tier: str
    status: str
    overdue: int = 0
    oldest_due: dt.date | None = None
    recent_events: int = 0
    previous_events: int = 0

    @property
    def activity_change(self) -> float | None:
        if not self.previous_events:
            return None
        return round(100 * (self.recent_events - self.previous_events) / self.previous_events, 1)

    @property
    def is_falling(self) -> bool:
        change = self.activity_change
        return change is not None and change <= -50


@dataclass
class Overview:
    tier_completion: list[TierCompletion]
    at_risk: list[AtRiskPartner]
    partner_count: int
    assigned_total: int
    completed_total: int
    completed_by_end_total: int = 0

    @property
    def rate(self) -> float | None:
        return round(100 * self.completed_total / self.assigned_total, 1) if self.assigned_total else None


def _compiled(qs) -> tuple[str, list]:
    """A QuerySet's SQL and params, to embed as a sub-query of a raw statement."""
    sql, params = qs.query.get_compiler(using=qs.db).as_sql()
    return sql, list(params)


def overview(*, tenant, filters: DashboardFilters, at_risk_limit: int = 15) -> Overview:
    """Completion rate by tier for pairs due in the period (``kpis.targeting``: the same count as
    the 支援消化率 KPI), and partners at risk (overdue
    assignments not completed; activity of the last 30 days down by half or more against the
    30 before, from DailyActivityFact). 3 queries, set-based: the targeted pairs
    (``targeted_pairs_sql``), their completion (the rollup states) and the at-risk ranking are
    computed in the database; Python reads one row per tier and, for the at-risk list, the first
    ``at_risk_limit`` partners plus those that may tie with the last of them on the change shown,
    not one row per pair or partner."""
    conn = connections[router.db_for_read(Partner)]
    postgres = conn.vendor == "postgresql"
    as_date, as_instant = ("CAST(%s AS date)", "CAST(%s AS timestamptz)") if postgres else ("%s", "%s")
    by_name = 'pt.name COLLATE "C"' if postgres else "pt.name"  # code-point order, as Python sorts names

    def instant(value: dt.datetime):
        return conn.ops.adapt_datetimefield_value(value)

    def day(value: dt.date):
        return conn.ops.adapt_datefield_value(value)

    tid = tenant.pk
    zone = tenant.zoneinfo
    span = Span.of(filters.start, filters.end, zone)
    chosen_sql, chosen_params = _compiled(
        Partner.objects.filter(filters.partner_q(dims=False), tenant=tenant).order_by().values("id")
    )
    pairs_sql, pairs_params = targeted_pairs_sql(tenant=tid)
    uas, pas = UserAssetState._meta.db_table, PartnerAssetState._meta.db_table
    pair_filter, pair_filter_params = "", []
    if filters.tier_id:  # the tier and segment each pair was targeted with (frozen for closed due dates)
        pair_filter, pair_filter_params = pair_filter + " AND tp.tier_id = %s", [*pair_filter_params, filters.tier_id]
    if filters.segment:
        pair_filter, pair_filter_params = pair_filter + " AND tp.segment = %s", [*pair_filter_params, filters.segment]
    # One row per targeted pair of the chosen partners: its tier, due date, required completions
    # (at least 1, as enablement.completion) and the partner's first completion (pair_completions
    # knows a pair only when the partner has one).
    pairs = (
        "SELECT tp.partner_id, tp.asset_id, tp.due_on, tp.tier_id, "  # noqa: S608 - table names and constants only
        f"{PAIR_REQUIRED_SQL} AS req, ps.first_completed_at AS pfirst "
        f"FROM tp LEFT JOIN {pas} ps ON ps.tenant_id = %s AND ps.partner_id = tp.partner_id "
        "AND ps.asset_id = tp.asset_id AND ps.first_completed_at IS NOT NULL "
        f"WHERE tp.partner_id IN ({chosen_sql}){pair_filter}"
    )
    pairs_all_params = [tid, *chosen_params, *pair_filter_params]

    def users_before(deadline: str) -> str:
        cond = "" if deadline == "" else f" AND u.first_completed_at < {deadline}"
        return (
            f"(SELECT COUNT(*) FROM {uas} u WHERE u.tenant_id = %s AND u.partner_id = p.partner_id "  # noqa: S608
            f"AND u.asset_id = p.asset_id AND u.first_completed_at IS NOT NULL{cond})"
        )

    def done_by(deadline: str) -> str:
        """enablement.completion.pair_done_by as SQL over a pair row ``p``; '' = ever."""
        first = "" if deadline == "" else f" AND p.pfirst < {deadline}"
        return (
            f"(p.pfirst IS NOT NULL AND ((p.req = 1{first}) OR {users_before(deadline)} >= p.req))"
        )

    # by the tier each pair was targeted with: pairs due in the period, done by the end of their due
    # date (tenant-local, one row per day of the period) and by the period's end
    days = [span.start + dt.timedelta(days=i) for i in range((span.end - span.start).days + 1)]
    values = ", ".join(f"({as_date}, {as_instant})" for _ in days)
    deadlines = f"SELECT v.column1 AS day, v.column2 AS deadline FROM (VALUES {values}) v"  # noqa: S608
    deadline_params = [v for d in days for v in (day(d), instant(end_of_day(d, zone)))]
    tier_sql = (
        "SELECT 0, x.tier_id, NULL, NULL, NULL, COUNT(*), NULL, SUM(x.on_time), "  # noqa: S608
        "SUM(CASE WHEN x.on_time = 1 OR x.by_end = 1 THEN 1 ELSE 0 END) "
        f"FROM (SELECT p.tier_id, CASE WHEN {done_by('d.deadline')} THEN 1 ELSE 0 END AS on_time, "
        f"CASE WHEN {done_by(as_instant)} THEN 1 ELSE 0 END AS by_end "
        f"FROM p JOIN ({deadlines}) d ON d.day = p.due_on) x GROUP BY x.tier_id"
    )
    span_end = instant(span.end_utc)
    tier_params = [tid, span_end, tid, span_end, *deadline_params]
    partner_count = Partner.objects.filter(filters.partner_q(), tenant=tenant).count()

    # Partners at risk: overdue pairs not done (ever), and the activity of the last 30 days against
    # the 30 before (facts of the partners under the filter bar as they are now).
    recent_start = filters.today - dt.timedelta(days=29)
    previous_start = filters.today - dt.timedelta(days=59)
    activity_sql, activity_params = _compiled(
        DailyActivityFact.objects.filter(
            filters.partner_q("partner__"), tenant=tenant, day__gte=previous_start, day__lte=filters.today
        )
        .exclude(verb=Verb.PORTAL_LOGIN)
        .values("partner_id")
        .annotate(
            recent=Coalesce(Sum("event_count", filter=Q(day__gte=recent_start)), 0),
            previous=Coalesce(Sum("event_count", filter=Q(day__lt=recent_start)), 0),
        )
        .order_by()
    )
    partner_t, tier_t = Partner._meta.db_table, PartnerTier._meta.db_table
    # change: the float AtRiskPartner.activity_change rounds (the same IEEE division), 0 without a
    # previous 30 days; the list is ranked by most overdue, then the change shown, then name
    candidates = (
        "SELECT pt.id AS partner_id, pt.name AS name, COALESCE(tr.name, '') AS tier, pt.status AS status, "  # noqa: S608
        "COALESCE(o.overdue, 0) AS overdue, o.oldest_due AS oldest_due, "
        "COALESCE(a.recent, 0) AS recent, COALESCE(a.previous, 0) AS previous, "
        "CASE WHEN COALESCE(a.previous, 0) > 0 THEN CAST(100 * (a.recent - a.previous) AS DOUBLE PRECISION) / a.previous "
        "ELSE CAST(0 AS DOUBLE PRECISION) END AS change "
        f"FROM {partner_t} pt LEFT JOIN {tier_t} tr ON tr.id = pt.tier_id "
        "LEFT JOIN (SELECT p.partner_id, COUNT(*) AS overdue, MIN(p.due_on) AS oldest_due FROM p "
        f"WHERE p.due_on < {as_date} AND NOT {done_by('')} GROUP BY p.partner_id) o ON o.partner_id = pt.id "
        "LEFT JOIN act a ON a.partner_id = pt.id "
        f"WHERE pt.tenant_id = %s AND pt.id IN ({chosen_sql}) "
        "AND (o.overdue IS NOT NULL OR (a.previous > 0 AND 2 * a.recent <= a.previous))"
    )
    candidate_params = [day(filters.today), tid, tid, *chosen_params]
    # The list is ranked by the change as shown (rounded to 0.1), then by name. SQL ranks by the
    # float itself and reads the first ``at_risk_limit`` partners, plus — for the partners sharing
    # the last place's overdue count whose float lies within 0.11 of its (every float shown like
    # it) — the first ``at_risk_limit`` by name of each float; Python then ranks these exactly.
    ranking, ranking_tail = _at_risk_ranking(by_name)
    # One statement: the targeted pairs, the activity per partner and the pairs with their completion
    # computed once each (MATERIALIZED: without statistics, as in a young database, the planner
    # would otherwise re-run them inside nested loops, once per partner), then the tier rows (kind 0),
    # the first partners at risk (1) and those that may tie with the last of them (2).
    overview_sql = (
        f"WITH tp AS MATERIALIZED ({pairs_sql}), act AS MATERIALIZED ({activity_sql}), "  # noqa: S608 - table names and constants only
        f"p AS MATERIALIZED ({pairs}), c AS ({candidates}), {ranking} {tier_sql} {ranking_tail}"
    )
    limit = at_risk_limit
    # The counts the KPI job keeps (kpis.overview) when they are current, the partner filters as a
    # WHERE on their per-partner rows.
    rows = _summary_rows(conn, tenant=tenant, filters=filters, by_name=by_name, as_date=as_date, limit=limit,
                         chosen=(chosen_sql, chosen_params) if filters.has_people_filters else None)
    if rows is None:
        with conn.cursor() as cursor:
            cursor.execute(overview_sql, [*pairs_params, *activity_params, *pairs_all_params, *candidate_params, limit,
                                          *tier_params, limit, limit, limit])
            rows = cursor.fetchall()
    tier_names = {t["id"]: t for t in PartnerTier.objects.filter(tenant=tenant).values("id", "name", "rank")}
    tiers: dict[tuple[int, str], TierCompletion] = {}
    total = PairCount()
    for _kind, tier_id, _n, _t, _s, assigned, _d, on_time, by_end in (row for row in rows if row[0] == 0):
        tier = tier_names.get(tier_id) or {"name": "", "rank": None}
        bucket = TierCompletion(tier=tier["name"], assigned=int(assigned), on_time=int(on_time or 0),
                                by_period_end=int(by_end or 0))
        tiers[(tier["rank"] if tier["rank"] is not None else 10**6, tier["name"])] = bucket
        total.add(bucket)
    found: dict[int, AtRiskPartner] = {}
    for _kind, pid, name, tier, status, overdue, oldest_due, recent, previous in (row for row in rows if row[0]):
        found[pid] = AtRiskPartner(
            pid, name, tier or "", status, overdue=int(overdue), oldest_due=_as_date(oldest_due) if oldest_due else None,
            recent_events=int(recent), previous_events=int(previous),
        )
    ranked = sorted(
        found.values(),
        key=lambda r: (-r.overdue, r.activity_change if r.activity_change is not None else 0, r.name, r.partner_id),
    )
    return Overview(
        tier_completion=[tiers[k] for k in sorted(tiers)],
        at_risk=ranked[:at_risk_limit],
        partner_count=partner_count,
        assigned_total=total.assigned,
        completed_total=total.on_time,
        completed_by_end_total=total.by_period_end,
    )


def _at_risk_ranking(by_name: str) -> tuple[str, str]:
    """The at-risk list's ranking over candidate rows ``c`` (CTEs ``r`` and ``l``, to follow ``c``)
    and its selects (kinds 1 and 2, to follow the tier rows): the first ``at_risk_limit`` partners
    and those that may tie with the last of them (params: limit; then limit, limit, limit)."""
    name_c = by_name.replace("pt.", "c.")
    columns = "r.partner_id, r.name, r.tier, r.status, r.overdue, r.oldest_due, r.recent, r.previous"
    ctes = (
        f"r AS (SELECT c.*, ROW_NUMBER() OVER (ORDER BY c.overdue DESC, c.change, {name_c}, c.partner_id) AS rn FROM c), "  # noqa: S608
        "l AS (SELECT r.overdue, r.change FROM r WHERE r.rn <= %s ORDER BY r.rn DESC LIMIT 1)"
    )
    tail = (
        f"UNION ALL SELECT 1, {columns} FROM r WHERE r.rn <= %s "  # noqa: S608 - constants only
        f"UNION ALL SELECT 2, {columns} FROM (SELECT r.*, ROW_NUMBER() OVER (PARTITION BY r.change ORDER BY "
        f"{name_c.replace('c.', 'r.')}, r.partner_id) AS vrn FROM r JOIN l ON r.overdue = l.overdue "
        "AND r.change BETWEEN l.change - 0.11 AND l.change + 0.11 WHERE r.rn > %s) r WHERE r.vrn <= %s"
    )
    return ctes, tail


def _summary_rows(conn, *, tenant, filters: DashboardFilters, by_name: str, as_date: str, limit: int,
                  chosen: tuple[str, list] | None = None) -> list | None:
    """The overview's rows (as the live statement's) from the counts the KPI job keeps
    (``kpis.overview``), or None when they are not exact now: not computed for today, or a
    ``KpiInputChange`` pending (an input changed since). One statement, a few rows per partner, tier
    and due date and one per partner at risk — not one per pair or fact.

    The filters as the live statement applies them: the pairs of the tier / segment they were
    targeted with (their rows' tier and segment), of the partners ``chosen`` (a sub-query: manager,
    status, name — as they are now); a partner's overdue count from its pair rows not done and due
    before today; its 60 days of activity only when it is in the tier / segment now."""
    tid = tenant.pk
    pairs_t, risk_t = OverviewPairCount._meta.db_table, OverviewAtRisk._meta.db_table
    partner_t, tier_t = Partner._meta.db_table, PartnerTier._meta.db_table
    day = conn.ops.adapt_datefield_value
    pair_where, pair_params = "", []  # on a pair row x
    if filters.tier_id:
        pair_where, pair_params = pair_where + " AND x.tier_id = %s", [*pair_params, filters.tier_id]
    if filters.segment:
        pair_where, pair_params = pair_where + " AND x.segment = %s", [*pair_params, filters.segment]
    if chosen is not None:
        pair_where, pair_params = pair_where + f" AND x.partner_id IN ({chosen[0]})", [*pair_params, *chosen[1]]
    now_in, now_params = [], []  # on the partner pt: its activity counts under the tier / segment filter
    if filters.tier_id:
        now_in, now_params = [*now_in, "pt.tier_id = %s"], [*now_params, filters.tier_id]
    if filters.segment:
        now_in, now_params = [*now_in, "pt.segment = %s"], [*now_params, filters.segment]
    active = " AND ".join(now_in) or "1 = 1"
    if filters.tier_id or filters.segment or chosen is not None:
        overdue = (
            "LEFT JOIN (SELECT x.partner_id, SUM(x.pairs) AS overdue, MIN(x.due_on) AS oldest_due "  # noqa: S608
            f"FROM {pairs_t} x WHERE x.tenant_id = %s AND x.done_on IS NULL AND x.due_on < {as_date}{pair_where} "
            "GROUP BY x.partner_id) ov ON ov.partner_id = o.partner_id "
        )
        overdue_params = [tid, day(filters.today), *pair_params]
        counts = "ov.overdue AS overdue, ov.oldest_due AS oldest_due"
    else:  # no filter: the stored at-risk rows as they are
        overdue, overdue_params = "", []
        counts = "o.overdue AS overdue, o.oldest_due AS oldest_due"
    # y: the stored at-risk rows of the chosen partners, ``act`` = 1 when their activity counts
    rows_sql = (
        f"SELECT o.partner_id, pt.name, COALESCE(tr.name, '') AS tier, pt.status, {counts}, "  # noqa: S608
        f"o.recent, o.previous, CASE WHEN {active} THEN 1 ELSE 0 END AS act "
        f"FROM {risk_t} o JOIN {partner_t} pt ON pt.id = o.partner_id AND pt.tenant_id = %s "
        f"LEFT JOIN {tier_t} tr ON tr.id = pt.tier_id {overdue}WHERE o.tenant_id = %s"
        + ("" if chosen is None else f" AND o.partner_id IN ({chosen[0]})")
    )
    rows_params = [*now_params, tid, *overdue_params, tid, *([] if chosen is None else chosen[1])]
    candidates = (
        "SELECT y.partner_id, y.name, y.tier, y.status, COALESCE(y.overdue, 0) AS overdue, y.oldest_due, "  # noqa: S608
        "y.act * y.recent AS recent, y.act * y.previous AS previous, "
        "CASE WHEN y.act * y.previous > 0 THEN CAST(100 * (y.recent - y.previous) AS DOUBLE PRECISION) / y.previous "
        f"ELSE CAST(0 AS DOUBLE PRECISION) END AS change FROM ({rows_sql}) y "
        "WHERE y.overdue IS NOT NULL OR (y.act = 1 AND y.previous > 0 AND 2 * y.recent <= y.previous)"
    )
    ranking, ranking_tail = _at_risk_ranking(by_name)
    current, current_params = _summary_current(conn, tenant=tenant, today=filters.today, as_date=as_date)
    sql = (
        f"WITH c AS ({candidates}), {ranking} "  # noqa: S608 - table names and constants only
        "SELECT -1, NULL, NULL, NULL, NULL, NULL, CAST(NULL AS DATE), NULL, NULL "
        f"WHERE {current} "
        "UNION ALL SELECT 0, x.tier_id, NULL, NULL, NULL, SUM(x.pairs), CAST(NULL AS DATE), "
        "SUM(CASE WHEN x.done_on <= x.due_on THEN x.pairs ELSE 0 END), "
        f"SUM(CASE WHEN x.done_on <= {as_date} THEN x.pairs ELSE 0 END) "
        f"FROM {pairs_t} x WHERE x.tenant_id = %s AND x.due_on >= {as_date} AND x.due_on <= {as_date}{pair_where} "
        f"GROUP BY x.tier_id {ranking_tail}"
    )
    params = [*rows_params, limit, *current_params, day(filters.end), tid, day(filters.start),
              day(filters.end), *pair_params, limit, limit, limit]
    with conn.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not any(row[0] == -1 for row in rows):
        return None
    return [row for row in rows if row[0] != -1]


def _as_date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


# --- partners table --------------------------------------------------------------------------------

PARTNER_SORTS = (
    "name", "tier", "status", "manager", "completion", "trainings", "downloads", "last_activity", "support", "certified",
)


def _scalar(qs, expression, *, default=None):
    """A correlated subquery giving one aggregate per outer partner row (``partner=OuterRef("pk")``)."""
    value = Subquery(qs.values("partner_id").annotate(v=expression).values("v")[:1])
    return Coalesce(value, default) if default is not None else value


def partners_table(*, tenant, filters: DashboardFilters, sort: str = "name", completion_def: KpiDefinition | None = None):
    """Every filtered partner with its period figures, as one QuerySet sorted in the database
    (whitelisted keys, nulls last, ties in partner order), so a Paginator reads one page of it:
    a COUNT and one SELECT of PAGE_SIZE rows, whatever the number of partners.

    Each figure is a correlated subquery bounded by one partner and the period (index
    ``daily_fact_partner_day`` for the facts; the (tenant, partner, …) keys of the states, support
    activities and KPI results) — never by the length of the history nor read into Python.
    ``certified_people`` (for sorting) counts distinct holders of a valid certificate issued under the
    partner; the page's full coverage is attached by ``attach_coverage`` to the rows shown.
    """
    partner = OuterRef("pk")
    facts = DailyActivityFact.objects.filter(tenant=tenant, partner=partner, day__gte=filters.start, day__lte=filters.end)
    qs = (
        Partner.objects.filter(filters.partner_q(), tenant=tenant)
        .select_related("tier", "manager")
        .annotate(
            trainings_completed=_scalar(facts.filter(verb=Verb.TRAINING_COMPLETED), Sum("event_count"), default=Value(0)),
            downloads=_scalar(facts.filter(verb=Verb.DOCUMENT_DOWNLOADED), Sum("event_count"), default=Value(0)),
            last_activity=_scalar(
                PartnerAssetState.objects.filter(tenant=tenant, partner=partner, last_activity_at__isnull=False),
                Max("last_activity_at"),
            ),
            support_count=_scalar(
                SupportActivity.objects.filter(
                    tenant=tenant, partner=partner, occurred_on__gte=filters.start, occurred_on__lte=filters.end
                ),
                Count("id"),
                default=Value(0),
            ),
        )
    )
    now = timezone.now()
    qs = qs.annotate(
        certified_people=_scalar(
            Certificate.objects.filter(valid_q(now), tenant=tenant, partner=partner),
            Count("holder_id", distinct=True),
            default=Value(0),
        )
    )
    if completion_def is not None:
        latest = (
            KpiResult.objects.filter(
                tenant=tenant, definition=completion_def, partner__isnull=False, period_start__lte=filters.end
            )
            .order_by("-period_start")
            .values("period_start")[:1]
        )
        qs = qs.annotate(
            completion_rate=Subquery(
                KpiResult.objects.filter(
                    tenant=tenant, definition=completion_def, partner=partner, period_start=Subquery(latest)
                ).values("value")[:1]
            )
        )
    else:
        qs = qs.annotate(completion_rate=Value(None, output_field=DecimalField()))
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    column = {
        "tier": F("tier__rank"),
        "status": F("status"),
        "manager": Coalesce(NullIf(F("manager__name"), Value("")), F("manager__email")),
        "completion": F("completion_rate"),
        "trainings": F("trainings_completed"),
        "downloads": F("downloads"),
        "last_activity": F("last_activity"),
        "support": F("support_count"),
        "certified": F("certified_people"),
    }.get(key)
    ties = partner_ordering()
    if column is None:  # by name: the partner order itself, reversed for "-name"
        order = [_directed(t, descending) for t in ties]
    else:
        main = column.desc(nulls_last=True) if descending else column.asc(nulls_last=True)
        order = [main, *ties]
    return qs.order_by(*order)


def _directed(term, descending: bool):
    if isinstance(term, str):
        term = F(term)
    return term.desc() if descending else term.asc()


@dataclass
class CertificationSummary:
    partners: int = 0
    certified: int = 0  # partners meeting their tier's requirement (or with a valid certificate)
    with_gaps: int = 0
    missing_people: int = 0
    expiring: dict[int, int] = field(default_factory=dict)


def attach_coverage(*, tenant, partners) -> None:
    """Set ``partner.certification`` (its Coverage) on each of ``partners`` (one page, or a CSV's rows):
    four queries whatever their number."""
    partners = list(partners)
    coverage = partner_coverage(tenant=tenant, partners=[(p.pk, p.tier_id) for p in partners])
    for p in partners:
        p.certification = coverage[p.pk]


def filtered_coverage(*, tenant, filters: DashboardFilters) -> list[Coverage]:
    """Coverage of every partner under the filter bar (ids only in Python; four queries)."""
    rows = Partner.objects.filter(filters.partner_q(), tenant=tenant).values_list("pk", "tier_id")
    return list(partner_coverage(tenant=tenant, partners=rows).values())


def filtered_certification_summary(*, tenant, filters: DashboardFilters, at: dt.datetime | None = None) -> CertificationSummary:
    """``certification_summary(filtered_coverage(...))`` computed in the database: the same totals
    (partners meeting their tier's requirements, or with a valid certificate when their tier has
    none; partners with gaps; people missing; certificates expiring) in 2 queries, without reading
    one row per partner."""
    at = at or timezone.now()
    conn = connections[router.db_for_read(Partner)]
    partners = Partner.objects.filter(filters.partner_q(), tenant=tenant).order_by()
    p_sql, p_params = _compiled(partners.values("id", "tier_id"))
    valid = Certificate.objects.filter(valid_q(at), tenant=tenant).order_by()
    v_sql, v_params = _compiled(valid.values("id", "partner_id", "certification_id", "holder_id"))
    req_t = TierCertificationRequirement._meta.db_table
    sql = (
        f"WITH pt AS ({p_sql}), v AS ({v_sql}), "  # noqa: S608 - table names and constants only
        "h AS (SELECT v.partner_id, v.certification_id, COUNT(DISTINCT v.holder_id) AS n FROM v "
        "WHERE v.partner_id IN (SELECT pt.id FROM pt) GROUP BY v.partner_id, v.certification_id), "
        "c AS (SELECT v.partner_id, COUNT(*) AS n FROM v WHERE v.partner_id IN (SELECT pt.id FROM pt) GROUP BY v.partner_id), "
        "rq AS (SELECT pt.id AS partner_id, COUNT(*) AS nreq, "
        "SUM(CASE WHEN COALESCE(h.n, 0) < r.required_people THEN 1 ELSE 0 END) AS ngaps, "
        "SUM(CASE WHEN COALESCE(h.n, 0) < r.required_people THEN r.required_people - COALESCE(h.n, 0) ELSE 0 END) AS missing "
        f"FROM pt JOIN {req_t} r ON r.tenant_id = %s AND r.tier_id = pt.tier_id "
        "LEFT JOIN h ON h.partner_id = pt.id AND h.certification_id = r.certification_id GROUP BY pt.id) "
        "SELECT COUNT(*), "
        "COALESCE(SUM(CASE WHEN (rq.nreq > 0 AND rq.ngaps = 0) OR (rq.partner_id IS NULL AND COALESCE(c.n, 0) > 0) "
        "THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN rq.ngaps > 0 THEN 1 ELSE 0 END), 0), COALESCE(SUM(rq.missing), 0) "
        "FROM pt LEFT JOIN rq ON rq.partner_id = pt.id LEFT JOIN c ON c.partner_id = pt.id"
    )
    with conn.cursor() as cursor:
        cursor.execute(sql, [*p_params, *v_params, tenant.pk])
        count, certified, with_gaps, missing = cursor.fetchone()
    out = CertificationSummary(partners=int(count), certified=int(certified), with_gaps=int(with_gaps),
                               missing_people=int(missing))
    if out.partners:  # as the sum of the partners' coverages: every horizon, zeros included
        expiring = valid.filter(partner__in=partners.values("id")).aggregate(
            **{f"d{days}": Count("id", filter=Q(expires_at__lte=at + dt.timedelta(days=days))) for days in EXPIRY_HORIZONS}
        )
        out.expiring = {days: expiring[f"d{days}"] for days in EXPIRY_HORIZONS}
    return out


def certification_summary(coverages: list[Coverage]) -> CertificationSummary:
    """Totals of the partners' certification coverage (no query: it sums ``partners_table``)."""
    out = CertificationSummary(partners=len(coverages))
    for c in coverages:
        out.certified += int(c.meets)
        out.with_gaps += int(bool(c.gaps))
        out.missing_people += sum(g.missing for g in c.gaps)
        for days, n in c.expiring.items():
            out.expiring[days] = out.expiring.get(days, 0) + n
    return out


# --- first-run checklist ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChecklistStep:
    key: str  # invite, tiers, publish, assign, targets
    done: bool


def first_run_checklist(*, tenant) -> list[ChecklistStep] | None:
    """The set-up steps of a new tenant, each ticked when done; None once every step is done. One query."""
    checks = {
        "invite": Membership.objects.filter(tenant=tenant, role=Role.PARTNER_USER),
        "tiers": PartnerTier.objects.filter(tenant=tenant),
        "publish": Asset.objects.filter(tenant=tenant, status=AssetStatus.PUBLISHED),
        "assign": Assignment.objects.filter(tenant=tenant),
        "targets": KpiDefinition.objects.filter(tenant=tenant),
    }
    done = (
        Tenant.objects.filter(pk=tenant.pk)
        .annotate(**{f"done_{key}": Exists(qs) for key, qs in checks.items()})
        .values(*(f"done_{key}" for key in checks))
        .get()
    )
    steps = [ChecklistStep(key, bool(done[f"done_{key}"])) for key in checks]
    return None if all(s.done for s in steps) else steps


# --- partner scorecard -----------------------------------------------------------------------------


@dataclass
class AssetProgress:
    asset: Asset
    due_on: dt.date
    required: int
    completed_users: int
    active_users: int
    max_progress: float | None
    last_activity_at: dt.datetime | None
    completed_at: dt.datetime | None = None  # the partner's first completion

    @property
    def is_done(self) -> bool:
        return pair_done(users=self.completed_users, any_event=self.completed_at is not None, required=self.required)

    @property
    def state(self) -> str:
        return "done" if self.is_done else ("in_progress" if self.active_users else "not_started")


def partner_scorecard(*, tenant, partner: Partner, filters: DashboardFilters) -> dict:
    """Everything on the scorecard except the KPI cards (about 13 queries, fixed)."""
    pairs = targeted_pairs(tenant=tenant, partner_id=partner.pk)
    pair_by_asset = {p.asset_id: p for p in pairs}
    states = {
        s.asset_id: s for s in PartnerAssetState.objects.filter(tenant=tenant, partner=partner)
    }
    asset_ids = set(pair_by_asset)
    assets = Asset.objects.in_bulk(list(asset_ids)) if asset_ids else {}
    progress = []
    for asset_id, pair in pair_by_asset.items():
        if asset_id not in assets:
            continue
        state = states.get(asset_id)
        progress.append(
            AssetProgress(
                asset=assets[asset_id],
                due_on=pair.due_on,
                required=pair.required_completions,
                completed_users=state.completed_users if state else 0,
                active_users=state.active_users if state else 0,
                max_progress=state.max_progress if state else None,
                last_activity_at=state.last_activity_at if state else None,
                completed_at=state.first_completed_at if state else None,
            )
        )
    progress.sort(key=lambda p: (p.is_done, p.due_on, p.asset.title))
    user_progress = list(
        UserAssetState.objects.filter(tenant=tenant, partner=partner, asset_id__in=list(asset_ids))
        .select_related("user", "asset")
        .order_by("user__name", "user__email", "asset__title")
    )
    timeline = list(
        DailyActivityFact.objects.filter(tenant=tenant, partner=partner, day__gte=filters.start, day__lte=filters.end)
        .values("day", "verb")
        .annotate(events=Sum("event_count"), users=Max("user_count"))
        .order_by("-day", "verb")
    )
    users = list(
        Membership.objects.filter(tenant=tenant, partner=partner, role=Role.PARTNER_USER)
        .select_related("user")
        .order_by("-user__last_login", "user__email")
    )
    deals = list(Deal.objects.filter(tenant=tenant, partner=partner).order_by("-created_at")[:50])
    support = list(
        SupportActivity.objects.filter(tenant=tenant, partner=partner).select_related("manager").order_by("-occurred_on")[:20]
    )
    certification = partner_coverage(tenant=tenant, partners=[(partner.pk, partner.tier_id)])[partner.pk]
    return {
        "certification": certification,
        "certificates": partner_certificates(tenant=tenant, partner=partner),
        "progress": progress,
        "user_progress": user_progress,
        "timeline": timeline,
        "users": users,
        "deals": deals,
        "support": support,
        "assigned": len(progress),
        "done": sum(1 for p in progress if p.is_done),
    }


# --- content ---------------------------------------------------------------------------------------


@dataclass
class AssetUsage:
    asset: Asset
    partners: int = 0
    users: int = 0
    views: int = 0
    downloads: int = 0
    started: int = 0
    p25: int = 0
    p50: int = 0
    p75: int = 0
    completed: int = 0
    avg_watched_share: float | None = None
    assigned: bool = False

    @property
    def events(self) -> int:
        return self.views + self.downloads + self.started


def content_usage(*, tenant, filters: DashboardFilters, stale_months: int = 6) -> dict:
    """Per asset reach, views/downloads, training funnel and average watched share; unused
    and stale content. 5–6 queries, independent of the number of partners."""
    assets = {
        a.pk: a
        for a in Asset.objects.filter(tenant=tenant).exclude(status=AssetStatus.DRAFT).select_related("team").order_by("title")
    }
    usage = {pk: AssetUsage(asset=a) for pk, a in assets.items()}
    fact_rows = (
        DailyActivityFact.objects.filter(
            filters.partner_q("partner__"),
            tenant=tenant,
            asset__isnull=False,
            day__gte=filters.start,
            day__lte=filters.end,
        )
        .values("asset_id")
        .annotate(
            partners=Count("partner_id", distinct=True),
            views=Coalesce(Sum("event_count", filter=Q(verb__in=[Verb.DOCUMENT_VIEWED, Verb.FAQ_VIEWED])), 0),
            downloads=Coalesce(Sum("event_count", filter=Q(verb=Verb.DOCUMENT_DOWNLOADED)), 0),
        )
        .order_by()
    )
    for row in fact_rows:
        item = usage.get(row["asset_id"])
        if item:
            item.partners, item.views, item.downloads = row["partners"], row["views"], row["downloads"]
    user_rows = (
        UserAssetState.objects.filter(
            filters.partner_q("partner__"),
            tenant=tenant,
            last_activity_at__date__gte=filters.start,
            first_activity_at__date__lte=filters.end,
        )
        .values("asset_id")
        .annotate(
            users=Count("user_id", distinct=True),
            p25=Count("id", filter=Q(max_progress__gte=25) | Q(watched_share__gte=0.25)),
            p50=Count("id", filter=Q(max_progress__gte=50) | Q(watched_share__gte=0.5)),
            p75=Count("id", filter=Q(max_progress__gte=75) | Q(watched_share__gte=0.75)),
            completed=Count("id", filter=Q(first_completed_at__isnull=False)),
            started_users=Count("id"),
            avg_share=Avg("watched_share"),
        )
        .order_by()
    )
    for row in user_rows:
        item = usage.get(row["asset_id"])
        if item:
            item.users = row["users"]
            if item.asset.kind == AssetKind.TRAINING:
                item.started = row["started_users"]  # the funnel counts users at every step
                item.p25, item.p50, item.p75, item.completed = row["p25"], row["p50"], row["p75"], row["completed"]
                item.avg_watched_share = round(100 * row["avg_share"], 1) if row["avg_share"] is not None else None
    # which assets are assigned, each once (DISTINCT in the database: a playbook assigned to thousands
    # of partners is thousands of assignments of the same few assets)
    assigned_ids = set(
        Assignment.objects.filter(tenant=tenant, is_active=True, asset__isnull=False)
        .order_by().values_list("asset_id", flat=True).distinct()
    ) | set(
        LearningPathItem.objects.filter(tenant=tenant, path__assignments__is_active=True)
        .order_by().values_list("asset_id", flat=True).distinct()
    )
    for item in usage.values():
        item.assigned = item.asset.pk in assigned_ids
    rows = sorted(usage.values(), key=lambda u: (-u.partners, -u.events, u.asset.title))
    published = [u for u in rows if u.asset.status == AssetStatus.PUBLISHED]
    unused = [u for u in published if u.partners == 0 and u.users == 0]
    stale_before = filters.today - dt.timedelta(days=int(30.44 * stale_months))
    stale = [u for u in published if u.assigned and u.asset.updated_at.date() < stale_before]
    trainings = [u for u in published if u.asset.kind == AssetKind.TRAINING]
    funnel = {
        "started": sum(u.started for u in trainings),
        "p25": sum(u.p25 for u in trainings),
        "p50": sum(u.p50 for u in trainings),
        "p75": sum(u.p75 for u in trainings),
        "completed": sum(u.completed for u in trainings),
    }
    return {"rows": rows, "unused": unused, "stale": stale, "funnel": funnel, "stale_before": stale_before}


# --- FAQ -------------------------------------------------------------------------------------------


def _rate(part, whole) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def faq_analytics(*, tenant, filters: DashboardFilters, limit: int = 50) -> dict:
    """Keywords (searches, zero results, unresolved), unresolved rate by tier, the FAQs with the
    most "no" answers and the content-gap list, from FaqSearchFact and DailyActivityFact (4 queries)."""
    base = FaqSearchFact.objects.filter(
        filters.partner_q("partner__"), tenant=tenant, day__gte=filters.start, day__lte=filters.end
    )
    keywords = list(
        base.values("query")
        .annotate(
            searches=Sum("searches"),
            zero=Sum("zero_result_searches"),
            unresolved=Sum("unresolved_searches"),
            partners=Count("partner_id", distinct=True),
        )
        .order_by("-searches", "query")[:500]
    )
    for k in keywords:
        k["unresolved_rate"] = _rate(k["unresolved"], k["searches"])
    totals = base.aggregate(searches=Sum("searches"), zero=Sum("zero_result_searches"), unresolved=Sum("unresolved_searches"))
    by_tier = list(
        base.values("partner__tier__name", "partner__tier__rank")
        .annotate(searches=Sum("searches"), unresolved=Sum("unresolved_searches"), zero=Sum("zero_result_searches"))
        .order_by("partner__tier__rank", "partner__tier__name")
    )
    for t in by_tier:
        t["unresolved_rate"] = _rate(t["unresolved"], t["searches"])
    feedback = list(
        DailyActivityFact.objects.filter(
            filters.partner_q("partner__"),
            tenant=tenant,
            verb__in=[Verb.FAQ_FEEDBACK, Verb.FAQ_VIEWED],
            asset__isnull=False,
            day__gte=filters.start,
            day__lte=filters.end,
        )
        .values("asset_id", "asset__title")
        .annotate(
            feedback=Coalesce(Sum("event_count", filter=Q(verb=Verb.FAQ_FEEDBACK)), 0),
            views=Coalesce(Sum("event_count", filter=Q(verb=Verb.FAQ_VIEWED)), 0),
            no=Coalesce(Sum("negative_count", filter=Q(verb=Verb.FAQ_FEEDBACK)), 0),
        )
        .filter(feedback__gt=0)
        .order_by("-no", "-feedback", "asset__title")[:limit]
    )
    gaps = sorted(
        (k for k in keywords if k["zero"] or (k["unresolved_rate"] or 0) >= 50),
        key=lambda k: (-k["unresolved"], -k["zero"], k["query"]),
    )[:limit]
    return {
        "top": keywords[:limit],
        "zero": sorted((k for k in keywords if k["zero"]), key=lambda k: (-k["zero"], k["query"]))[:limit],
        "by_tier": by_tier,
        "feedback": feedback,
        "gaps": gaps,
        "totals": {
            "searches": totals["searches"] or 0,
            "zero": totals["zero"] or 0,
            "unresolved": totals["unresolved"] or 0,
            "unresolved_rate": _rate(totals["unresolved"] or 0, totals["searches"] or 0),
        },
    }


def faq_open_questions(*, tenant, filters: DashboardFilters, limit: int = 20) -> list[FaqQuestion]:
    """Questions partner users sent from a search that found nothing, not answered yet (1 query).
    A to-do list: all open ones, whatever the period."""
    return list(
        FaqQuestion.objects.filter(filters.partner_q("partner__"), tenant=tenant, status=FaqQuestionStatus.OPEN)
        .select_related("partner", "user")
        .order_by("-created_at", "-id")[:limit]
    )


def faq_keyword_searches(*, tenant, filters: DashboardFilters, keyword: str):
    """The searches behind one keyword, per day and partner, newest first: a QuerySet the view pages
    in SQL (and the CSV reads whole)."""
    return (
        FaqSearchFact.objects.filter(
            filters.partner_q("partner__"), tenant=tenant, query=keyword, day__gte=filters.start, day__lte=filters.end
        )
        .values("day", "partner_id", "partner__name", "partner__tier__name")
        .annotate(searches=Sum("searches"), zero=Sum("zero_result_searches"), unresolved=Sum("unresolved_searches"))
        .order_by("-day", "partner__name", "partner_id")
    )


def faq_keyword_totals(*, tenant, filters: DashboardFilters, keyword: str) -> dict:
    """Searches, zero-result and unresolved searches of one keyword in the period (1 query)."""
    totals = FaqSearchFact.objects.filter(
        filters.partner_q("partner__"), tenant=tenant, query=keyword, day__gte=filters.start, day__lte=filters.end
    ).aggregate(
        searches=Coalesce(Sum("searches"), 0),
        zero=Coalesce(Sum("zero_result_searches"), 0),
        unresolved=Coalesce(Sum("unresolved_searches"), 0),
    )
    return totals


# --- teams -----------------------------------------------------------------------------------------


def team_usage(*, tenant, filters: DashboardFilters) -> list[dict]:
    """Per owning team: assets, assets used in the period, events, completions (3 queries)."""
    teams = {t.pk: {"team": t.name, "assets": 0, "used": 0, "events": 0, "completions": 0} for t in Team.objects.filter(tenant=tenant)}
    no_team = {"team": "", "assets": 0, "used": 0, "events": 0, "completions": 0}
    for row in (
        Asset.objects.filter(tenant=tenant, status=AssetStatus.PUBLISHED).values("team_id").annotate(n=Count("id")).order_by()
    ):
        teams.get(row["team_id"], no_team)["assets"] += row["n"]
    for row in (
        DailyActivityFact.objects.filter(
            filters.partner_q("partner__"), tenant=tenant, asset__isnull=False, day__gte=filters.start, day__lte=filters.end
        )
        .exclude(verb=Verb.PORTAL_LOGIN)
        .values("asset__team_id")
        .annotate(
            used=Count("asset_id", distinct=True),
            events=Sum("event_count"),
            completions=Coalesce(Sum("event_count", filter=Q(verb=Verb.TRAINING_COMPLETED)), 0),
        )
        .order_by()
    ):
        bucket = teams.get(row["asset__team_id"], no_team)
        bucket["used"] += row["used"]
        bucket["events"] += row["events"] or 0
        bucket["completions"] += row["completions"]
    rows = sorted(teams.values(), key=lambda r: (-r["events"], r["team"]))
    if no_team["assets"] or no_team["events"]:
        rows.append(no_team)
    for r in rows:
        r["used_rate"] = _rate(r["used"], r["assets"])
    return rows


def manager_effect(*, tenant, filters: DashboardFilters, completion_def: KpiDefinition | None) -> list[dict]:
    """Per channel manager: partners, support activities logged in the period, and the average
    completion rate of their partners this period and the previous one (4 queries)."""
    managers = {
        m.user_id: {
            "manager_id": m.user_id,
            "manager": m.user.get_full_name() or m.user.email,
            "partners": 0,
            "support": 0,
            "rate": None,
            "prev_rate": None,
        }
        for m in Membership.objects.filter(tenant=tenant, role__in=MANAGER_ROLES).select_related("user")
    }
    for row in Partner.objects.filter(filters.partner_q(), tenant=tenant).values("manager_id").annotate(n=Count("id")).order_by():
        if row["manager_id"] in managers:
            managers[row["manager_id"]]["partners"] = row["n"]
    for row in (
        SupportActivity.objects.filter(
            filters.partner_q("partner__"), tenant=tenant, occurred_on__gte=filters.start, occurred_on__lte=filters.end
        )
        .values("manager_id")
        .annotate(n=Count("id"))
        .order_by()
    ):
        if row["manager_id"] in managers:
            managers[row["manager_id"]]["support"] = row["n"]
    if completion_def is not None:
        for row in (
            KpiResult.objects.filter(
                filters.partner_q("partner__"),
                tenant=tenant,
                definition=completion_def,
                partner__isnull=False,
                period_start__gte=filters.prev_start,
                period_start__lte=filters.end,
                value__isnull=False,
            )
            .values("partner__manager_id")
            .annotate(
                rate=Avg("value", filter=Q(period_start__gte=filters.start)),
                prev_rate=Avg("value", filter=Q(period_start__lt=filters.start)),
            )
            .order_by()
        ):
            if row["partner__manager_id"] in managers:
                m = managers[row["partner__manager_id"]]
                m["rate"] = round(float(row["rate"]), 1) if row["rate"] is not None else None
                m["prev_rate"] = round(float(row["prev_rate"]), 1) if row["prev_rate"] is not None else None
    rows = sorted(managers.values(), key=lambda r: (-r["partners"], r["manager"]))
    for r in rows:
        r["trend"] = round(r["rate"] - r["prev_rate"], 1) if r["rate"] is not None and r["prev_rate"] is not None else None
    return rows
