"""KPI computation: every active ``KpiDefinition`` → ``KpiResult`` rows per period, overall and
per partner. Reads the rollup facts (and the small dimension tables), never the raw log.

Periods are calendar periods in the tenant's time zone: ISO weeks (Monday–Sunday), months,
quarters. ``compute_kpis`` computes the period containing ``today`` and the ``periods_back``
before it. Rates are percentages (0–100). A denominator of 0 gives ``value = None`` and status
``no_data`` (the UI shows "—", never 0%).

Metric definitions (for the partners matching the definition's tier/segment filter):

* enablement completion rate (支援消化率): assigned ``(partner, asset)`` pairs (tier, segment and
  learning-path assignments expanded; one pair per (partner, asset) with its earliest due date)
  whose due date falls in the period; completed = at least ``required_completions`` distinct
  users had completed the asset *by the end of the period* (for 1 required completion, any
  completion event of the partner counts). numerator = completed pairs, denominator = pairs.
* training completion rate: ``(user, training)`` states whose first activity falls in the
  period; completed = first completion by the end of the period.
* active partner rate: non-dormant partners with any activity (any daily fact) in the period /
  non-dormant partners.
* content utilisation: published assets (published before the period ended) used at least once
  (any daily fact) in the period / those published assets. Per partner: used by that partner.
* document downloads: the number of ``document.downloaded`` events in the period (denominator 1).
* FAQ unresolved rate: unresolved searches / searches (see ``kpis.rollup`` for "unresolved").
* support activities per partner: support activities dated in the period / partners.
* median days to first completion: for partners whose first training completion happened in the
  period, the median of (local date of that completion − ``joined_on``) in days (≥ 0).
  numerator = sum of days, denominator = number of such partners, value = median.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import Count, Min, Q, Sum
from django.utils import timezone

from enablement.models import Asset, AssetKind, AssetStatus, Verb
from enablement.selectors.manage import assigned_pairs
from kpis.models import (
    DailyActivityFact,
    Direction,
    FaqSearchFact,
    KpiDefinition,
    KpiResult,
    KpiStatus,
    Metric,
    PartnerAssetState,
    Period,
    RollupState,
    UserAssetState,
)
from kpis.runs import tenant_lock
from partners.models import Partner, PartnerStatus, SupportActivity, Tenant

RECENT_PERIODS_BACK = 11  # 12 periods: what the dashboards' trend lines show
FOUR_PLACES = Decimal("0.0001")


# --- periods ------------------------------------------------------------------------------------


def period_start(period: str, day: dt.date) -> dt.date:
    if period == Period.WEEK:
        return day - dt.timedelta(days=day.weekday())
    if period == Period.MONTH:
        return day.replace(day=1)
    if period == Period.QUARTER:
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    raise ValueError(f"Unknown period {period!r}")


def _add_months(day: dt.date, months: int) -> dt.date:
    total = day.year * 12 + day.month - 1 + months
    return dt.date(total // 12, total % 12 + 1, 1)


def period_after(period: str, start: dt.date) -> dt.date:
    """The first day of the next period."""
    if period == Period.WEEK:
        return start + dt.timedelta(days=7)
    return _add_months(start, 1 if period == Period.MONTH else 3)


def period_before(period: str, start: dt.date) -> dt.date:
    if period == Period.WEEK:
        return start - dt.timedelta(days=7)
    return _add_months(start, -1 if period == Period.MONTH else -3)


def recent_periods(period: str, today: dt.date, back: int) -> list[tuple[dt.date, dt.date]]:
    """``[(start, end_inclusive)]``, oldest first: the period containing ``today`` and ``back`` before."""
    starts = [period_start(period, today)]
    for _ in range(back):
        starts.append(period_before(period, starts[-1]))
    return [(s, period_after(period, s) - dt.timedelta(days=1)) for s in reversed(starts)]


@dataclass(frozen=True)
class Span:
    start: dt.date
    end: dt.date  # inclusive
    start_utc: dt.datetime
    end_utc: dt.datetime  # exclusive

    @classmethod
    def of(cls, start: dt.date, end: dt.date, zone) -> Span:
        return cls(
            start,
            end,
            dt.datetime.combine(start, dt.time.min, tzinfo=zone),
            dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=zone),
        )


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


def ratio(num, den, *, percent: bool) -> Cell:
    num, den = Decimal(str(num or 0)), Decimal(str(den or 0))
    if den == 0:
        return Cell(_q(num), _q(den), None)
    value = num / den * (100 if percent else 1)
    return Cell(_q(num), _q(den), _q(value))


# --- the metrics ------------------------------------------------------------------------------------


class _Context:
    """Per-run caches shared by all definitions (pairs, completions, partners)."""

    def __init__(self, tenant: Tenant):
        self.tenant = tenant
        self.zone = tenant.zoneinfo
        self._partners: list[dict] | None = None
        self._pairs = None
        self._completions = None
        self._first_training = None

    @property
    def partners(self) -> list[dict]:
        if self._partners is None:
            self._partners = list(
                Partner.objects.filter(tenant=self.tenant).values("id", "tier_id", "segment", "status", "joined_on")
            )
        return self._partners

    def partner_ids(self, definition: KpiDefinition) -> list[int]:
        return [
            p["id"]
            for p in self.partners
            if (definition.tier_id is None or p["tier_id"] == definition.tier_id)
            and (not definition.segment or p["segment"] == definition.segment)
        ]

    @property
    def pairs(self):
        """One pair per (partner, asset): the assignment with the earliest due date (then the oldest)."""
        if self._pairs is None:
            self._pairs = assigned_pairs(tenant=self.tenant)
        return self._pairs

    @property
    def completions(self) -> dict[tuple[int, int], tuple[list[dt.datetime], dt.datetime | None]]:
        """(partner, asset) → (sorted first completion time of each user, partner's first completion)."""
        if self._completions is None:
            out: dict[tuple[int, int], tuple[list, dt.datetime | None]] = {}
            users: dict[tuple[int, int], list[dt.datetime]] = defaultdict(list)
            for pid, aid, first in UserAssetState.objects.filter(
                tenant=self.tenant, first_completed_at__isnull=False
            ).values_list("partner_id", "asset_id", "first_completed_at"):
                users[(pid, aid)].append(first)
            for pid, aid, first in PartnerAssetState.objects.filter(
                tenant=self.tenant, first_completed_at__isnull=False
            ).values_list("partner_id", "asset_id", "first_completed_at"):
                out[(pid, aid)] = (sorted(users.get((pid, aid), [])), first)
            self._completions = out
        return self._completions

    @property
    def first_training_completion(self) -> dict[int, dt.datetime]:
        if self._first_training is None:
            self._first_training = dict(
                PartnerAssetState.objects.filter(
                    tenant=self.tenant, asset__kind=AssetKind.TRAINING, first_completed_at__isnull=False
                )
                .values("partner_id")
                .annotate(first=Min("first_completed_at"))
                .values_list("partner_id", "first")
                .order_by()
            )
        return self._first_training


Result = tuple[Cell, dict[int, Cell]]


def _enablement(ctx: _Context, partner_ids: list[int], span: Span) -> Result:
    wanted = set(partner_ids)
    num: dict[int, int] = defaultdict(int)
    den: dict[int, int] = defaultdict(int)
    for pair in ctx.pairs:
        if pair.partner_id not in wanted or not (span.start <= pair.due_on <= span.end):
            continue
        den[pair.partner_id] += 1
        users, first = ctx.completions.get((pair.partner_id, pair.asset_id), ([], None))
        required = max(int(pair.required_completions or 1), 1)
        done = len(users) >= required and users[required - 1] < span.end_utc
        if required == 1 and first is not None and first < span.end_utc:
            done = True
        num[pair.partner_id] += int(done)
    per = {pid: ratio(num[pid], den[pid], percent=True) for pid in partner_ids}
    return ratio(sum(num.values()), sum(den.values()), percent=True), per


def _training_completion(ctx: _Context, partner_ids: list[int], span: Span) -> Result:
    rows = (
        UserAssetState.objects.filter(
            tenant=ctx.tenant,
            partner_id__in=partner_ids,
            asset__kind=AssetKind.TRAINING,
            first_activity_at__gte=span.start_utc,
            first_activity_at__lt=span.end_utc,
        )
        .values("partner_id")
        .annotate(started=Count("id"), completed=Count("id", filter=Q(first_completed_at__lt=span.end_utc)))
        .order_by()
    )
    by = {r["partner_id"]: (r["completed"], r["started"]) for r in rows}
    per = {pid: ratio(*by.get(pid, (0, 0)), percent=True) for pid in partner_ids}
    return ratio(sum(c for c, _ in by.values()), sum(s for _, s in by.values()), percent=True), per


def _active_partners(ctx: _Context, partner_ids: list[int], span: Span) -> Result:
    live = {p["id"] for p in ctx.partners if p["status"] != PartnerStatus.DORMANT} & set(partner_ids)
    active = set(
        DailyActivityFact.objects.filter(
            tenant=ctx.tenant, partner_id__in=list(live), day__gte=span.start, day__lte=span.end
        )
        .values_list("partner_id", flat=True)
        .distinct()
        .order_by()
    )
    per = {pid: ratio(int(pid in active), int(pid in live), percent=True) for pid in partner_ids}
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
    per = {pid: ratio(by.get(pid, 0), total, percent=True) for pid in partner_ids}
    return ratio(used, total, percent=True), per


def _downloads(ctx: _Context, partner_ids: list[int], span: Span) -> Result:
    by = dict(
        DailyActivityFact.objects.filter(
            tenant=ctx.tenant,
            partner_id__in=partner_ids,
            verb=Verb.DOCUMENT_DOWNLOADED,
            day__gte=span.start,
            day__lte=span.end,
        )
        .values("partner_id")
        .annotate(n=Sum("event_count"))
        .values_list("partner_id", "n")
        .order_by()
    )
    per = {pid: ratio(by.get(pid, 0), 1, percent=False) for pid in partner_ids}
    return ratio(sum(by.values()), 1, percent=False), per


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
    per = {pid: ratio(*by.get(pid, (0, 0)), percent=True) for pid in partner_ids}
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
    per = {pid: ratio(by.get(pid, 0), 1, percent=False) for pid in partner_ids}
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
        for pid in partner_ids
    }
    if not days:
        return Cell(_q(0), _q(0), None), per
    return Cell(_q(sum(days.values())), _q(len(days)), _q(statistics.median(days.values()))), per


