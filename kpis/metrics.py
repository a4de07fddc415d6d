"""KPI computation: every active ``KpiDefinition`` → ``KpiResult`` rows per period, overall and
per partner. Reads the rollup facts (and the small dimension tables), never the raw log.

Periods come from ``kpis.periods`` (calendar weeks, months, quarters in the tenant's time zone). ``compute_kpis`` computes the period containing ``today`` and the ``periods_back``
before it. Rates are percentages (0–100). A denominator of 0 gives ``value = None`` and status
``no_data`` (the UI shows "—", never 0%).

Metric definitions (for the partners matching the definition's tier/segment filter with the tier
and segment each partner had in the period — frozen for closed periods, ``kpis.targeting`` — and
that had joined by the period's end: a partner counts for a period only from its ``joined_on``, the
day it was created unless entered otherwise):

* enablement completion rate (支援消化率): assigned ``(partner, asset)`` pairs (``enablement.pairs``)
  whose due date falls in the period; completed = done *by its due date* (``enablement.completion``:
  at least ``required_completions`` distinct users completed the asset by the end of the due
  date; for 1 required completion, any completion event of the partner counts). numerator =
  pairs done on time, denominator = pairs (``kpis.targeting`` counts them for the tables too).
* training completion rate: ``(user, training)`` states whose first activity falls in the
  period; completed = first completion by the end of the period.
* active partner rate: non-dormant partners (status as in the period) with any activity (any daily
  fact) in the period / non-dormant partners that existed by the period's end.
* content utilisation: published assets (published before the period ended) used at least once
  (any daily fact) in the period / those published assets. Per partner: used by that partner.
* document downloads: the number of ``document.downloaded`` events in the period (denominator 1).
* document views: the number of ``document.viewed`` events in the period (denominator 1).
* FAQ unresolved rate: unresolved searches / searches (see ``kpis.rollup`` for "unresolved").
* support activities per partner: support activities dated in the period / partners.
* certified partner rate: partners that, at the end of the period (or now, for the current one),
  meet every certification requirement of their tier — or, where their tier requires none, hold at
  least one valid certificate — / partners (``enablement.certifications.selectors.partner_coverage``).
* certificates expiring within 30 days: certificates valid at the end of the period (or now) that
  expire within the following 30 days (denominator 1; a snapshot, so the target is not prorated).
* median days to first completion: for partners whose first training completion happened in the
  period, the median of (local date of that completion − ``joined_on``) in days (≥ 0).
  numerator = sum of days, denominator = number of such partners, value = median.
  "Training" here and in the training completion rate means the learning kinds
  (``enablement.completion.LEARNING_KINDS``: trainings and assessments, a pass completing one).
* assessment pass rate: graded assessment attempts in the period (``assessment.passed`` +
  ``assessment.failed`` events, trusted sources only, from the daily facts) that passed / all of
  them. numerator = passed attempts, denominator = graded attempts.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import EmptyResultSet
from django.db import connections, router, transaction
from django.db.models import (
    Case,
    Count,
    IntegerField,
    Max,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.utils import timezone

from enablement.certifications.models import Certificate, valid_q
from enablement.certifications.selectors import partner_coverage
from enablement.completion import LEARNING_KINDS
from enablement.models import Asset, AssetStatus, Verb
from kpis.models import (
    COUNT_METRICS,
    PER_PARTNER_COUNT_METRICS,
    DailyActivityFact,
    Direction,
    FaqSearchFact,
    KpiDefinition,
    KpiInputChange,
    KpiResult,
    KpiStatus,
    KpiTarget,
    Metric,
    PartnerAssetState,
    PartnerSnapshot,
    RollupState,
    UserAssetState,
)
from kpis.overview import refresh_overview_summary
from kpis.periods import KINDS, Span, elapsed_days, period_after, period_before, period_start, recent_periods
from kpis.runs import tenant_lock
from kpis.scope import KpiTouched, certificate_boundaries, inputs_consumed, overview_partners, pending_changes
from kpis.targeting import (
    PairCount,
    PartnerHistory,
    RequirementHistory,
    count_pairs,
    frozen_through,
    pair_completions,
    pair_matches,
    pairs_freeze,
    partners_snapshot,
    requirements_snapshot,
    targeted_pairs,
)
from partners.models import Partner, PartnerStatus, SupportActivity, Tenant

RECENT_PERIODS_BACK = 11  # 12 periods: what the dashboards' trend lines show
FOUR_PLACES = Decimal("0.0001")


# --- status -----------------------------------------------------------------------------------------


def kpi_status(value: Decimal | None, *, target: Decimal, direction: str, band: Decimal) -> str:
    """on_track at or beyond the target, at_risk within the warning band short of it, else off_track."""
    if value is None:
        return KpiStatus.NO_DATA
    if direction == Direction.LOWER:
        if value <= target:
            return KpiStatus.ON_TRACK
        return KpiStatus.AT_RISK if value <= target + band else KpiStatus.OFF_TRACK
    if value >= target:
        return KpiStatus.ON_TRACK
    return KpiStatus.AT_RISK if value >= target - band else KpiStatus.OFF_TRACK


def _q(value) -> Decimal:
    return Decimal(str(value)).quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)


@dataclass
class Cell:
    numerator: Decimal
    denominator: Decimal
    value: Decimal | None
    # content utilisation, as stored (``KpiResult.asset_uses``): a partner's used asset ids, the
    # overall's {asset id: partners}; not part of the figure (equal cells compare equal without it)
    asset_uses: list[int] | dict[str, int] | None = field(default=None, compare=False)


def ratio(num, den, *, percent: bool) -> Cell:
    num, den = Decimal(str(num or 0)), Decimal(str(den or 0))
    if den == 0:
        return Cell(_q(num), _q(den), None)
    value = num / den * (100 if percent else 1)
    return Cell(_q(num), _q(den), _q(value))


# --- the metrics ------------------------------------------------------------------------------------


_UNREAD = object()


class _Context:
    """Per-run caches shared by all definitions (pairs, completions, partners)."""

    def __init__(self, tenant: Tenant):
        self.tenant = tenant
        self.zone = tenant.zoneinfo
        self._partners: list[dict] | None = None
        self._pairs = None
        self._completions = None
        self._first_training = None
        self._targets: list[KpiTarget] | None = None
        self._partner_by_id: dict[int, dict] | None = None
        self._history: PartnerHistory | None = None
        self._requirements: RequirementHistory | None = None
        self._through: dt.date | None | object = _UNREAD
        self.now = timezone.now()  # the one instant of this run (certificates valid "now")
        self.cells_for: frozenset[int] | None = None  # per-partner cells wanted (None: all); overall rows always

    def wants(self, partner_id: int) -> bool:
        return self.cells_for is None or partner_id in self.cells_for

    def cells(self, partner_ids: list[int]) -> list[int]:
        """The partners whose per-partner cells are built (a scoped KPI run needs the touched ones only)."""
        return partner_ids if self.cells_for is None else [pid for pid in partner_ids if pid in self.cells_for]

    @property
    def partners(self) -> list[dict]:
        if self._partners is None:
            self._partners = list(
                Partner.objects.filter(tenant=self.tenant).values("id", "tier_id", "segment", "status", "joined_on")
            )
        return self._partners

    @property
    def frozen_through(self) -> dt.date | None:
        """The last frozen day (``PartnerHistory.through``), without reading the snapshots."""
        if self._history is not None:
            return self._history.through
        if self._through is _UNREAD:
            self._through = frozen_through(tenant=self.tenant)
        return self._through

    @property
    def requirements(self) -> RequirementHistory:
        if self._requirements is None:
            self._requirements = RequirementHistory(tenant=self.tenant, through=self.history.through)
        return self._requirements

    @property
    def history(self) -> PartnerHistory:
        if self._history is None:
            self._history = PartnerHistory(tenant=self.tenant)
        return self._history

    def partners_in(self, span: Span) -> list[dict]:
        """The partners that existed in ``span`` (joined on or before its last day — a partner created
        today joins today), each with the tier, segment and status it had on that day (frozen for
        closed days, ``kpis.targeting``)."""
        return [self.history.as_of(p, span.end) for p in self.partners if p["joined_on"] <= span.end]

    def partner_ids(self, definition: KpiDefinition, span: Span) -> list[int]:
        return [
            p["id"]
            for p in self.partners_in(span)
            if (definition.tier_id is None or p["tier_id"] == definition.tier_id)
            and (not definition.segment or p["segment"] == definition.segment)
        ]

    @property
    def targets(self) -> list[KpiTarget]:
        if self._targets is None:
            self._targets = list(KpiTarget.objects.filter(tenant=self.tenant))
        return self._targets

    def partner(self, partner_id: int | None, day: dt.date | None = None) -> dict | None:
        """A partner's row; with ``day``, its tier, segment and status as they were that day."""
        if partner_id is None:
            return None
        if self._partner_by_id is None:
            self._partner_by_id = {p["id"]: p for p in self.partners}
        row = self._partner_by_id.get(partner_id)
        return self.history.as_of(row, day) if (row is not None and day is not None) else row

    @property
    def pairs(self):
        """One pair per (partner, asset) with the stricter terms (``kpis.targeting``)."""
        if self._pairs is None:
            self._pairs = targeted_pairs(tenant=self.tenant)
        return self._pairs

    @property
    def completions(self):
        """(partner, asset) → users' first completions and the partner's first completion."""
        if self._completions is None:
            self._completions = pair_completions(tenant=self.tenant)
        return self._completions

    @property
    def first_training_completion(self) -> dict[int, dt.datetime]:
        if self._first_training is None:
            self._first_training = dict(
                PartnerAssetState.objects.filter(
                    tenant=self.tenant, asset__kind__in=LEARNING_KINDS, first_completed_at__isnull=False
                )
                .values("partner_id")
                .annotate(first=Min("first_completed_at"))
                .values_list("partner_id", "first")
                .order_by()
            )
        return self._first_training


