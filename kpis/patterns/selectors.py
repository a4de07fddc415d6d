"""Reads for success patterns: cohorts, the lift table, the playbook, adoption and next best actions.

Every function takes the tenant; none reads the raw activity log (facts, states and deals only).
The number of queries of each function is constant (it does not grow with partners).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import (
    Case,
    CharField,
    Count,
    DateTimeField,
    Exists,
    F,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.utils import timezone
from django.utils.translation import gettext as _

from enablement.audiences import asset_audience_q
from enablement.certifications.selectors import Gap, partner_coverage
from enablement.models import Asset, AssetKind, Assignment, AssignmentTarget, LearningPath, LearningPathItem
from kpis.models import DailyActivityFact, KpiInputChange, PartnerAssetState
from kpis.patterns.models import (
    AdoptionRank,
    AdoptionRanking,
    OutcomeMetric,
    PatternItem,
    PatternItemType,
    PatternRank,
    PatternRun,
)
from partners.deals.models import Deal, DealStage
from partners.models import CohortOverride, Partner, PartnerStatus, Tenant
from partners.reading import partner_ordering

logger = logging.getLogger(__name__)

DEFAULT_WINDOW_DAYS = 365
DEFAULT_TOP_SHARE = 0.2
PLAYBOOK_SOURCE = "playbook"


@dataclass
class CohortRow:
    partner: Partner
    won_revenue: Decimal
    won_count: int
    first_win_on: dt.date | None
    value: Decimal = Decimal(0)
    reasons: list[str] = field(default_factory=list)


@dataclass
class Cohorts:
    window_start: dt.date
    window_end: dt.date
    top_share: float
    metric: str
    top: list[CohortRow]
    nurture: list[CohortRow]
    others: list[CohortRow]
    excluded: list[CohortRow]

    @property
    def top_ids(self) -> set[int]:
        return {r.partner.pk for r in self.top}

    @property
    def nurture_ids(self) -> set[int]:
        return {r.partner.pk for r in self.nurture}

    @property
    def non_top(self) -> list[CohortRow]:
        """Everyone compared with the top partners (nurturing cohort + the rest)."""
        return [*self.nurture, *self.others]


def clean_params(
    window_days: object = None, top_share: object = None, metric: object = None
) -> tuple[int, float, str]:
    """Validate manager-chosen parameters (GET/POST strings); bad values fall back to the defaults."""
    try:
        days = int(window_days)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        days = DEFAULT_WINDOW_DAYS
    days = days if 30 <= days <= 1095 else DEFAULT_WINDOW_DAYS
    try:
        share = float(top_share)  # type: ignore[arg-type]
        share = share / 100 if share > 1 else share  # "20" and "0.2" both mean 20%
    except (TypeError, ValueError):
        share = DEFAULT_TOP_SHARE
    share = share if 0.01 <= share <= 0.5 and math.isfinite(share) else DEFAULT_TOP_SHARE
    metric = metric if metric in OutcomeMetric.values else OutcomeMetric.REVENUE
    return days, round(share, 3), str(metric)


COHORTS = ("top", "nurture", "others", "excluded")


def _cohort_base(*, tenant: Tenant, window_start: dt.date, window_end: dt.date, metric: str) -> QuerySet[Partner]:
    """Every partner of the tenant with its won revenue, won deals and first win in the window and
    ``value`` (the outcome ranked: revenue or the number of won deals) — one GROUP BY over the deals."""
    won_in_window = Q(
        deals__stage=DealStage.WON, deals__closed_on__gte=window_start, deals__closed_on__lte=window_end
    )
    qs = Partner.objects.filter(tenant=tenant).annotate(
        won_revenue=Sum("deals__amount", filter=won_in_window, default=Decimal(0)),
        won_count=Count("deals", filter=won_in_window),
        first_win_on=Min("deals__closed_on", filter=won_in_window),
    )
    return qs.annotate(value=F("won_revenue") if metric == OutcomeMetric.REVENUE else F("won_count"))


# The automatic ranking's order as (field, descending): outcome, won deals, then the name (unique in
# a tenant, so the order is total).
RANKING_KEYS = [("value", True), ("won_count", True), ("name", False)]


def _at_or_above(keys: list[tuple[str, bool]], edge: dict) -> Q:
    """Rows ranked at or above ``edge`` in the order ``keys`` (the last key unique)."""
    cond: Q | None = None
    for name, desc in reversed(keys):
        better = Q(**{f"{name}__{'gt' if desc else 'lt'}": edge[name]})
        same = Q(**{name: edge[name]})
        cond = better | same if cond is None else better | (same & cond)
    return cond


@dataclass
class CohortRanking:
    """The cohorts of one window, ranked and paged in the database.

    The few figures the split depends on are read first (``cohort_ranking``: at most three queries:
    the counts, the last automatic top partner's place in the ranking and the value at the bottom
    cohort's edge); then each cohort is a queryset (``rows``) whose rows carry ``cohort``, computed per
    row from those figures, so a page is one LIMITed query and the four sizes one more (``counts``),
    whatever the number of partners."""

    tenant: Tenant
    window_start: dt.date
    window_end: dt.date
    top_share: float
    metric: str
    eligible: int  # partners not excluded
    auto_top: int  # partners in the top cohort by the ranking (after the managers' "always top")
    threshold: Decimal | None  # the bottom cohort: automatic partners at or under this value (None: nobody left)
    top_edge: Q  # the automatic partners ranked at or above the last automatic top partner

    def _annotated(self) -> QuerySet[Partner]:
        auto = Q(cohort_override=CohortOverride.AUTO)
        rest_nurture = Q(status=PartnerStatus.NURTURING)
        if self.threshold is not None:
            rest_nurture |= Q(value__lte=self.threshold)
        return _cohort_base(
            tenant=self.tenant, window_start=self.window_start, window_end=self.window_end, metric=self.metric
        ).annotate(
            cohort=Case(
                When(cohort_override=CohortOverride.EXCLUDE, then=Value("excluded")),
                When(cohort_override=CohortOverride.TOP, then=Value("top")),
                When(cohort_override=CohortOverride.NURTURE, then=Value("nurture")),
                When(auto & self.top_edge, then=Value("top")),
                When(auto & rest_nurture, then=Value("nurture")),
                When(auto, then=Value("others")),
                default=Value(""),  # an unknown override: counted as eligible, in no list (as before)
                output_field=CharField(),
            ),
        )

    def rows(self, cohort: str) -> QuerySet[Partner]:
        """One cohort's partners in the page's order (``tier`` joined); slice it to page it."""
        ordering = {
            "top": [F("value").desc(), "name"],
            "nurture": [F("value").asc(), "name"],
            "others": [F("value").desc(), F("won_count").desc(), "name"],
            "excluded": partner_ordering(),  # names are unique in a tenant: every order is total
        }[cohort]
        return (
            self._annotated().filter(cohort=cohort).select_related("tier").order_by(*ordering)
        )

    def counts(self) -> dict[str, int]:
        """The size of each cohort (one query)."""
        got = self._annotated().aggregate(**{c: Count("pk", filter=Q(cohort=c)) for c in COHORTS})
        return {c: got[c] or 0 for c in COHORTS}

    def row(self, partner: Partner) -> CohortRow:
        """A partner read through ``rows`` as a CohortRow, with the reasons it is in its cohort."""
        return _cohort_row(partner, bottom=self.threshold is not None and partner.value <= self.threshold)


def cohort_ranking(
    *,
    tenant: Tenant,
    window_days: int = DEFAULT_WINDOW_DAYS,
    top_share: float = DEFAULT_TOP_SHARE,
    metric: str = OutcomeMetric.REVENUE,
    as_of: dt.date | None = None,
) -> CohortRanking:
    """Top partners = the top ``top_share`` of partners by won revenue (or won deals) in the trailing
    window; partners needing nurturing = status ``nurturing`` or the bottom cohort (the bottom
    ``top_share`` by the same measure, ties included). ``Partner.cohort_override`` wins.

    Three queries: the counts the split needs, the last automatic top partner and the value at the
    bottom cohort's edge."""
    window_end = as_of or timezone.localdate()
    window_start = window_end - dt.timedelta(days=window_days - 1)
    base = _cohort_base(tenant=tenant, window_start=window_start, window_end=window_end, metric=metric)
    auto = Q(cohort_override=CohortOverride.AUTO)
    n = base.aggregate(
        eligible=Count("pk", filter=~Q(cohort_override=CohortOverride.EXCLUDE)),
        forced_top=Count("pk", filter=Q(cohort_override=CohortOverride.TOP)),
        auto=Count("pk", filter=auto),
        auto_positive=Count("pk", filter=auto & Q(value__gt=0)),
    )
    eligible, n_auto = n["eligible"] or 0, n["auto"] or 0
    slots = max(1, math.ceil(eligible * top_share)) if eligible else 0
    # The top of the automatic ranking (only partners with an outcome) fills the slots managers left.
    auto_top = min(max(0, slots - (n["forced_top"] or 0)), n["auto_positive"] or 0)
    # Both edges are read whatever the data (a LIMIT 1 each), so the query count never depends on it.
    order = [F(k).desc() if desc else F(k).asc() for k, desc in RANKING_KEYS]
    at = max(auto_top - 1, 0)
    edge = list(base.filter(auto).order_by(*order).values(*[k for k, _desc in RANKING_KEYS])[at : at + 1])
    top_edge = _at_or_above(RANKING_KEYS, edge[0]) if auto_top and edge else Q(pk__in=[])
    # The bottom cohort: the ``slots`` lowest values of the rest of the ranking (all of it if shorter),
    # with every partner tied at the edge: the ``k``-th value from the bottom of the ranking.
    rest = n_auto - auto_top
    k = min(slots, rest)
    at = max(n_auto - k, 0)
    low = list(base.filter(auto).order_by(F("value").desc()).values_list("value", flat=True)[at : at + 1])
    threshold = low[0] if rest > 0 and low else None
    return CohortRanking(
        tenant=tenant, window_start=window_start, window_end=window_end, top_share=top_share, metric=metric,
        eligible=eligible, auto_top=auto_top, threshold=threshold, top_edge=top_edge,
    )


def partner_cohorts(
    *,
    tenant: Tenant,
    window_days: int = DEFAULT_WINDOW_DAYS,
    top_share: float = DEFAULT_TOP_SHARE,
    metric: str = OutcomeMetric.REVENUE,
    as_of: dt.date | None = None,
) -> Cohorts:
    """Every cohort in full (the mining and the demo need all of it; pages use ``cohort_ranking``).
    Six queries whatever the number of partners."""
    ranking = cohort_ranking(tenant=tenant, window_days=window_days, top_share=top_share, metric=metric, as_of=as_of)
    lists = {c: [ranking.row(p) for p in ranking.rows(c)] for c in COHORTS}
    return Cohorts(
        window_start=ranking.window_start,
        window_end=ranking.window_end,
        top_share=top_share,
        metric=metric,
        top=lists["top"],
        nurture=lists["nurture"],
        others=lists["others"],
        excluded=lists["excluded"],
    )


# --- The page's cohorts: one statement for the split, the sizes and a page of each list -------------


@dataclass
class CohortPage:
    """One page of one cohort (``rows``, in the list's order), the cohort's size and the page number
    Django's Paginator gives for the requested one (out of range: the last page; not a number: 1)."""

    rows: list[CohortRow]
    count: int
    number: int


@dataclass
class CohortPages:
    window_start: dt.date
    window_end: dt.date
    pages: dict[str, CohortPage]
    run: PatternRun | None = None  # the run whose stored ranking the lists come from (None: computed live)

    @property
    def counts(self) -> dict[str, int]:
        return {c: p.count for c, p in self.pages.items()}


def _page_request(value: object) -> int:
    """The page number as ``Paginator.get_page`` reads it before clamping (not an integer: 1)."""
    if isinstance(value, float) and not value.is_integer():
        return 1
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 1


# The cohort split in SQL, in three parts: a ``base`` (every partner with ``won_count``, ``value`` and the
# figures shown), the split over it (``_COHORT_SPLIT_SQL``: each partner's cohort), and what is done with
# it (a page of each list for the page; every row for the stored ranking). The base is either live (the
# won deals of the window added up) or a stored run's figures (``PatternRank``) with the partners' current
# overrides, statuses and names.

_LIVE_BASE_SQL = """
WITH won AS (
    SELECT d.partner_id AS pid, SUM(d.amount) AS revenue, COUNT(d.id) AS n, MIN(d.closed_on) AS first_win
    FROM partners_deal d
    WHERE d.tenant_id = %(tenant)s AND d.stage = %(won)s AND d.closed_on >= %(start)s AND d.closed_on <= %(end)s
    GROUP BY d.partner_id
), base AS (
    SELECT p.id, p.name, p.name_kana, p.status, p.cohort_override AS ov,
           COALESCE(w.n, 0) AS won_count, {value} AS value, COALESCE(w.revenue, 0) AS won_revenue,
           w.first_win AS first_win_on, 0 AS rid
    FROM partners_partner p LEFT JOIN won w ON w.pid = p.id
    WHERE p.tenant_id = %(tenant)s
),"""

_STORED_BASE_SQL = """
WITH base AS (
    SELECT p.id, p.name, p.name_kana, p.status, p.cohort_override AS ov,
           r.won_count, r.value, r.won_revenue, r.first_win_on, r.id AS rid
    FROM kpis_patternrank r JOIN partners_partner p ON p.id = r.partner_id AND p.tenant_id = r.tenant_id
    WHERE r.tenant_id = %(tenant)s AND r.run_id = %(run)s
),"""

_COHORT_SPLIT_SQL = """
ranked AS (
    -- the automatic ranking's place (rn) and the figures the split needs, on every row
    SELECT b.*,
           CASE WHEN b.ov = %(auto)s THEN ROW_NUMBER() OVER (
               PARTITION BY CASE WHEN b.ov = %(auto)s THEN 1 ELSE 0 END
               ORDER BY b.value DESC, b.won_count DESC, b.name ASC) END AS rn,
           SUM(CASE WHEN b.ov <> %(exclude)s THEN 1 ELSE 0 END) OVER () AS eligible,
           SUM(CASE WHEN b.ov = %(top)s THEN 1 ELSE 0 END) OVER () AS forced_top,
           SUM(CASE WHEN b.ov = %(auto)s THEN 1 ELSE 0 END) OVER () AS n_auto,
           SUM(CASE WHEN b.ov = %(auto)s AND b.value > 0 THEN 1 ELSE 0 END) OVER () AS auto_positive
    FROM base b
), slotted AS (
    SELECT r.*, CASE WHEN r.eligible = 0 THEN 0 WHEN {ceil} < 1 THEN 1 ELSE {ceil} END AS slots
    FROM ranked r
), split AS (
    SELECT s.*,
           CASE WHEN s.slots - s.forced_top < 0 THEN 0
                WHEN s.slots - s.forced_top > s.auto_positive THEN s.auto_positive
                ELSE s.slots - s.forced_top END AS auto_top
    FROM slotted s
), edged AS (
    -- the bottom cohort's edge: the k-th value from the bottom of the automatic ranking, k = min(slots, rest)
    SELECT t.*, t.n_auto - t.auto_top AS rest,
           MAX(CASE WHEN t.rn = t.n_auto - (CASE WHEN t.slots < t.n_auto - t.auto_top THEN t.slots
                                                 ELSE t.n_auto - t.auto_top END) + 1
                    THEN t.value END) OVER () AS threshold
    FROM split t
), cohorted AS (
    SELECT e.id, e.rid, e.name, e.name_kana, e.value, e.won_count, e.won_revenue, e.first_win_on,
           CASE WHEN e.status = %(nurturing)s THEN 1 ELSE 0 END AS nurturing,
           CASE WHEN e.ov = %(auto)s AND e.rest > 0 AND e.threshold IS NOT NULL AND e.value <= e.threshold
                THEN 1 ELSE 0 END AS bottom,
           CASE WHEN e.ov = %(exclude)s THEN 'excluded'
                WHEN e.ov = %(top)s THEN 'top'
                WHEN e.ov = %(nurture)s THEN 'nurture'
                WHEN e.ov = %(auto)s AND e.rn <= e.auto_top THEN 'top'
                WHEN e.ov = %(auto)s AND (e.status = %(nurturing)s
                     OR (e.rest > 0 AND e.threshold IS NOT NULL AND e.value <= e.threshold)) THEN 'nurture'
                WHEN e.ov = %(auto)s THEN 'others'
                ELSE '' END AS cohort
    FROM edged e
)"""

# A partner's place in its cohort's list (the page's order of each list); ``{kana}``: 1 for the Japanese
# order of the excluded list (reading, then name), 0 for the name order.
_POS_SQL = """ROW_NUMBER() OVER (PARTITION BY c.cohort ORDER BY
               CASE WHEN c.cohort = 'nurture' THEN c.value WHEN c.cohort = 'excluded' THEN 0 ELSE -c.value END,
               CASE WHEN c.cohort = 'others' THEN -c.won_count ELSE 0 END,
               CASE WHEN c.cohort = 'excluded' AND {kana} = 1 THEN COALESCE(NULLIF(c.name_kana, ''), c.name)
                    ELSE '' END,
               c.name, c.id)"""

_COHORT_PAGES_SQL = _LIVE_BASE_SQL + _COHORT_SPLIT_SQL + """, placed AS (
    SELECT c.id, c.cohort, c.bottom, """ + _POS_SQL.format(kana="%(kana)s") + """ AS pos,
           COUNT(*) OVER (PARTITION BY c.cohort) AS cnt
    FROM cohorted c
)
SELECT cohort, id, pos, cnt, bottom FROM placed
WHERE cohort IN ('top', 'nurture', 'others', 'excluded')
  AND (pos - 1) / %(size)s + 1 = CASE
      WHEN (CASE cohort WHEN 'top' THEN %(p_top)s WHEN 'nurture' THEN %(p_nurture)s
                        WHEN 'others' THEN %(p_others)s ELSE %(p_excluded)s END) BETWEEN 1 AND (cnt + %(size)s - 1) / %(size)s
      THEN (CASE cohort WHEN 'top' THEN %(p_top)s WHEN 'nurture' THEN %(p_nurture)s
                        WHEN 'others' THEN %(p_others)s ELSE %(p_excluded)s END)
      ELSE (cnt + %(size)s - 1) / %(size)s END
ORDER BY cohort, pos
"""  # noqa: S608 (constant parts only)

# A run's ranking stored: every partner's figures, cohort and places (both orders), one statement.
_STORE_SQL = _LIVE_BASE_SQL + _COHORT_SPLIT_SQL + """
INSERT INTO kpis_patternrank (tenant_id, run_id, partner_id, won_revenue, won_count, first_win_on, value, cohort,
                              pos, pos_kana, bottom, nurturing)
SELECT %(tenant)s, %(run)s, c.id, c.won_revenue, c.won_count, c.first_win_on, c.value, c.cohort,
       """ + _POS_SQL.format(kana=0) + """, """ + _POS_SQL.format(kana=1) + """,
       (c.bottom = 1), (c.nurturing = 1)
FROM cohorted c WHERE c.cohort IN ('top', 'nurture', 'others', 'excluded')
"""

# A stored ranking split again from its own figures with the partners' current overrides (after a
# manager changed one): every row's cohort and places rewritten, one statement. A partner whose override
# is unknown (in no list) keeps an empty cohort.
_RESTORE_SQL = _STORED_BASE_SQL + _COHORT_SPLIT_SQL + """, placed AS (
    SELECT c.rid, c.cohort, c.bottom, c.nurturing, """ + _POS_SQL.format(kana=0) + """ AS pos,
           """ + _POS_SQL.format(kana=1) + """ AS pos_kana
    FROM cohorted c
)
UPDATE kpis_patternrank SET cohort = x.cohort, pos = x.pos, pos_kana = x.pos_kana, bottom = (x.bottom = 1),
                            nurturing = (x.nurturing = 1)
FROM placed x WHERE kpis_patternrank.id = x.rid
"""  # noqa: S608 (constant parts only)


def _split_params(*, tenant: Tenant, top_share: float) -> dict:
    return {
        "tenant": tenant.pk, "auto": CohortOverride.AUTO, "top": CohortOverride.TOP, "nurture": CohortOverride.NURTURE,
        "exclude": CohortOverride.EXCLUDE, "nurturing": PartnerStatus.NURTURING, "share": float(top_share),
    }


def _ceil_sql() -> str:
    from django.db import connection

    product = "(r.eligible * CAST(%(share)s AS DOUBLE PRECISION))"
    if connection.vendor == "postgresql":
        return f"CEIL({product})"
    # SQLite: CAST truncates; a positive product with a fraction rounds up
    return f"(CAST({product} AS INTEGER) + CASE WHEN {product} > CAST({product} AS INTEGER) THEN 1 ELSE 0 END)"


def _value_sql(metric: str) -> str:
    return "COALESCE(w.revenue, 0)" if metric == OutcomeMetric.REVENUE else "COALESCE(w.n, 0)"


def cohort_pages(
    *,
    tenant: Tenant,
    window_days: int = DEFAULT_WINDOW_DAYS,
    top_share: float = DEFAULT_TOP_SHARE,
    metric: str = OutcomeMetric.REVENUE,
    pages: dict[str, object] | None = None,
    page_size: int = 25,
    as_of: dt.date | None = None,
) -> CohortPages:
    """The cohorts of ``cohort_ranking`` as the page shows them: each cohort's size and the requested
    page of each list (``pages``: cohort → the page number asked for), in two queries whatever the
    number of partners. The first computes the tenant's won deals per partner ONCE and, over that one
    set, the split (the figures, the automatic ranking's edge, the bottom cohort's threshold), each
    partner's cohort and place in its list, and returns the rows of the asked pages only (at most
    ``page_size`` a cohort). The second reads those partners with their figures (``_cohort_base``, so
    the figures are the ORM's, typed as before).

    This is the live path, for parameters with no stored run; a stored run is read by
    ``stored_cohort_pages``, which does not rank every partner per request. Same split and order as
    ``cohort_ranking`` (tests/patterns/test_cohorts_sql.py checks both against the Python reference)."""
    from django.db import connection

    from partners.reading import japanese_order

    window_end = as_of or timezone.localdate()
    window_start = window_end - dt.timedelta(days=window_days - 1)
    pages = pages or {}
    params = {
        **_split_params(tenant=tenant, top_share=top_share), "won": DealStage.WON, "start": window_start,
        "end": window_end, "kana": 1 if japanese_order() else 0, "size": page_size,
        **{f"p_{c}": _page_request(pages.get(c)) for c in COHORTS},
    }
    with connection.cursor() as cursor:
        cursor.execute(_COHORT_PAGES_SQL.format(value=_value_sql(metric), ceil=_ceil_sql()), params)
        found = cursor.fetchall()
    counts = dict.fromkeys(COHORTS, 0)
    placed: dict[str, list[tuple[int, int]]] = {c: [] for c in COHORTS}
    for cohort, pk, _pos, cnt, bottom in found:
        counts[cohort] = cnt
        placed[cohort].append((pk, bool(bottom)))
    ids = [pk for rows in placed.values() for pk, _b in rows]
    # Always one query (no partner on any page: an id that matches nothing), so the count is constant.
    partners = {
        p.pk: p
        for p in _cohort_base(tenant=tenant, window_start=window_start, window_end=window_end, metric=metric)
        .filter(pk__in=ids or [0]).select_related("tier").order_by("pk")[: max(len(ids), 1)]
    }
    out = {}
    for c in COHORTS:
        rows = []
        for pk, bottom in placed[c]:
            partner = partners[pk]
            partner.cohort = c
            rows.append(_cohort_row(partner, bottom=bottom))
        out[c] = CohortPage(rows=rows, count=counts[c], number=_page_number(pages.get(c), counts[c], page_size))
    return CohortPages(window_start=window_start, window_end=window_end, pages=out)


def _page_number(asked: object, count: int, page_size: int) -> int:
    """The page ``Paginator.get_page`` shows for ``asked`` (out of range: the last page; garbage: 1)."""
    last = max(1, -(-count // page_size))
    number = _page_request(asked)
    return number if 1 <= number <= last else last


# --- The stored ranking of a run (PatternRank) ----------------------------------------------------------


def _stored_sizes(run: PatternRun) -> dict[str, int]:
    return {c: int((run.cohort_sizes or {}).get(c, 0)) for c in COHORTS}


def _count_sizes(*, tenant: Tenant, run: PatternRun) -> None:
    got = dict(
        PatternRank.objects.filter(tenant=tenant, run=run).values("cohort").annotate(n=Count("pk")).values_list("cohort", "n")
    )
    run.cohort_sizes = {c: got.get(c, 0) for c in COHORTS}
    PatternRun.objects.filter(tenant=tenant, pk=run.pk).update(cohort_sizes=run.cohort_sizes)


def store_cohorts(*, tenant: Tenant, run: PatternRun) -> None:
    """Store the run's cohorts (``PatternRank``: every partner's outcome in the run's window, cohort and
    place in its list, split as ``cohort_pages`` splits them) and their sizes (``run.cohort_sizes``). An
    older run of the same window length, share and metric loses its stored ranking: the page reads the
    newest. A handful of statements whatever the number of partners."""
    from django.db import connection

    params = {
        **_split_params(tenant=tenant, top_share=float(run.top_share)), "won": DealStage.WON,
        "start": run.window_start, "end": run.window_end, "run": run.pk,
    }
    with connection.cursor() as cursor:
        cursor.execute(_STORE_SQL.format(value=_value_sql(run.metric), ceil=_ceil_sql()), params)
    _count_sizes(tenant=tenant, run=run)
    older = [
        r.pk for r in PatternRun.objects.filter(tenant=tenant, metric=run.metric, top_share=run.top_share)
        .exclude(pk=run.pk).filter(cohort_sizes__isnull=False).only("pk", "window_start", "window_end")
        if r.window_days == run.window_days
    ]
    if older:
        PatternRank.objects.filter(tenant=tenant, run_id__in=older).delete()
        PatternRun.objects.filter(tenant=tenant, pk__in=older).update(cohort_sizes=None)


def restore_cohorts(*, tenant: Tenant) -> int:
    """Split every stored ranking of the tenant again from its stored figures with the partners'
    current overrides, statuses and names (after a manager changed a cohort override), so the stored
    lists apply it as the live split would. Returns the runs rewritten (one UPDATE and one count each;
    at most one run per window length, share and metric keeps a stored ranking)."""
    from django.db import connection

    runs = list(PatternRun.objects.filter(tenant=tenant, cohort_sizes__isnull=False).only("pk", "top_share"))
    for run in runs:
        with connection.cursor() as cursor:
            cursor.execute(
                _RESTORE_SQL.format(ceil=_ceil_sql()),
                {**_split_params(tenant=tenant, top_share=float(run.top_share)), "run": run.pk},
            )
        _count_sizes(tenant=tenant, run=run)
    return len(runs)


def stored_run(runs: list[PatternRun], *, window_days: int, top_share: float, metric: str) -> PatternRun | None:
    """The newest of ``runs`` (newest first) with a stored ranking for these parameters."""
    for run in runs:
        if (
            run.cohort_sizes is not None and run.metric == metric and run.window_days == window_days
            and round(float(run.top_share), 3) == round(float(top_share), 3)
        ):
            return run
    return None


def stored_cohort_pages(
    *, tenant: Tenant, run: PatternRun, pages: dict[str, object] | None = None, page_size: int = 25
) -> CohortPages:
    """``cohort_pages`` read from a run's stored ranking: the sizes are the run's, and the asked page of
    each list is one indexed range of places (``pattern_rank_page``), so one query whatever the number
    of partners, and no partner is ranked per request. The figures are the run's (its window, as of
    when it was computed); the cohorts follow the overrides managers set since (``restore_cohorts``)."""
    from partners.reading import japanese_order

    pages = pages or {}
    sizes = _stored_sizes(run)
    place = "pos_kana" if japanese_order() else "pos"
    numbers = {c: _page_number(pages.get(c), sizes[c], page_size) for c in COHORTS}
    wanted = Q(pk__in=[])
    for c, number in numbers.items():
        if sizes[c]:
            wanted |= Q(cohort=c, **{f"{place}__gt": (number - 1) * page_size, f"{place}__lte": number * page_size})
    placed: dict[str, list[CohortRow]] = {c: [] for c in COHORTS}
    for r in (
        PatternRank.objects.filter(tenant=tenant, run=run).filter(wanted)
        .select_related("partner", "partner__tier").order_by("cohort", place)
    ):
        partner = r.partner
        partner.won_revenue, partner.won_count, partner.first_win_on, partner.value = (
            r.won_revenue, r.won_count, r.first_win_on, r.value
        )
        partner.cohort = r.cohort
        placed[r.cohort].append(_cohort_row(partner, bottom=r.bottom, nurturing=r.nurturing))
    out = {c: CohortPage(rows=placed[c], count=sizes[c], number=numbers[c]) for c in COHORTS}
    return CohortPages(window_start=run.window_start, window_end=run.window_end, pages=out, run=run)


def stored_cohort_partners(*, tenant: Tenant, run: PatternRun, cohort: str) -> list[Partner]:
    """Every partner of one cohort of a run's stored ranking, in the list's order."""
    return [
        r.partner for r in PatternRank.objects.filter(tenant=tenant, run=run, cohort=cohort)
        .select_related("partner").order_by("pos")
    ]


def _cohort_row(partner: Partner, *, bottom: bool, nurturing: bool | None = None) -> CohortRow:
    """A partner annotated by ``_cohort_base`` (and ``cohort``) as a CohortRow with the reasons it is in
    its cohort; ``bottom``: in the bottom cohort by outcome; ``nurturing``: its status was nurturing when
    it was placed (None: its status now)."""
    row = CohortRow(
        partner=partner, won_revenue=partner.won_revenue or Decimal(0), won_count=partner.won_count,
        first_win_on=partner.first_win_on, value=Decimal(partner.value or 0),
    )
    by_hand = partner.cohort_override in (CohortOverride.TOP, CohortOverride.NURTURE)
    if partner.cohort == "top":
        row.reasons.append(_("set by a manager") if by_hand else _("top by outcome"))
    elif partner.cohort == "nurture":
        if by_hand:
            row.reasons.append(_("set by a manager"))
        else:
            if (partner.status == PartnerStatus.NURTURING) if nurturing is None else nurturing:
                row.reasons.append(_("status: nurturing"))
            if bottom:
                row.reasons.append(_("bottom cohort by outcome"))
    return row


# --- Runs and the lift table ------------------------------------------------------------------------


def latest_run(*, tenant: Tenant) -> PatternRun | None:
    return (
        PatternRun.objects.filter(tenant=tenant)
        .exclude(status=PatternRun.Status.RUNNING)
        .select_related("playbook")
        .order_by("-computed_at", "-id")
        .first()
    )


def recent_runs(*, tenant: Tenant, limit: int = 20) -> list[PatternRun]:
    """The tenant's finished runs, newest first (the mining keeps ten): the latest one for the lift
    table and the one with a stored ranking for the page's parameters, in one query."""
    return list(
        PatternRun.objects.filter(tenant=tenant)
        .exclude(status=PatternRun.Status.RUNNING)
        .select_related("playbook")
        .order_by("-computed_at", "-id")[:limit]
    )


def lift_table(*, tenant: Tenant, run: PatternRun | None) -> list[PatternItem]:
    if run is None:
        return []
    return list(
        PatternItem.objects.filter(tenant=tenant, run=run).select_related("asset", "path").order_by("rank", "id")
    )


# --- Playbook ------------------------------------------------------------------------------------------


_READ = object()


def current_playbook(*, tenant: Tenant, run: PatternRun | None | object = _READ) -> LearningPath | None:
    """The playbook in use: the one of the latest run if it has one, else the newest playbook path.
    ``run``: the latest run when the caller has read it already (``latest_run``), not to read it twice."""
    if run is _READ:
        run = latest_run(tenant=tenant)
    if run is not None and run.playbook_id:
        return run.playbook
    return LearningPath.objects.filter(tenant=tenant, is_playbook=True).order_by("-created_at", "-id").first()


def playbook_items(*, tenant: Tenant, path: LearningPath | None) -> list[LearningPathItem]:
    if path is None:
        return []
    return list(
        LearningPathItem.objects.filter(tenant=tenant, path=path).select_related("asset").order_by("position", "id")
    )


# --- Consumption (what counts as "done") ----------------------------------------------------------


def consumed_at(state: PartnerAssetState, kind: str) -> dt.datetime | None:
    """When the partner first completed the asset (``enablement.completion``: trainings when
    completed; documents when first viewed or downloaded; FAQs when first viewed)."""
    return state.first_completed_at


def _states(*, tenant: Tenant, partner_ids, asset_ids) -> list[PartnerAssetState]:
    return list(
        PartnerAssetState.objects.filter(tenant=tenant, partner_id__in=partner_ids, asset_id__in=asset_ids)
        .select_related(None)
        .only("partner_id", "asset_id", "first_activity_at", "first_completed_at")
    )


# --- Adoption: before / after the playbook was assigned ------------------------------------------------


ADOPTION_MIN_DAYS = 7  # a full week after the assignment day before anything is compared
ADOPTION_MAX_DAYS = 56  # at most 8 weeks on each side


@dataclass
class AdoptionRow:
    partner: Partner
    assigned_on: dt.date
    items_total: int
    done_before: int
    done_after: int
    events_per_week_before: float | None
    events_per_week_after: float | None
    deals_before: int | None
    deals_after: int | None
    days: int  # the length of each window in days (0 while measuring)

    @property
    def done(self) -> int:
        return self.done_before + self.done_after

    @property
    def done_pct(self) -> int:
        return round(100 * self.done / self.items_total) if self.items_total else 0

    @property
    def measuring(self) -> bool:
        """The first full week after the assignment is not over: nothing to compare yet."""
        return self.days == 0


def adoption_window(assigned_on: dt.date, today: dt.date) -> int:
    """Days in each of the two equal windows around an assignment day: whole weeks of complete days
    after it (the assignment day itself, half before and half after, and today, not over, are left
    out), at most 8 weeks; 0 until a full week has passed."""
    complete = (today - assigned_on).days - 1  # assigned_on + 1 … today − 1
    if complete < ADOPTION_MIN_DAYS:
        return 0
    return min(ADOPTION_MAX_DAYS, complete // 7 * 7)


# The adoption table's order and page in one statement: the partners assigned the playbook with the
# first assignment's time (one pass over its assignments), the items each has completed (one GROUP BY
# over the states of its assets, not a count per partner), every assigned partner numbered in the
# table's order and counted (window functions), and the asked page's partners only (out of range: the
# last page, as Paginator.get_page).
_ADOPTION_RANKED_SQL = """
WITH assigned AS (
    SELECT a.partner_id AS pid, MIN(a.created_at) AS first_assigned_at
    FROM enablement_assignment a
    WHERE a.tenant_id = %(tenant)s AND a.source = %(source)s AND a.target = %(target)s AND a.is_active = %(active)s
      AND a.asset_id IN ({assets})
    GROUP BY a.partner_id
), done AS (
    SELECT s.partner_id AS pid, COUNT(*) AS n
    FROM kpis_partnerassetstate s
    WHERE s.tenant_id = %(tenant)s AND s.asset_id IN ({assets}) AND s.first_completed_at IS NOT NULL
    GROUP BY s.partner_id
), ranked AS (
    SELECT p.*, x.first_assigned_at,
           ROW_NUMBER() OVER (ORDER BY {key} DESC, p.name, p.id) AS pos, COUNT(*) OVER () AS total
    FROM assigned x JOIN partners_partner p ON p.id = x.pid AND p.tenant_id = %(tenant)s
    LEFT JOIN done d ON d.pid = x.pid
)"""

_ADOPTION_PAGE_SQL = _ADOPTION_RANKED_SQL + """, paged AS (
    SELECT ranked.*,
           CASE WHEN %(page)s >= 1 AND %(page)s <= (total + %(size)s - 1) / %(size)s THEN %(page)s
                ELSE (total + %(size)s - 1) / %(size)s END AS number
    FROM ranked
)
SELECT * FROM paged
WHERE %(all)s = 1 OR (pos > (number - 1) * %(size)s AND pos <= number * %(size)s)
ORDER BY pos
"""  # noqa: S608 (constant parts only)

_ADOPTION_STORE_SQL = _ADOPTION_RANKED_SQL + """
INSERT INTO kpis_adoptionrank (tenant_id, ranking_id, partner_id, pos, first_assigned_at)
SELECT %(tenant)s, %(ranking)s, id, pos, first_assigned_at FROM ranked
"""  # noqa: S608 (constant parts only)


def _adoption_key_sql(total: int) -> str:
    """The table's sort key over ``d.n`` (items completed): the share done as ``AdoptionRow.done_pct``
    rounds it (equal shares sort by name). Up to 100 items every item done moves the rounded share by at
    least one point, so the count orders alike; beyond, two counts can share a percentage and the
    rounded share itself is the key (a CASE over the possible counts, Python's rounding; integers only)."""
    if total <= 100:
        return "COALESCE(d.n, 0)"
    whens = " ".join(f"WHEN {n} THEN {round(100 * n / total)}" for n in range(total + 1))
    return f"CASE COALESCE(d.n, 0) {whens} ELSE 100 END"


@dataclass
class AdoptionPage:
    """One page of the adoption table (``rows``, in the table's order), the number of partners assigned
    the playbook and the page number Paginator gives for the one asked (out of range: the last)."""

    rows: list[AdoptionRow]
    count: int
    number: int


def _adoption_statement(template: str, *, tenant: Tenant, asset_ids: list[int], n_items: int, **extra) -> tuple[str, dict]:
    params = {
        "tenant": tenant.pk, "source": PLAYBOOK_SOURCE, "target": AssignmentTarget.PARTNER, "active": True, **extra,
        **{f"a{n}": pk for n, pk in enumerate(asset_ids)},
    }
    sql = template.format(assets=", ".join(f"%(a{n})s" for n in range(len(asset_ids))), key=_adoption_key_sql(n_items))
    return sql, params


def adoption_page(
    *, tenant: Tenant, items: list[LearningPathItem], page: object = 1, page_size: int | None = 25,
    today: dt.date | None = None,
) -> AdoptionPage:
    """The partners assigned the playbook (source ``playbook``, an active partner assignment of one of
    its items) in the adoption table's order — most of the playbook done first, then by name — as one
    page of ``page_size`` rows (``None``: every row), with their count. Five queries whatever the
    number of partners assigned: the stored order (``AdoptionRanking``, with whether an input marker
    is pending), then either a page of it by place (``adoption_rank_page``) — while no marker is
    pending and it was ranked with these items, so it equals a live ranking — or the live ranking, in
    one statement (``_ADOPTION_PAGE_SQL``: order, count, first assignment times and the page's
    partners); then ``adoption_rows`` for the page (completions, events, deals). A stored page that
    comes back short (a KPI run replaced the ranking between the two reads) is ranked live: six."""
    from django.db import connection

    if not items:
        return AdoptionPage(rows=[], count=0, number=1)
    asset_ids = sorted({i.asset_id for i in items})
    ranking = (
        AdoptionRanking.objects.filter(tenant=tenant, path_id=items[0].path_id)
        .annotate(pending=Exists(KpiInputChange.objects.filter(tenant=tenant)))
        .first()
    )
    ranks = None
    if ranking is not None and not ranking.pending and ranking.asset_ids == asset_ids:
        count = ranking.total
        number = 1 if page_size is None else _page_number(page, count, page_size)
        places = AdoptionRank.objects.filter(tenant=tenant, ranking=ranking)
        expected = count
        if page_size is not None:
            places = places.filter(pos__gt=(number - 1) * page_size, pos__lte=number * page_size)
            expected = max(0, min(page_size, count - (number - 1) * page_size))
        ranks = list(places.select_related("partner").order_by("pos"))
        if len(ranks) != expected:  # replaced by a KPI run between the two reads (or a partner deleted): live
            ranks = None
    if ranks is not None:
        partners = [r.partner for r in ranks]
        assigned_at = {r.partner_id: r.first_assigned_at for r in ranks}
    else:
        sql, params = _adoption_statement(
            _ADOPTION_PAGE_SQL, tenant=tenant, asset_ids=asset_ids, n_items=len(items),
            page=_page_request(page), size=page_size or 1, all=1 if page_size is None else 0,
        )
        partners = list(Partner.objects.raw(sql, params))
        count = partners[0].total if partners else 0
        number = 1 if page_size is None else _page_number(page, count, page_size)
        # The first assignment's time as the ORM reads a DateTimeField (SQLite returns text for an aggregate).
        expr = Value(None, output_field=DateTimeField())
        converters = connection.ops.get_db_converters(expr)
        assigned_at = {}
        for p in partners:
            value = p.first_assigned_at
            for convert in converters:
                value = convert(value, expr, connection)
            assigned_at[p.pk] = value
    rows = adoption_rows(tenant=tenant, items=items, partners=partners, today=today, assigned_at=assigned_at)
    return AdoptionPage(rows=rows, count=count, number=number)


def store_adoption(*, tenant: Tenant, changed: bool = True) -> AdoptionRanking | None:
    """Store the adoption table's order of the current playbook (``AdoptionRanking`` + one
    ``AdoptionRank`` per partner assigned, by one ``INSERT … SELECT`` of the live ranking), replacing
    the tenant's stored one. With ``changed=False`` (no input marker was consumed) what is stored is
    kept when it is of the current playbook with its current items (or nothing, with no playbook). A handful of statements whatever the number of
    partners; run inside the KPI computation's transaction (``kpis.scope.inputs_consumed``)."""
    from django.db import connection

    path = current_playbook(tenant=tenant)
    items = playbook_items(tenant=tenant, path=path)
    asset_ids = sorted({i.asset_id for i in items})
    stored = AdoptionRanking.objects.filter(tenant=tenant).only("path_id", "asset_ids")
    if not changed and [(r.path_id, r.asset_ids) for r in stored] == ([] if path is None else [(path.pk, asset_ids)]):
        return None
    AdoptionRank.objects.filter(tenant=tenant).delete()
    AdoptionRanking.objects.filter(tenant=tenant).delete()
    if path is None:
        return None
    ranking = AdoptionRanking.objects.create(tenant=tenant, path=path, asset_ids=asset_ids)
    if items:
        sql, params = _adoption_statement(
            _ADOPTION_STORE_SQL, tenant=tenant, asset_ids=asset_ids, n_items=len(items), ranking=ranking.pk
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        ranking.total = AdoptionRank.objects.filter(tenant=tenant, ranking=ranking).count()
        ranking.save(update_fields=["total"])
    return ranking


def store_adoption_on_kpi_run(sender, *, tenant: Tenant, changed: bool, **kwargs) -> None:
    """``kpis.scope.inputs_consumed`` receiver: the KPI run consumed the input markers. A failure here
    does not fail the KPI computation: the stored order is removed instead (in a savepoint's place), so
    the page ranks live rather than read an order the consumed markers made stale."""
    from django.db import DatabaseError, transaction

    try:
        with transaction.atomic():
            store_adoption(tenant=tenant, changed=changed)
    except DatabaseError:
        logger.exception("storing the adoption order failed for tenant %s; the page ranks it live", tenant.pk)
        AdoptionRank.objects.filter(tenant=tenant).delete()
        AdoptionRanking.objects.filter(tenant=tenant).delete()


def adoption_rows(
    *, tenant: Tenant, items: list[LearningPathItem], partners: list[Partner], today: dt.date | None = None,
    assigned_at: dict[int, dt.datetime] | None = None,
) -> list[AdoptionRow]:
    """The adoption rows of ``partners`` (one page of ``adoption_page``), in their order: completion
    of the playbook's items, activity events per week (DailyActivityFact) and deals registered, in
    equal windows of whole weeks before and after the assignment day (at most 8 weeks each). The
    after-window starts the day after the assignment; until a full week of it is over, the row is
    *measuring* and compares nothing. Four queries whatever the number of partners and days (three when
    ``assigned_at``, each partner's first assignment time, is given)."""
    if not items or not partners:
        return []
    asset_ids = [i.asset_id for i in items]
    kinds = {i.asset_id: i.asset.kind for i in items}
    today = today or timezone.localdate()
    tz = timezone.get_current_timezone()
    pids = [p.pk for p in partners]
    if assigned_at is None:
        assigned_at = dict(
            Assignment.objects.filter(
                tenant=tenant, source=PLAYBOOK_SOURCE, target=AssignmentTarget.PARTNER, asset_id__in=asset_ids,
                is_active=True, partner_id__in=pids,
            )
            .values("partner_id")
            .annotate(first=Min("created_at"))
            .values_list("partner_id", "first")
        )
    assigned_on = {pid: timezone.localtime(at, tz).date() for pid, at in assigned_at.items()}
    done: dict[int, list[dt.date]] = {}
    for s in _states(tenant=tenant, partner_ids=pids, asset_ids=asset_ids):
        at = consumed_at(s, kinds[s.asset_id])
        if at is not None:
            done.setdefault(s.partner_id, []).append(timezone.localtime(at, tz).date())
    by_day: dict[dt.date, list[int]] = {}
    for pid, day in assigned_on.items():
        by_day.setdefault(day, []).append(pid)

    def at(d: dt.date) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(d, dt.time.min), tz)

    # One query for the events and one for the deals: each assignment day's partners with their own
    # windows, the conditions OR-ed (there are at most as many days as partners on the page).
    spans: dict[dt.date, int] = {}
    ev_rows, ev_before, ev_after = Q(pk__in=[]), Q(pk__in=[]), Q(pk__in=[])
    de_rows, de_before, de_after = Q(pk__in=[]), Q(pk__in=[]), Q(pk__in=[])
    for day, day_pids in by_day.items():
        span = spans[day] = adoption_window(day, today)
        if not span:
            continue
        before_start, before_end = day - dt.timedelta(days=span), day - dt.timedelta(days=1)
        after_start, after_end = day + dt.timedelta(days=1), day + dt.timedelta(days=span)
        mine = Q(partner_id__in=day_pids)
        ev_rows |= mine & Q(day__gte=before_start, day__lte=after_end)
        ev_before |= mine & Q(day__lte=before_end)
        ev_after |= mine & Q(day__gte=after_start)
        de_rows |= mine & Q(created_at__gte=at(before_start), created_at__lt=at(after_end + dt.timedelta(days=1)))
        de_before |= mine & Q(created_at__lt=at(day))
        de_after |= mine & Q(created_at__gte=at(after_start))
    events: dict[int, tuple[int, int]] = {}
    deals: dict[int, tuple[int, int]] = {}
    if any(spans.values()):
        for r in (
            DailyActivityFact.objects.filter(tenant=tenant).filter(ev_rows)
            .values("partner_id")
            .annotate(before=Sum("event_count", filter=ev_before, default=0),
                      after=Sum("event_count", filter=ev_after, default=0))
        ):
            events[r["partner_id"]] = (r["before"], r["after"])
        for r in (
            Deal.objects.filter(tenant=tenant).filter(de_rows)
            .values("partner_id")
            .annotate(before=Count("id", filter=de_before), after=Count("id", filter=de_after))
        ):
            deals[r["partner_id"]] = (r["before"], r["after"])
    rows = []
    for partner in partners:
        pid = partner.pk
        day = assigned_on.get(pid)
        if day is None:
            continue
        span = spans[day]
        dates = done.get(pid, [])
        common = {
            "partner": partner, "assigned_on": day, "items_total": len(items),
            "done_before": sum(1 for d in dates if d < day), "done_after": sum(1 for d in dates if d >= day), "days": span,
        }
        if not span:
            rows.append(AdoptionRow(**common, events_per_week_before=None, events_per_week_after=None,
                                    deals_before=None, deals_after=None))
            continue
        weeks = span / 7
        ev_b, ev_a = events.get(pid, (0, 0))
        de_b, de_a = deals.get(pid, (0, 0))
        rows.append(AdoptionRow(**common, events_per_week_before=round(ev_b / weeks, 1),
                                events_per_week_after=round(ev_a / weeks, 1), deals_before=de_b, deals_after=de_a))
    return rows


def playbook_adoption(*, tenant: Tenant, path: LearningPath | None, today: dt.date | None = None) -> list[AdoptionRow]:
    """Every adoption row of the playbook, in the table's order (the page reads one page of
    ``adoption_page``). Partners with equal completion are in name order."""
    items = playbook_items(tenant=tenant, path=path)
    return adoption_page(tenant=tenant, items=items, page_size=None, today=today).rows


# --- Next best action -----------------------------------------------------------------------------------


@dataclass
class NextAction:
    asset: Asset
    position: int
    started: bool
    reason: str


def next_best_actions(
    *, tenant: Tenant, partner: Partner, limit: int = 3, for_manager: bool = False
) -> list[NextAction]:
    """The next playbook items this partner has not done yet, each with a one-line reason. ≤ 5 queries.

    The reason addresses its reader: the partner ("you have not started it") or, on the manager's
    scorecard (``for_manager``), the partner in the third person ("this partner has not started it")."""
    path = current_playbook(tenant=tenant)
    items = playbook_items(tenant=tenant, path=path)
    if not items:
        return []
    visible = set(
        Asset.objects.filter(tenant=tenant, pk__in=[i.asset_id for i in items])
        .filter(asset_audience_q(partner))
        .values_list("pk", flat=True)
    )
    items = [i for i in items if i.asset_id in visible]  # never suggest what the partner may not open
    asset_ids = [i.asset_id for i in items]
    states = {s.asset_id: s for s in _states(tenant=tenant, partner_ids=[partner.pk], asset_ids=asset_ids)}
    run = latest_run(tenant=tenant)
    stats = {}
    if run is not None:
        stats = {
            pi.asset_id: pi
            for pi in PatternItem.objects.filter(
                tenant=tenant, run=run, item_type=PatternItemType.ASSET, asset_id__in=asset_ids
            )
        }
    actions = []
    for pos, item in enumerate(items, start=1):
        state = states.get(item.asset_id)
        if state is not None and consumed_at(state, item.asset.kind) is not None:
            continue
        started = state is not None and state.first_activity_at is not None
        actions.append(
            NextAction(asset=item.asset, position=pos, started=started, reason=_reason(item.asset, stats.get(item.asset_id), started, for_manager=for_manager))
        )
        if len(actions) >= limit:
            break
    return actions


def certification_actions(*, tenant: Tenant, partner: Partner) -> list[Gap]:
    """The certifications the partner's tier requires and it lacks people for (≤ 4 queries)."""
    return partner_coverage(tenant=tenant, partners=[(partner.pk, partner.tier_id)])[partner.pk].gaps


def _reason(asset: Asset, stat: PatternItem | None, started: bool, *, for_manager: bool = False) -> str:
    if for_manager:
        if asset.kind == AssetKind.TRAINING:
            you = _("this partner has started it but not finished it") if started else _("this partner has not started it")
        else:
            you = _("this partner has not opened it yet")
    elif asset.kind == AssetKind.TRAINING:
        you = _("you have started it but not finished it") if started else _("you have not started it")
    else:
        you = _("you have not opened it yet")
    if stat is None or not stat.top_n or stat.too_early:
        return _("Part of the success playbook; %(you)s.") % {"you": you}
    pct = round(100 * stat.share_top)
    if asset.kind == AssetKind.TRAINING:
        text = _("%(pct)s%% of top partners completed this before their first win; %(you)s.")
    else:
        text = _("%(pct)s%% of top partners used this before their first win; %(you)s.")
    return text % {"pct": pct, "you": you}