METRICS = {
    Metric.ENABLEMENT_COMPLETION_RATE: _enablement,
    Metric.TRAINING_COMPLETION_RATE: _training_completion,
    Metric.ACTIVE_PARTNER_RATE: _active_partners,
    Metric.CONTENT_UTILISATION: _content_utilisation,
    Metric.DOCUMENT_DOWNLOADS: _downloads,
    Metric.FAQ_UNRESOLVED_RATE: _faq_unresolved,
    Metric.SUPPORT_ACTIVITIES_PER_PARTNER: _support_per_partner,
    Metric.MEDIAN_DAYS_TO_FIRST_COMPLETION: _median_days,
}


def metric_values(
    tenant: Tenant, definition: KpiDefinition, start: dt.date, end: dt.date, *, ctx: _Context | None = None
) -> Result:
    """(overall cell, {partner_id: cell}) of one definition for one period."""
    ctx = ctx or _Context(tenant)
    span = Span.of(start, end, ctx.zone)
    return METRICS[definition.metric](ctx, ctx.partner_ids(definition), span)


# --- the entry point ---------------------------------------------------------------------------------


def compute_kpis(
    tenant: Tenant,
    *,
    today: dt.date | None = None,
    periods_back: int = 1,
    definitions: Iterable[KpiDefinition] | None = None,
) -> int:
    """Compute ``KpiResult`` for each active definition, for the period containing ``today``
    (tenant-local) and the ``periods_back`` before it, overall and per partner.

    Upsert = delete + insert per definition and period, all in one transaction. Returns the
    number of result rows written. Must run inside the tenant's scope.
    """
    today = today or timezone.now().astimezone(tenant.zoneinfo).date()
    defs = list(definitions) if definitions is not None else list(KpiDefinition.objects.filter(tenant=tenant, is_active=True))
    ctx = _Context(tenant)
    now = timezone.now()
    written = 0
    with transaction.atomic():
        tenant_lock(tenant.pk)  # concurrent computations of one tenant queue (delete + insert below)
        for definition in defs:
            periods = recent_periods(definition.period, today, periods_back)
            rows: list[KpiResult] = []
            for start, end in periods:
                overall, per = metric_values(tenant, definition, start, end, ctx=ctx)
                for partner_id, cell in [(None, overall), *sorted(per.items())]:
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
                            target=definition.target,
                            status=kpi_status(
                                cell.value,
                                target=definition.target,
                                direction=definition.direction,
                                band=definition.warning_band,
                            ),
                            computed_at=now,
                        )
                    )
            KpiResult.objects.filter(
                tenant=tenant, definition=definition, period_start__in=[s for s, _ in periods]
            ).delete()
            KpiResult.objects.bulk_create(rows, batch_size=1000)
            written += len(rows)
        RollupState.objects.get_or_create(tenant=tenant)
        RollupState.objects.filter(tenant=tenant).update(kpis_computed_at=now)
    return written