Result = tuple[Cell, dict[int, Cell]]


def new_context(tenant: Tenant) -> _Context:
    """Per-run caches for several ``metric_values`` calls (the dashboards' live cards)."""
    return _Context(tenant)


def span_target(
    definition: KpiDefinition, start: dt.date, end: dt.date, today: dt.date, *, target: Decimal | None = None
) -> Decimal:
    """The target for an arbitrary span (the filter bar's period): a count KPI's target scaled
    from its own period to the span's elapsed days; rates and medians keep their target."""
    target = definition.target if target is None else target
    if definition.metric not in COUNT_METRICS and definition.metric not in PER_PARTNER_COUNT_METRICS:
        return target
    own_start = period_start(definition.period, start)
    own_days = (period_after(definition.period, own_start) - own_start).days
    return _q(Decimal(target) * elapsed_days(start, end, today) / own_days)


def _enablement(ctx: _Context, partner_ids: list[int], span: Span, *, definition: KpiDefinition | None = None) -> Result:
    """Pairs are filtered by the definition's tier/segment as they were when the pair was targeted
    (frozen for closed due dates), so a partner that changed tier keeps its past pairs where they were."""
    tier_id, segment = (definition.tier_id, definition.segment) if definition is not None else (None, "")
    pairs = [p for p in ctx.pairs if pair_matches(p, tier_id=tier_id, segment=segment)]
    counted = set(partner_ids) | {p.partner_id for p in pairs if span.start <= p.due_on <= span.end}
    counts = count_pairs(pairs, ctx.completions, span, ctx.zone, partner_ids=sorted(counted))
    per = {pid: ratio(c.on_time, c.assigned, percent=True) for pid, c in counts.items() if ctx.wants(pid)}
    total = PairCount()
    for c in counts.values():
        total.add(c)
    return ratio(total.on_time, total.assigned, percent=True), per


def _training_completion(ctx: _Context, partner_ids: list[int], span: Span) -> Result:
    rows = (
        UserAssetState.objects.filter(
            tenant=ctx.tenant,
            partner_id__in=partner_ids,
            asset__kind__in=LEARNING_KINDS,
            first_activity_at__gte=span.start_utc,
            first_activity_at__lt=span.end_utc,
        )
        .values("partner_id")
        .annotate(started=Count("id"), completed=Count("id", filter=Q(first_completed_at__lt=span.end_utc)))
        .order_by()
    )
    by = {r["partner_id"]: (r["completed"], r["started"]) for r in rows}
    per = {pid: ratio(*by.get(pid, (0, 0)), percent=True) for pid in ctx.cells(partner_ids)}
    return ratio(sum(c for c, _ in by.values()), sum(s for _, s in by.values()), percent=True), per


def _active_partners(ctx: _Context, partner_ids: list[int], span: Span) -> Result:
    # non-dormant as the partner was in the period (frozen for closed periods), existing by then
    live = {p["id"] for p in ctx.partners_in(span) if p["status"] != PartnerStatus.DORMANT} & set(partner_ids)
    active = set(
        DailyActivityFact.objects.filter(
            tenant=ctx.tenant, partner_id__in=list(live), day__gte=span.start, day__lte=span.end
        )
        .values_list("partner_id", flat=True)
        .distinct()
        .order_by()
    )
    per = {pid: ratio(int(pid in active), int(pid in live), percent=True) for pid in ctx.cells(partner_ids)}
    return ratio(len(active), len(live), percent=True), per


def _published_assets(ctx: _Context, span: Span):
    return Asset.objects.filter(tenant=ctx.tenant, status=AssetStatus.PUBLISHED).filter(
        Q(published_at__isnull=True) | Q(published_at__lt=span.end_utc)
    )


def _content_utilisation(ctx: _Context, partner_ids: list[int], span: Span) -> Result:
    published = _published_assets(ctx, span)
    total = published.count()
    facts = DailyActivityFact.objects.filter(
        tenant=ctx.tenant,
        partner_id__in=partner_ids,
        day__gte=span.start,
        day__lte=span.end,
        asset_id__in=published.values("id"),
    )
    used = facts.aggregate(n=Count("asset_id", distinct=True))["n"] or 0
    by = dict(facts.values("partner_id").annotate(n=Count("asset_id", distinct=True)).values_list("partner_id", "n").order_by())
    per = {pid: ratio(by.get(pid, 0), total, percent=True) for pid in ctx.cells(partner_ids)}
    return ratio(used, total, percent=True), per


def _content_uses(ctx: _Context, partner_ids: list[int], span: Span) -> tuple[int, dict[int, list[int]]]:
    """The published assets counted in ``span`` (their number) and, for each of ``partner_ids`` that
    used any, the ids of those it used in the period, sorted: one statement over the facts of
    ``partner_ids`` (their distinct (partner, asset) pairs) and a count of the assets."""
    published = _published_assets(ctx, span)
    used: dict[int, list[int]] = defaultdict(list)
    for pid, aid in (
        DailyActivityFact.objects.filter(
            tenant=ctx.tenant, partner_id__in=partner_ids, day__gte=span.start, day__lte=span.end,
            asset_id__in=published.values("id"),
        )
        .values_list("partner_id", "asset_id")
        .distinct()
        .order_by("partner_id", "asset_id")
    ):
        used[pid].append(aid)
    return published.count(), used


def _content_partner_cell(assets: list[int], total: int) -> Cell:
    cell = ratio(len(assets), total, percent=True)
    cell.asset_uses = list(assets)
    return cell


def _content_overall_cell(counts: Counter, total: int) -> Cell:
    """Distinct assets used = the assets some partner used (a partner count above 0)."""
    uses = {str(aid): n for aid, n in sorted(counts.items()) if n > 0}
    cell = ratio(len(uses), total, percent=True)
    cell.asset_uses = uses
    return cell


def _content_with_uses(ctx: _Context, partner_ids: list[int], span: Span) -> Result:
    """``_content_utilisation``'s cells, each carrying the assets behind it (``Cell.asset_uses``):
    what the KPI job stores, so that a scoped run adjusts the overall by the touched partners'
    assets instead of counting distinct assets over every partner's facts (``_StoredParts``)."""
    total, used = _content_uses(ctx, partner_ids, span)
    counts = Counter(aid for assets in used.values() for aid in assets)
    per = {pid: _content_partner_cell(used.get(pid, []), total) for pid in ctx.cells(partner_ids)}
    return _content_overall_cell(counts, total), per


def _downloads(ctx: _Context, partner_ids: list[int], span: Span, *, verb: str = Verb.DOCUMENT_DOWNLOADED) -> Result:
    by = dict(
        DailyActivityFact.objects.filter(
            tenant=ctx.tenant,
            partner_id__in=partner_ids,
            verb=verb,
            day__gte=span.start,
            day__lte=span.end,
        )
        .values("partner_id")
        .annotate(n=Sum("event_count"))
        .values_list("partner_id", "n")
        .order_by()
    )
    per = {pid: ratio(by.get(pid, 0), 1, percent=False) for pid in ctx.cells(partner_ids)}
    return ratio(sum(by.values()), 1, percent=False), per


def _document_views(ctx: _Context, partner_ids: list[int], span: Span) -> Result:
    """``document.viewed`` events in the period (a count, like the downloads; one GROUP BY)."""
    return _downloads(ctx, partner_ids, span, verb=Verb.DOCUMENT_VIEWED)


def _faq_unresolved(ctx: _Context, partner_ids: list[int], span: Span) -> Result:
    rows = (
        FaqSearchFact.objects.filter(
            tenant=ctx.tenant, partner_id__in=partner_ids, day__gte=span.start, day__lte=span.end
        )
        .values("partner_id")
        .annotate(searches=Sum("searches"), unresolved=Sum("unresolved_searches"))
        .order_by()
    )
    by = {r["partner_id"]: (r["unresolved"], r["searches"]) for r in rows}
    per = {pid: ratio(*by.get(pid, (0, 0)), percent=True) for pid in ctx.cells(partner_ids)}
    return ratio(sum(u for u, _ in by.values()), sum(s for _, s in by.values()), percent=True), per


def _support_per_partner(ctx: _Context, partner_ids: list[int], span: Span) -> Result:
    by = dict(
        SupportActivity.objects.filter(
            tenant=ctx.tenant, partner_id__in=partner_ids, occurred_on__gte=span.start, occurred_on__lte=span.end
        )
        .values("partner_id")
        .annotate(n=Count("id"))
        .values_list("partner_id", "n")
        .order_by()
    )
    per = {pid: ratio(by.get(pid, 0), 1, percent=False) for pid in ctx.cells(partner_ids)}
    return ratio(sum(by.values()), len(partner_ids), percent=False), per


def _median_days(ctx: _Context, partner_ids: list[int], span: Span) -> Result:
    joined = {p["id"]: p["joined_on"] for p in ctx.partners}
    days: dict[int, int] = {}
    for pid in partner_ids:
        first = ctx.first_training_completion.get(pid)
        if first is not None and span.start_utc <= first < span.end_utc:
            days[pid] = max((first.astimezone(ctx.zone).date() - joined[pid]).days, 0)
    per = {
        pid: (Cell(_q(days[pid]), _q(1), _q(days[pid])) if pid in days else Cell(_q(0), _q(0), None))
        for pid in ctx.cells(partner_ids)
    }
    if not days:
        return Cell(_q(0), _q(0), None), per
    return Cell(_q(sum(days.values())), _q(len(days)), _q(statistics.median(days.values()))), per


def _certificate_instant(ctx: _Context, span: Span) -> dt.datetime:
    return min(span.end_utc, ctx.now)


def _certified_partners(ctx: _Context, partner_ids: list[int], span: Span) -> Result:
    """Each partner judged by the tier it had on the period's last day and that tier's requirements
    then (``RequirementHistory``): a requirement added or changed later does not rewrite the period."""
    coverage = partner_coverage(
        tenant=ctx.tenant,
        partners=[(pid, ctx.partner(pid, span.end)["tier_id"]) for pid in partner_ids],
        at=_certificate_instant(ctx, span),
        requirements=ctx.requirements.as_of(span.end),
    )
    per = {pid: ratio(int(coverage[pid].meets), 1, percent=True) for pid in ctx.cells(partner_ids)}
    return ratio(sum(int(c.meets) for c in coverage.values()), len(partner_ids), percent=True), per


EXPIRING_DAYS = 30


def _expiring_certificates(ctx: _Context, partner_ids: list[int], span: Span) -> Result:
    at = _certificate_instant(ctx, span)
    coverage = partner_coverage(tenant=ctx.tenant, partners=[(pid, None) for pid in partner_ids], at=at)
    per = {pid: ratio(coverage[pid].expiring[EXPIRING_DAYS], 1, percent=False) for pid in ctx.cells(partner_ids)}
    return ratio(sum(c.expiring[EXPIRING_DAYS] for c in coverage.values()), 1, percent=False), per


def _assessment_pass_rate(ctx: _Context, partner_ids: list[int], span: Span) -> Result:
    rows = (
        DailyActivityFact.objects.filter(
            tenant=ctx.tenant,
            partner_id__in=partner_ids,
            verb__in=[Verb.ASSESSMENT_PASSED, Verb.ASSESSMENT_FAILED],
            day__gte=span.start,
            day__lte=span.end,
        )
        .values("partner_id")
        .annotate(
            graded=Sum("event_count"),
            passed=Sum("event_count", filter=Q(verb=Verb.ASSESSMENT_PASSED)),
        )
        .order_by()
    )
    by = {r["partner_id"]: (r["passed"] or 0, r["graded"] or 0) for r in rows}
    per = {pid: ratio(*by.get(pid, (0, 0)), percent=True) for pid in ctx.cells(partner_ids)}
    return ratio(sum(p for p, _ in by.values()), sum(g for _, g in by.values()), percent=True), per


METRICS = {
    Metric.ENABLEMENT_COMPLETION_RATE: _enablement,
    Metric.TRAINING_COMPLETION_RATE: _training_completion,
    Metric.ACTIVE_PARTNER_RATE: _active_partners,
    Metric.CONTENT_UTILISATION: _content_utilisation,
    Metric.DOCUMENT_DOWNLOADS: _downloads,
    Metric.DOCUMENT_VIEWS: _document_views,
    Metric.FAQ_UNRESOLVED_RATE: _faq_unresolved,
    Metric.SUPPORT_ACTIVITIES_PER_PARTNER: _support_per_partner,
    Metric.MEDIAN_DAYS_TO_FIRST_COMPLETION: _median_days,
    Metric.CERTIFIED_PARTNER_RATE: _certified_partners,
    Metric.EXPIRING_CERTIFICATES: _expiring_certificates,
    Metric.ASSESSMENT_PASS_RATE: _assessment_pass_rate,
}


def metric_values(
    tenant: Tenant,
    definition: KpiDefinition,
    start: dt.date,
    end: dt.date,
    *,
    ctx: _Context | None = None,
    partner_ids: Iterable[int] | None = None,
) -> Result:
    """(overall cell, {partner_id: cell}) of one definition for one period; ``partner_ids``
    narrows the definition's partners further (the dashboards' filter bar)."""
    ctx = ctx or _Context(tenant)
    span = Span.of(start, end, ctx.zone)
    ids = ctx.partner_ids(definition, span)
    if partner_ids is not None:
        wanted = set(partner_ids)
        ids = [pid for pid in ids if pid in wanted]
    if definition.metric == Metric.ENABLEMENT_COMPLETION_RATE:
        overall, per = _enablement(ctx, ids, span, definition=definition)
        if partner_ids is None:
            return overall, per
        per = {pid: c for pid, c in per.items() if pid in wanted}  # pairs by their targeted tier
        return ratio(sum(c.numerator for c in per.values()), sum(c.denominator for c in per.values()), percent=True), per
    return METRICS[definition.metric](ctx, ids, span)


def _stored_values(tenant: Tenant, definition: KpiDefinition, start: dt.date, end: dt.date, ctx: _Context) -> Result:
    """``metric_values`` of a period the KPI job stores: content utilisation's cells carry their
    assets (``KpiResult.asset_uses``)."""
    if definition.metric == Metric.CONTENT_UTILISATION:
        span = Span.of(start, end, ctx.zone)
        return _content_with_uses(ctx, ctx.partner_ids(definition, span), span)
    return metric_values(tenant, definition, start, end, ctx=ctx)


def target_in_force(
    definition: KpiDefinition, targets: list[KpiTarget], start: dt.date, partner: dict | None = None
) -> tuple[Decimal, bool]:
    """(target, scoped): the target a period starting on ``start`` is judged by — the latest dated
    target in force on ``start``, the most specific first (partner, segment, tier, unscoped), else
    the definition's own. ``scoped`` says a partner, segment or tier target applied. For the
    overall row (``partner`` None) a tier/segment target applies when the definition filters on it."""
    tier_id = partner["tier_id"] if partner else definition.tier_id
    segment = partner["segment"] if partner else definition.segment
    ranked = []
    for t in targets:
        if t.definition_id != definition.pk or t.effective_from > start:
            continue
        if t.partner_id is not None:
            rank = 3 if partner and t.partner_id == partner["id"] else None
        elif t.segment:
            rank = 2 if segment and t.segment == segment else None
        elif t.tier_id is not None:
            rank = 1 if tier_id and t.tier_id == tier_id else None
        else:
            rank = 0
        if rank is not None:
            ranked.append((rank, t.effective_from, t.pk, t.target))
    if not ranked:
        return definition.target, False
    best = max(ranked)
    return best[3], best[0] > 0


def paced_target(
    definition: KpiDefinition, start: dt.date, end: dt.date, today: dt.date, *, target: Decimal | None = None
) -> Decimal:
    """The target a period is judged by: a count KPI's target prorated to the elapsed days while
    the period is current (pacing); rates and medians keep their target."""
    target = definition.target if target is None else target
    if definition.metric not in COUNT_METRICS and definition.metric not in PER_PARTNER_COUNT_METRICS:
        return target
    elapsed, total = elapsed_days(start, end, today), (end - start).days + 1
    if elapsed >= total:
        return target
    return _q(Decimal(target) * elapsed / total)


def previous_to_date(kind: str, start: dt.date, elapsed: int) -> tuple[dt.date, dt.date]:
    """The same number of days at the start of the previous period (its end clipped to it)."""
    prev = period_before(kind, start)
    return prev, min(prev + dt.timedelta(days=max(elapsed, 1) - 1), start - dt.timedelta(days=1))


# --- the entry point ---------------------------------------------------------------------------------


def compute_kpis(
    tenant: Tenant,
    *,
    today: dt.date | None = None,
    periods_back: int = 1,
    definitions: Iterable[KpiDefinition] | None = None,
    report: dict | None = None,
    touched: KpiTouched | None = None,
) -> int:
    """Compute ``KpiResult`` for each active definition, for the period containing ``today``
    (tenant-local) and the ``periods_back`` before it, overall and per partner.

    ``touched`` (what the rollup run before changed, ``kpis.scope``): recompute only the periods
    containing touched days — plus the changes recorded since the last computation
    (``KpiInputChange``) — and in them the tenant-level row and the touched partners' rows; the
    stored results then equal a computation of everything. The tenant-level row is then built from
    the touched partners' new cells and the other partners' stored rows (``_StoredParts``; content
    utilisation, distinct assets, from the stored overall's per-asset partner counts and the touched
    partners' stored and new assets), so the run reads the touched partners' inputs. Everything is computed anyway when a
    recorded change asks for it, on the first run of a tenant-local day, and when ``touched`` is
    None (the nightly run, the safety net).

    Only what changed is written (``_write_changed``): a run over unchanged facts writes no
    row; closed periods keep their rows (and frozen numbers) as they are. One transaction.
    Returns the number of results computed; ``report`` (when given) receives ``written`` (rows
    inserted, updated or deleted), ``scope`` (``full``/``scoped``) and ``periods`` (definition
    periods computed). Must run inside the tenant's scope.
    """
    today = today or timezone.now().astimezone(tenant.zoneinfo).date()
    every_definition = definitions is None
    defs = list(definitions) if definitions is not None else list(KpiDefinition.objects.filter(tenant=tenant, is_active=True))
    ctx = _Context(tenant)
    now = ctx.now
    computed = written = periods_computed = from_parts = 0
    narrow = None
    with transaction.atomic():
        tenant_lock(tenant.pk)  # concurrent computations of one tenant queue (delete + insert below)
        RollupState.objects.get_or_create(tenant=tenant)
        state = RollupState.objects.get(tenant=tenant)
        change_ids, pending = pending_changes(tenant)  # first: a change seen here is seen by every read below
        # who was targeted: partners' tier/segment/status and the pairs, fixed once a day is over
        moved = requirements_snapshot(tenant=tenant, through=today - dt.timedelta(days=1))  # before the freeze
        moved += partners_snapshot(tenant=tenant, through=today - dt.timedelta(days=1))
        frozen = pairs_freeze(tenant=tenant, through=today - dt.timedelta(days=1))
        moved += frozen
        scope = None  # None: every period and partner
        if (
            touched is not None and every_definition and not moved
            and state.kpis_full_on == today and (state.kpis_full_back or 0) >= periods_back
        ):
            scope = touched.union(pending).union(certificate_boundaries(tenant, state.kpis_computed_at, now, today))
            if scope.everything:
                scope = None
            else:
                ctx.cells_for = scope.partner_ids
                narrow = _TouchedContext(ctx, scope.partner_ids)
        for definition in defs:
            periods = recent_periods(definition.period, today, periods_back)
            if scope is not None:
                periods = [(s, e) for s, e in periods if scope.covers(definition.metric, definition.period, s, e, today)]
                if not periods:
                    continue
            periods_computed += len(periods)
            parts = None if scope is None else _StoredParts(tenant, definition, [s for s, _ in periods], scope)
            rows: list[KpiResult] = []
            for start, end in periods:
                if parts is None:
                    overall, per = _stored_values(tenant, definition, start, end, ctx)
                else:  # the touched partners' cells; the overall from them and the others' stored cells
                    overall, per = parts.period(ctx, narrow, start, end)
                partial = start <= today < end
                elapsed = elapsed_days(start, end, today) if partial else None
                before: Result = (Cell(_q(0), _q(0), None), {})
                if partial:  # compared with the same days of the previous period
                    window = previous_to_date(definition.period, start, elapsed)
                    if parts is None:
                        before = metric_values(tenant, definition, *window, ctx=ctx)
                    else:
                        before = parts.previous(ctx, narrow, start, elapsed, *window)
                cells = sorted(per.items()) if scope is None else sorted((p, c) for p, c in per.items() if p in scope.partner_ids)
                for partner_id, cell in [(None, overall), *cells]:
                    in_force, scoped = target_in_force(definition, ctx.targets, start, ctx.partner(partner_id, end))
                    target = paced_target(definition, start, end, today, target=in_force)
                    # a tenant-wide count target is not a partner's target (a partner/tier/segment one is)
                    untargeted = partner_id is not None and definition.metric in COUNT_METRICS and not scoped
                    compare = before[0] if partner_id is None else before[1].get(partner_id)
                    rows.append(
                        KpiResult(
                            tenant=tenant,
                            definition=definition,
                            period_start=start,
                            period_end=end,
                            partner_id=partner_id,
                            numerator=cell.numerator,
                            denominator=cell.denominator,
                            value=cell.value,
                            target=target,
                            status=KpiStatus.NO_TARGET if untargeted else kpi_status(
                                cell.value, target=target, direction=definition.direction, band=definition.warning_band,
                            ),
                            computed_at=now,
                            elapsed_days=elapsed,
                            previous_to_date=compare.value if (partial and compare is not None) else None,
                            asset_uses=cell.asset_uses,
                        )
                    )
            computed += len(rows)
            from_parts += parts.from_parts if parts is not None else 0
            written += _write_changed(
                tenant, definition, [s for s, _ in periods], rows, partner_ids=None if scope is None else scope.partner_ids
            )
        done = {"kpis_computed_at": now}
        if every_definition:
            # the overview's counts, exact as long as no marker is pending (kpis.overview): the
            # partners the markers name, or every partner (a marker for all, or pairs frozen: the
            # overview reads neither snapshot, and a partner's new snapshot follows its own marker)
            overview_scope = None if frozen else overview_partners(tenant, change_ids)
            KpiInputChange.objects.filter(tenant=tenant, pk__in=change_ids).delete()  # seen: computed in this run
            refresh_overview_summary(tenant, today, changed=bool(change_ids or moved), partner_ids=overview_scope)
            inputs_consumed.send(sender=compute_kpis, tenant=tenant, changed=bool(change_ids or moved))
            if scope is None:
                done |= {"kpis_full_on": today, "kpis_full_back": periods_back}
        else:  # some definitions only: the others' results are as old as before, the next run computes all
            done |= {"kpis_full_on": None, "kpis_full_back": None}
        RollupState.objects.filter(tenant=tenant).update(**done)
    if report is not None:
        report["written"] = written
        report["scope"] = "full" if scope is None else "scoped"
        report["periods"] = periods_computed
        report["overall_from_parts"] = from_parts
    return computed


RESULT_FIELDS = (
    "period_end", "numerator", "denominator", "value", "target", "status", "elapsed_days", "previous_to_date",
    "asset_uses",
)


DECIMAL_PLACES = {
    name: KpiResult._meta.get_field(name).decimal_places
    for name in RESULT_FIELDS
    if KpiResult._meta.get_field(name).get_internal_type() == "DecimalField"
}


def _write_changed(
    tenant: Tenant, definition: KpiDefinition, starts: list[dt.date], rows: list[KpiResult],
    *, partner_ids: Iterable[int] | None = None,
) -> int:
    """Make the stored results of ``definition`` for the periods starting on ``starts`` equal
    ``rows``, touching only the rows whose numbers differ (``computed_at`` says when a row last
    changed): insert the new, update the changed, delete the vanished. ``partner_ids``: only the
    overall rows and those partners' rows are compared (a scoped run). Returns rows written."""
    stored_rows = KpiResult.objects.filter(tenant=tenant, definition=definition, period_start__in=starts)
    if partner_ids is not None:
        stored_rows = stored_rows.filter(Q(partner__isnull=True) | Q(partner_id__in=sorted(partner_ids)))
    stored = {(r.period_start, r.partner_id): r for r in stored_rows}
    inserts, updates = [], []
    for row in rows:
        for name, places in DECIMAL_PLACES.items():  # as the column stores it, so equal compares equal
            value = getattr(row, name)
            if value is not None:
                setattr(row, name, Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))
        old = stored.pop((row.period_start, row.partner_id), None)
        if old is None:
            inserts.append(row)
        elif any(getattr(old, name) != getattr(row, name) for name in RESULT_FIELDS):
            for name in (*RESULT_FIELDS, "computed_at"):
                setattr(old, name, getattr(row, name))
            updates.append(old)
    if stored:
        KpiResult.objects.filter(pk__in=[r.pk for r in stored.values()]).delete()
    KpiResult.objects.bulk_create(inserts, batch_size=1000)
    KpiResult.objects.bulk_update(updates, [*RESULT_FIELDS, "computed_at"], batch_size=1000)
    return len(inserts) + len(updates) + len(stored)


# --- a scoped run: the touched partners' cells, the overall from the stored cells ---------------------
#
# In a scoped run (``compute_kpis(touched=...)``) every untouched partner's stored row already equals
# a full computation (``kpis.scope``). Where the tenant-level cell is exactly a function of the
# partners' cells — each partner's cell counts once in the overall, the way the METRICS functions
# build both — the overall row is rebuilt from the touched partners' new cells plus the others'
# stored numerators and denominators (one grouped statement per definition), so the run reads the
# facts, pairs, states and certificates of the touched partners only:
#
# * summed numerator and denominator: the completion rates (pairs due / done on time; training
#   states started / completed), active partners (active / non-dormant: 1 or 0 each), FAQ
#   (unresolved / searches), support activities per partner (activities / partners: 1 each),
#   certified partners (meeting / partners: 1 each), assessment pass rate (passed / graded);
# * summed numerator over a denominator of 1: document downloads and views, expiring certificates;
# * the median days to first completion: days and partners summed, the value the median of the
#   partners' own values (each partner's cell holds its days over 1);
# * content utilisation counts *distinct* assets used by any partner (two partners using one asset
#   count once), so the partners' counts do not add up. Its stored rows carry the assets behind
#   them (``KpiResult.asset_uses``): each partner's row the ids of the assets it used, the overall
#   row how many partners used each asset. The scoped run takes the stored overall's per-asset
#   partner counts, removes the touched partners' stored lists, adds their new ones (from their
#   facts), and counts the assets left above 0 — an asset a touched partner starts using moves from
#   0 to 1, one it no longer uses (its facts gone) from 1 to 0 unless another partner used it. No
#   other partner's facts or rows are read. Rows without their assets (stored before they were
#   kept) or counts that would fall below 0 fall back to counting over every partner's facts.
#
# Every part is an integer count, so the sums are exact and the overall equals a full recompute.
# The current period's comparison with the first days of the previous one: each touched partner's
# from its facts; the overall's stored value is kept unless the changes reach those days (then it
# is computed from every partner's facts, as a full run does).

SUMMED_METRICS = frozenset(
    {
        Metric.ENABLEMENT_COMPLETION_RATE,
        Metric.TRAINING_COMPLETION_RATE,
        Metric.ACTIVE_PARTNER_RATE,
        Metric.FAQ_UNRESOLVED_RATE,
        Metric.SUPPORT_ACTIVITIES_PER_PARTNER,
        Metric.CERTIFIED_PARTNER_RATE,
        Metric.ASSESSMENT_PASS_RATE,
        Metric.MEDIAN_DAYS_TO_FIRST_COMPLETION,
    }
)
COUNTED_METRICS = frozenset({Metric.DOCUMENT_DOWNLOADS, Metric.DOCUMENT_VIEWS, Metric.EXPIRING_CERTIFICATES})
PERCENT_METRICS = SUMMED_METRICS - {Metric.SUPPORT_ACTIVITIES_PER_PARTNER, Metric.MEDIAN_DAYS_TO_FIRST_COMPLETION}
NARROW_PAIRS_PARTNERS = 20  # up to this many touched partners, their pairs are selected partner by partner


class _TouchedContext(_Context):
    """A scoped run's context for the touched partners' cells: the partners, their history and the
    targets are the run's (shared), the pairs, completions and first training completions are the
    touched partners' only (selected in the database)."""

    def __init__(self, parent: _Context, partner_ids: frozenset[int]):
        super().__init__(parent.tenant)
        self.now = parent.now
        self._partners, self._history = parent.partners, parent.history
        self.cells_for = frozenset(partner_ids)
        self._touched_rows = [p for p in parent.partners if p["id"] in self.cells_for]

    def partners_in(self, span: Span) -> list[dict]:
        """The touched partners that existed in ``span`` (``_Context.partners_in``), not every partner."""
        return [self.history.as_of(p, span.end) for p in self._touched_rows if p["joined_on"] <= span.end]

    @property
    def pairs(self):
        if self._pairs is None:
            ids = sorted(self.cells_for)
            if len(ids) <= NARROW_PAIRS_PARTNERS:
                self._pairs = [p for pid in ids for p in targeted_pairs(tenant=self.tenant, partner_id=pid)]
            else:
                self._pairs = [p for p in targeted_pairs(tenant=self.tenant) if p.partner_id in self.cells_for]
        return self._pairs

    @property
    def completions(self):
        if self._completions is None:
            self._completions = pair_completions(tenant=self.tenant, partner_ids=sorted(self.cells_for))
        return self._completions

    @property
    def first_training_completion(self) -> dict[int, dt.datetime]:
        if self._first_training is None:
            self._first_training = dict(
                PartnerAssetState.objects.filter(
                    tenant=self.tenant, partner_id__in=sorted(self.cells_for),
                    asset__kind__in=LEARNING_KINDS, first_completed_at__isnull=False,
                )
                .values("partner_id")
                .annotate(first=Min("first_completed_at"))
                .values_list("partner_id", "first")
                .order_by()
            )
        return self._first_training


def _touched_cells(narrow: _TouchedContext, definition: KpiDefinition, span: Span) -> dict[int, Cell]:
    """The touched partners' cells of one period, as a full computation builds them."""
    ids = [pid for pid in narrow.partner_ids(definition, span) if pid in narrow.cells_for]
    if definition.metric == Metric.ENABLEMENT_COMPLETION_RATE:
        return _enablement(narrow, ids, span, definition=definition)[1]
    return METRICS[definition.metric](narrow, ids, span)[1]


class _StoredParts:
    """The stored cells of one definition's periods, but the touched partners' (one statement; the
    median's partner values in a second), and the stored overall rows (their comparison values)."""

    def __init__(self, tenant: Tenant, definition: KpiDefinition, starts: list[dt.date], scope: KpiTouched):
        self.definition, self.scope, self.from_parts = definition, scope, 0
        stored = KpiResult.objects.filter(tenant=tenant, definition=definition, period_start__in=starts)
        others = Q(partner__isnull=False) & ~Q(partner_id__in=sorted(scope.partner_ids))
        overall = Q(partner__isnull=True)
        self.sums: dict[dt.date, tuple[Decimal, Decimal]] = {}
        self.values: dict[dt.date, list[Decimal]] = defaultdict(list)
        self.overall_rows: dict[dt.date, dict] = {}
        for row in (  # per period: the other partners' sums and the overall row's comparison (one statement)
            stored.values("period_start")
            .annotate(
                num=Sum("numerator", filter=others), den=Sum("denominator", filter=others),
                overall=Count("id", filter=overall), elapsed_days=Max("elapsed_days", filter=overall),
                previous_to_date=Max("previous_to_date", filter=overall),
            )
            .order_by()
        ):
            self.sums[row["period_start"]] = (Decimal(row["num"] or 0), Decimal(row["den"] or 0))
            if row["overall"]:
                self.overall_rows[row["period_start"]] = row
        if definition.metric == Metric.MEDIAN_DAYS_TO_FIRST_COMPLETION:
            for start, value in stored.filter(others, denominator__gt=0).values_list("period_start", "value").order_by():
                self.values[start].append(Decimal(value))
        # content utilisation: the overall's per-asset partner counts and the touched partners' assets
        self.uses: dict[dt.date, dict[int | None, list[int] | dict[str, int] | None]] = defaultdict(dict)
        if definition.metric == Metric.CONTENT_UTILISATION:
            for start, partner_id, uses in (
                stored.filter(Q(partner__isnull=True) | Q(partner_id__in=sorted(scope.partner_ids)))
                .values_list("period_start", "partner_id", "asset_uses")
                .order_by()
            ):
                self.uses[start][partner_id] = uses

    def period(self, ctx: _Context, narrow: _TouchedContext, start: dt.date, end: dt.date) -> Result:
        span = Span.of(start, end, ctx.zone)
        metric = self.definition.metric
        if metric == Metric.CONTENT_UTILISATION:
            return self._content(ctx, narrow, start, span)
        per = _touched_cells(narrow, self.definition, span)
        self.from_parts += 1
        num, den = self.sums.get(start, (Decimal(0), Decimal(0)))
        num += sum((c.numerator for c in per.values()), Decimal(0))
        if metric in COUNTED_METRICS:
            return ratio(num, 1, percent=False), per
        den += sum((c.denominator for c in per.values()), Decimal(0))
        if metric == Metric.MEDIAN_DAYS_TO_FIRST_COMPLETION:
            values = self.values.get(start, []) + [c.value for c in per.values() if c.denominator > 0]
            return (Cell(_q(num), _q(den), _q(statistics.median(values))) if values else Cell(_q(0), _q(0), None)), per
        return ratio(num, den, percent=metric in PERCENT_METRICS), per

    def _content(self, ctx: _Context, narrow: _TouchedContext, start: dt.date, span: Span) -> Result:
        """Content utilisation: the touched partners' cells from their facts, the overall from the
        stored per-asset partner counts adjusted by the touched partners' old and new assets."""
        ids = [pid for pid in narrow.partner_ids(self.definition, span) if pid in narrow.cells_for]
        total, used = _content_uses(narrow, ids, span)
        per = {pid: _content_partner_cell(used.get(pid, []), total) for pid in ids}
        stored = self.uses.get(start, {})
        overall_uses = stored.get(None)
        if overall_uses is not None and all(isinstance(stored.get(pid), list) for pid in ids):
            counts = Counter({int(aid): int(n) for aid, n in overall_uses.items()})
            for pid, old in stored.items():
                if pid is not None and old is not None:
                    counts.subtract(old)  # the touched partner's contribution as stored
            for assets in used.values():
                counts.update(assets)
            if all(n >= 0 for n in counts.values()):
                self.from_parts += 1
                return _content_overall_cell(counts, total), per
        # not stored with its assets (or inconsistent): every partner's facts, as a full run counts them
        return _content_with_uses(ctx, ctx.partner_ids(self.definition, span), span)[0], per

    def previous(
        self, ctx: _Context, narrow: _TouchedContext, start: dt.date, elapsed: int, first: dt.date, last: dt.date
    ) -> Result:
        """The current period's comparison: the overall's stored value unless the changes reach the
        previous period's first days ``[first, last]`` (or it is not stored for today's elapsed days),
        the touched partners' from their facts."""
        span = Span.of(first, last, ctx.zone)
        row = self.overall_rows.get(start)
        if self.scope.moves(self.definition.metric, first, last) or row is None or row["elapsed_days"] != elapsed:
            return metric_values(ctx.tenant, self.definition, first, last, ctx=ctx)
        kept = row["previous_to_date"]
        return Cell(_q(0), _q(0), None if kept is None else Decimal(kept)), _touched_cells(narrow, self.definition, span)


# --- series: the last N periods of a metric in one grouped query --------------------------------------

TREND_POINTS = RECENT_PERIODS_BACK + 1  # the unfiltered trend's length (stored results)


@dataclass
class SeriesPoint:
    start: dt.date
    end: dt.date
    cell: Cell


def series_periods(kind: str, start: dt.date, end: dt.date, points: int = TREND_POINTS) -> list[tuple[dt.date, dt.date]]:
    """The ``points`` periods ending with ``[start, end]``, oldest first: calendar periods of ``kind``
    (week, month, quarter) or, for any other span (the filter bar's custom range), consecutive
    windows of its length — the same "previous period" the filter bar compares with."""
    if kind in KINDS:
        return recent_periods(kind, start, points - 1)
    length = dt.timedelta(days=(end - start).days + 1)
    return [(start - length * i, end - length * i) for i in reversed(range(points))]


class _Members:
    """Which partners count in each period of a series, as SQL conditions: the WHERE clause keeps
    the partners counted in any period (``everyone``); a row falls in period k when its partner had
    joined by the period's end and is not one of the few joined partners left out of that period
    (tier/segment/status as they were then, ``PartnerHistory``). No condition grows with periods ×
    partners unless partners really changed tier or segment in the window."""

    def __init__(self, ctx: _Context, per_period: list[list[int]], spans: list[Span]):
        self.ctx, self.spans = ctx, spans
        self.per_period = [set(ids) for ids in per_period]
        self.everyone = sorted(set().union(*self.per_period)) if self.per_period else []
        joined = {p["id"]: p["joined_on"] for p in ctx.partners}
        everyone = set(self.everyone)
        self.left_out = [
            sorted(pid for pid in everyone if joined[pid] <= span.end and pid not in ids)
            for span, ids in zip(spans, self.per_period, strict=True)
        ]

    def q(self, k: int, field: str = "partner") -> Q:
        cond = Q(**{f"{field}__joined_on__lte": self.spans[k].end})
        if self.left_out[k]:
            cond &= ~Q(**{f"{field}_id__in": self.left_out[k]})
        return cond

    def where(self, field: str = "partner") -> Q:
        return Q(**{f"{field}_id__in": self.everyone})

    def size(self, k: int) -> int:
        return len(self.per_period[k])


class _ChosenMembers:
    """``_Members`` for the partners of a sub-query (the filter bar's), decided by the database: the
    partners counted in period k are those of ``partners`` that had joined by the period's end and,
    as they were on its last day (``PartnerHistory.as_of`` as SQL: the snapshot in force for a
    frozen day — the latest from before it, else the first —, the partner's live values after the
    frozen date or without a snapshot), had the definition's tier and segment (and, for the
    active-partner rate, were not dormant). No partner id is read into Python or sent as a
    parameter: the statements are the same size for 40 or 5,000 partners."""

    def __init__(self, ctx: _Context, definition: KpiDefinition, partners: QuerySet, spans: list[Span], *,
                 live_only: bool = False):
        self.ctx, self.spans, self.definition, self.live_only = ctx, spans, definition, live_only
        self.partners = partners
        self.through = ctx.frozen_through
        self._sizes: list[int] | None = None

    def _chosen(self):
        return Partner.objects.filter(tenant=self.ctx.tenant, id__in=self.partners).order_by()

    @staticmethod
    def _state(tier_id, segment) -> Q:
        """On a row with tier_id and segment (a partner or its snapshot): the definition's dimensions."""
        cond = Q()
        if tier_id is not None:
            cond &= Q(tier_id=tier_id)
        if segment:
            cond &= Q(segment=segment)
        return cond

    def member_ids(self, k: int):
        """The ids of the partners counted in period k (a sub-query)."""
        end = self.spans[k].end
        tier_id, segment = self.definition.tier_id, self.definition.segment
        chosen = self._chosen().filter(joined_on__lte=end)
        live = self._state(tier_id, segment)
        if self.live_only:
            live &= ~Q(status=PartnerStatus.DORMANT)
        if self.through is None or end > self.through or (live == Q() and not self.live_only):
            return chosen.filter(live).values("id")
        # The snapshot in force on ``end`` (rank 1 per partner: the latest from on or before it, else
        # the first), or the partner's own values when it has none.
        conn = connections[router.db_for_read(Partner)]
        day = conn.ops.adapt_datefield_value(end)
        on = "CAST(%s AS date)" if conn.vendor == "postgresql" else "%s"
        try:
            chosen_sql, chosen_params = chosen.values("id").query.get_compiler(connection=conn).as_sql()
        except EmptyResultSet:  # an empty choice (``pk__in=[]``)
            return RawSQL(f"SELECT p.id FROM {Partner._meta.db_table} p WHERE 1 = 0", [])  # noqa: S611, S608
        cond, params = [], []
        if tier_id is not None:
            cond, params = [*cond, "CASE WHEN s.partner_id IS NULL THEN p.tier_id ELSE s.tier_id END = %s"], [*params, tier_id]
        if segment:
            cond, params = [*cond, "CASE WHEN s.partner_id IS NULL THEN p.segment ELSE s.segment END = %s"], [*params, segment]
        if self.live_only:
            cond, params = [*cond, "CASE WHEN s.partner_id IS NULL OR s.status = '' THEN p.status ELSE s.status END <> %s"], [
                *params, PartnerStatus.DORMANT]
        sql = (
            f"SELECT p.id FROM {Partner._meta.db_table} p LEFT JOIN (SELECT x.partner_id, x.tier_id, x.segment, "  # noqa: S608
            f"x.status, ROW_NUMBER() OVER (PARTITION BY x.partner_id ORDER BY CASE WHEN x.since <= {on} THEN 0 ELSE 1 END, "
            f"CASE WHEN x.since <= {on} THEN x.since END DESC, x.since) AS rn FROM {PartnerSnapshot._meta.db_table} x "
            f"WHERE x.tenant_id = %s) s ON s.partner_id = p.id AND s.rn = 1 WHERE p.id IN ({chosen_sql}) AND "
            + " AND ".join(cond)
        )
        return RawSQL(sql, [day, day, self.ctx.tenant.pk, *chosen_params, *params])  # noqa: S611 - values are parameters

    def q(self, k: int, field: str = "partner") -> Q:
        return Q(**{f"{field}_id__in": self.member_ids(k)})

    def where(self, field: str = "partner") -> Q:
        """The partners that may count in some period (each period's CASE decides): those of
        ``partners`` joined by the last period's end with the definition's tier and segment now or
        in one of their snapshots."""
        chosen = self._chosen().filter(joined_on__lte=self.spans[-1].end)
        dims = self._state(self.definition.tier_id, self.definition.segment)
        if dims != Q() and self.through is not None:
            snapped = PartnerSnapshot.objects.filter(dims, tenant=self.ctx.tenant).values("partner_id")
            chosen = chosen.filter(dims | Q(id__in=snapped))
        elif dims != Q():
            chosen = chosen.filter(dims)
        return Q(**{f"{field}_id__in": chosen.values("id")})

    def size(self, k: int) -> int:
        """How many partners period k counts (every period's in one query, on first use)."""
        if self._sizes is None:
            counts = self._chosen().aggregate(
                **{f"k{i}": Count("id", filter=Q(id__in=self.member_ids(i))) for i in range(len(self.spans))}
            )
            self._sizes = [counts[f"k{i}"] or 0 for i in range(len(self.spans))]
        return self._sizes[k]


def _in_span(field: str, span: Span, *, instants: bool) -> Q:
    if instants:
        return Q(**{f"{field}__gte": span.start_utc, f"{field}__lt": span.end_utc})
    return Q(**{f"{field}__gte": span.start, f"{field}__lte": span.end})


def _period_index(field: str, members: _Members, *, instants: bool = False, extra=None) -> Case:
    """The index of the period a row falls in (None outside the series or for a partner not counted
    in that period): one CASE evaluated by the database, so one GROUP BY yields every period."""
    whens = []
    for k, span in enumerate(members.spans):
        cond = _in_span(field, span, instants=instants) & members.q(k)
        if extra is not None:
            cond &= extra(k, span)
        whens.append(When(cond, then=Value(k)))
    return Case(*whens, default=None, output_field=IntegerField())


def _window(field: str, spans: list[Span], *, instants: bool = False) -> Q:
    if instants:
        return Q(**{f"{field}__gte": spans[0].start_utc, f"{field}__lt": spans[-1].end_utc})
    return Q(**{f"{field}__gte": spans[0].start, f"{field}__lte": spans[-1].end})


def _grouped(queryset, index: Case, **aggregates) -> dict[int, dict]:
    """One GROUP BY on the period index (rows outside every period group under NULL, dropped here)."""
    rows = queryset.annotate(period_k=index).values("period_k").annotate(**aggregates).order_by()
    return {row["period_k"]: row for row in rows if row["period_k"] is not None}


def _series_facts(ctx: _Context, members: _Members, *, verbs: list[str]) -> dict[int, dict]:
    facts = DailyActivityFact.objects.filter(
        members.where(), _window("day", members.spans), tenant=ctx.tenant, verb__in=verbs
    )
    return _grouped(
        facts, _period_index("day", members),
        n=Sum("event_count"), passed=Sum("event_count", filter=Q(verb=Verb.ASSESSMENT_PASSED)),
    )


def _series_counts(ctx, members, spans, *, verb: str) -> list[Cell]:
    rows = _series_facts(ctx, members, verbs=[verb])
    return [ratio(rows.get(k, {}).get("n") or 0, 1, percent=False) for k in range(len(spans))]


def _series_assessment(ctx, members, spans) -> list[Cell]:
    rows = _series_facts(ctx, members, verbs=[Verb.ASSESSMENT_PASSED, Verb.ASSESSMENT_FAILED])
    return [
        ratio(rows.get(k, {}).get("passed") or 0, rows.get(k, {}).get("n") or 0, percent=True) for k in range(len(spans))
    ]


def _series_faq(ctx, members, spans) -> list[Cell]:
    searches = FaqSearchFact.objects.filter(members.where(), _window("day", spans), tenant=ctx.tenant)
    rows = _grouped(searches, _period_index("day", members), searches=Sum("searches"), unresolved=Sum("unresolved_searches"))
    return [
        ratio(rows.get(k, {}).get("unresolved") or 0, rows.get(k, {}).get("searches") or 0, percent=True)
        for k in range(len(spans))
    ]


def _series_support(ctx, members, spans) -> list[Cell]:
    support = SupportActivity.objects.filter(members.where(), _window("occurred_on", spans), tenant=ctx.tenant)
    rows = _grouped(support, _period_index("occurred_on", members), n=Count("id"))
    return [
        ratio(rows.get(k, {}).get("n") or 0, members.size(k), percent=False) for k in range(len(spans))
    ]


def _series_active(ctx, members, spans) -> list[Cell]:
    facts = DailyActivityFact.objects.filter(members.where(), _window("day", spans), tenant=ctx.tenant)
    rows = _grouped(facts, _period_index("day", members), n=Count("partner_id", distinct=True))
    return [ratio(rows.get(k, {}).get("n") or 0, members.size(k), percent=True) for k in range(len(spans))]


def _series_training(ctx, members, spans) -> list[Cell]:
    states = UserAssetState.objects.filter(
        members.where(), _window("first_activity_at", spans, instants=True),
        tenant=ctx.tenant, asset__kind__in=LEARNING_KINDS,
    )
    # completed by the end of the period its first activity falls in
    done = Case(
        *[
            When(_in_span("first_activity_at", span, instants=True) & Q(first_completed_at__lt=span.end_utc), then=Value(1))
            for span in spans
        ],
        default=Value(0), output_field=IntegerField(),
    )
    rows = _grouped(
        states.annotate(done=done), _period_index("first_activity_at", members, instants=True),
        started=Count("id"), completed=Sum("done"),
    )
    return [
        ratio(rows.get(k, {}).get("completed") or 0, rows.get(k, {}).get("started") or 0, percent=True)
        for k in range(len(spans))
    ]


def _published_by(span: Span, prefix: str = "") -> Q:
    return Q(**{f"{prefix}status": AssetStatus.PUBLISHED}) & (
        Q(**{f"{prefix}published_at__isnull": True}) | Q(**{f"{prefix}published_at__lt": span.end_utc})
    )


def _series_content(ctx, members, spans) -> list[Cell]:
    """Assets used per period (distinct, by the period's partners) and published assets per period,
    in one statement: the two grouped SELECTs joined by UNION ALL (published assets grouped by the
    first period they count in, summed up cumulatively here)."""
    facts = DailyActivityFact.objects.filter(
        members.where(), _window("day", spans), tenant=ctx.tenant, asset__isnull=False
    )
    used = (
        facts.annotate(period_k=_period_index("day", members, extra=lambda k, span: _published_by(span, "asset__")))
        .values("period_k")
        .annotate(kind=Value(0, output_field=IntegerField()), n=Count("asset_id", distinct=True))
        .values_list("kind", "period_k", "n")
        .order_by()
    )
    first = Case(
        *[When(_published_by(span), then=Value(k)) for k, span in enumerate(spans)],
        default=None, output_field=IntegerField(),
    )
    published = (
        Asset.objects.filter(tenant=ctx.tenant, status=AssetStatus.PUBLISHED)
        .annotate(period_k=first)
        .values("period_k")
        .annotate(kind=Value(1, output_field=IntegerField()), n=Count("id"))
        .values_list("kind", "period_k", "n")
        .order_by()
    )
    counts: dict[tuple[int, int], int] = {}
    for kind, k, n in used.union(published, all=True):
        if k is not None:  # outside every period
            counts[(kind, k)] = n
    cells, total = [], 0
    for k in range(len(spans)):
        total += counts.get((1, k), 0)
        cells.append(ratio(counts.get((0, k), 0), total, percent=True))
    return cells


def _series_certified(ctx, members, spans) -> list[Cell]:
    """Certified partners at the end of each period (or now): one grouped query over the
    certificates of the series' partners — per (partner, certification) the people holding a valid
    one at each instant — then ``Coverage.meets`` per period, each partner judged by the tier it had
    on the period's last day and that tier's requirements then, as in the single-period computation
    (``_certified_partners``)."""
    instants = [_certificate_instant(ctx, span) for span in spans]
    rows = (
        Certificate.objects.filter(
            members.where(), tenant=ctx.tenant, issued_at__lte=max(instants), expires_at__gt=min(instants)
        )
        .values("partner_id", "certification_id")
        .annotate(
            **{f"people_{k}": Count("holder_id", distinct=True, filter=valid_q(at)) for k, at in enumerate(instants)},
            **{f"certs_{k}": Count("id", filter=valid_q(at)) for k, at in enumerate(instants)},
        )
        .order_by()
    )
    people: dict[tuple[int, int, int], int] = {}  # (period, partner, certification) → people holding it
    certs: dict[tuple[int, int], int] = defaultdict(int)
    for row in rows:
        pid = row["partner_id"]
        for k in range(len(spans)):
            certs[(k, pid)] += row[f"certs_{k}"]
            people[(k, pid, row["certification_id"])] = row[f"people_{k}"]
    cells = []
    for k, ids in enumerate(members.per_period):
        in_force = ctx.requirements.as_of(spans[k].end)
        meets = 0
        for pid in ids:
            required = in_force.get(ctx.partner(pid, spans[k].end)["tier_id"], [])
            if required:
                meets += all(people.get((k, pid, cid), 0) >= n for cid, _name, n in required)
            else:
                meets += certs[(k, pid)] > 0
        cells.append(ratio(meets, len(ids), percent=True))
    return cells


def _series_expiring(ctx, members, spans) -> list[Cell]:
    """Certificates valid at the end of each period (or now) expiring within 30 days: one
    aggregate with a filtered count per period."""
    instants = [_certificate_instant(ctx, span) for span in spans]
    counts = Certificate.objects.filter(members.where(), tenant=ctx.tenant).aggregate(
        **{
            f"k{k}": Count(
                "id",
                filter=valid_q(at) & Q(expires_at__lte=at + dt.timedelta(days=EXPIRING_DAYS)) & members.q(k),
            )
            for k, at in enumerate(instants)
        }
    )
    return [ratio(counts[f"k{k}"] or 0, 1, percent=False) for k in range(len(spans))]


SERIES = {
    Metric.TRAINING_COMPLETION_RATE: _series_training,
    Metric.ACTIVE_PARTNER_RATE: _series_active,
    Metric.CONTENT_UTILISATION: _series_content,
    Metric.DOCUMENT_DOWNLOADS: lambda ctx, m, s: _series_counts(ctx, m, s, verb=Verb.DOCUMENT_DOWNLOADED),
    Metric.DOCUMENT_VIEWS: lambda ctx, m, s: _series_counts(ctx, m, s, verb=Verb.DOCUMENT_VIEWED),
    Metric.FAQ_UNRESOLVED_RATE: _series_faq,
    Metric.SUPPORT_ACTIVITIES_PER_PARTNER: _series_support,
    Metric.CERTIFIED_PARTNER_RATE: _series_certified,
    Metric.EXPIRING_CERTIFICATES: _series_expiring,
    Metric.ASSESSMENT_PASS_RATE: _series_assessment,
}
# Computed in Python from what the single-period computation already caches on the context (the
# targeted pairs and their completions; each partner's first training completion): no query per
# period, none at all once the context is warm.
FROM_CONTEXT = (Metric.ENABLEMENT_COMPLETION_RATE, Metric.MEDIAN_DAYS_TO_FIRST_COMPLETION)
# Judged partner by partner in Python (each partner's tier's requirements then): ``partners`` is read.
PER_PARTNER_SERIES = (Metric.CERTIFIED_PARTNER_RATE,)


def metric_series(
    tenant: Tenant,
    definition: KpiDefinition,
    periods: list[tuple[dt.date, dt.date]],
    *,
    ctx: _Context | None = None,
    partner_ids: Iterable[int] | None = None,
    partners: QuerySet | None = None,
) -> list[SeriesPoint]:
    """The overall cell of ``definition`` for each of ``periods`` (oldest first, contiguous, e.g.
    ``series_periods``), for the definition's partners narrowed by ``partner_ids`` — each point
    equal to ``metric_values`` for that period, with the same rules: partners as they were on each
    period's last day (``PartnerHistory``), counted from ``joined_on``, pairs as targeted (frozen),
    on time by the due date, certificates at each period's end.

    One grouped query per metric whatever the number of periods and partners: the period a row
    falls in is computed by the database (``_period_index``). The completion rate and the median
    days to first completion read the pairs/first completions the context caches (no query once
    warm); the certificate metrics evaluate validity at each period's end in the same statement."""
    ctx = ctx or _Context(tenant)
    if not periods:
        return []
    spans = [Span.of(start, end, ctx.zone) for start, end in periods]
    if partners is not None and definition.metric in SERIES and definition.metric not in PER_PARTNER_SERIES:
        members = _ChosenMembers(ctx, definition, partners, spans, live_only=definition.metric == Metric.ACTIVE_PARTNER_RATE)
        cells = SERIES[definition.metric](ctx, members, spans)
        return [SeriesPoint(start, end, cell) for (start, end), cell in zip(periods, cells, strict=True)]
    if partners is not None:
        partner_ids = [row["id"] for row in partners]
    if definition.metric in FROM_CONTEXT:
        return [
            SeriesPoint(start, end, metric_values(tenant, definition, start, end, ctx=ctx, partner_ids=partner_ids)[0])
            for start, end in periods
        ]
    wanted = set(partner_ids) if partner_ids is not None else None
    per_period = []
    for span in spans:
        if definition.metric == Metric.ACTIVE_PARTNER_RATE:  # non-dormant as each partner was then
            live = {p["id"] for p in ctx.partners_in(span) if p["status"] != PartnerStatus.DORMANT}
            ids = [pid for pid in ctx.partner_ids(definition, span) if pid in live]
        else:
            ids = ctx.partner_ids(definition, span)
        per_period.append([pid for pid in ids if wanted is None or pid in wanted])
    cells = SERIES[definition.metric](ctx, _Members(ctx, per_period, spans), spans)
    return [SeriesPoint(start, end, cell) for (start, end), cell in zip(periods, cells, strict=True)]
