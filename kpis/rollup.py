"""Incremental, set-based rollup of the activity log into the kpis fact tables.

``rollup_tenant(tenant)`` is the one entry point. For one tenant it:

1. reads the high-water mark ``hi`` = the newest ``received_at`` of the tenant's events, capped at
   the database's own ``now()`` (``received_at`` is written by the database's clock, so one clock
   orders writes and rollups; a row dated ahead of that clock waits for it instead of pushing the
   watermark past events still to come), and the stored watermark ``lo`` (``RollupState.watermark``);
2. finds, in ONE query, the set of tenant-local days touched by events with
   ``lo - OVERLAP < received_at <= hi`` (a FAQ view/feedback also touches the day of the
   search it may resolve, i.e. the day of ``occurred_at - 30 min``);
3. records the window's events not merged yet in ``MergedEvent`` (the seen-events set) as this
   run's batch, and merges ONLY those into the facts, in the same transaction:
   ``INSERT … SELECT … GROUP BY … ON CONFLICT DO UPDATE`` adds counts and sums, takes the greater
   ``max_progress``; ``user_count`` grows by the new users of a key and day (a range lookup per
   new event on ``event_user_verb_time`` for an earlier merged event of the same user, key and
   day); a FAQ search adds its unresolved status as of ``hi``, and an earlier search that a new
   view/answer follows changes by (status now) − (status before the batch). Cases that still
   recompute: the ``faq.feedback`` facts of the keys (day, partner, FAQ) holding new answers or
   the answers just before them (a later answer supersedes; only that one changes), those keys only;
   ``since`` days (the nightly recompute), whole. Exactly once: a killed run rolls back the
   seen-set rows with the upserts, and events seen again in the overlap are in the set. The set
   keeps only events received after ``hi - overlap`` (older ones are never rescanned);
4. merges ONLY the new events (the same batch: received in ``(lo, hi]`` and recorded in the
   seen-events set by this run; events seen again in the overlap are not read) into
   ``UserAssetState`` then ``PartnerAssetState`` (``INSERT … SELECT … GROUP BY … ON CONFLICT DO
   UPDATE``: LEAST/GREATEST for first/last activity, first completion, max progress; ``seconds``
   adds up, each event once; partner user counts from the touched pairs' user states), so the cost
   follows the new events, not the pairs' history nor the overlap. ``since`` runs recompute the
   touched pairs' states whole;
5. advances the watermark to ``hi``.

The incremental run is one transaction, behind the tenant's lock; the ``RollupState`` row records
``running`` (with a lease) / ``idle`` / ``failed`` (+ the error) outside it, so a crashed run is
simply rerun (``kpis.runs``). A full recompute (``full``, no watermark yet) runs in bounded chunks,
each its own committed transaction, resumable (``_rebuild``): the states set-based by ranges of
user ids then of partner ids, then the facts by ranges of days; every recompute counts only events
received up to its ``hi`` (later ones are merged by the next run).

Tenant-local day
----------------
PostgreSQL: ``(occurred_at AT TIME ZONE tz)::date``.
SQLite stores datetimes as UTC text; the rollup registers a deterministic SQL function
``shien_local_date(ts, tz, shift_seconds)`` on the connection that converts with ``zoneinfo``
(correct for every zone, DST included) — the same conversion PostgreSQL does.

Fact semantics
--------------
* Events with ``trusted = false`` (sent with an API key that is not a trusted source) enter no
  fact and complete nothing; ``DailySourceFact`` (day, source, verb) counts every event, and
  those in ``untrusted_count``.
* ``DailyActivityFact`` (day, partner, asset|NULL, verb): ``event_count`` events,
  ``user_count`` distinct non-null ``user_id`` (no watched seconds: a portal event's ``seconds``
  is the running length of the user's union of played segments, so a sum would count it again
  at every heartbeat), ``max_progress`` = MAX(progress) (NULL when no event carried one),
  ``negative_count`` = events with ``resolved`` false (the FAQ "no" answers). ``faq.feedback``
  counts one answer per person per FAQ: an answer followed by a later one of the same user on the
  same FAQ was changed and is not counted (``SUPERSEDED_FEEDBACK_SQL``: counts, users and "no"
  answers leave it out), but its key keeps its row, with zero counts if nothing else is left — the
  answer happened, so its partner stays active and its FAQ used that day (a later change of mind
  does not rewrite an earlier period); a new answer also touches the day of that person's answer
  just before it (the only one whose status it changes), so it is recomputed.
* ``FaqSearchFact`` (day, partner, normalised query): normalised = lower case, trimmed,
  whitespace runs (incl. the ideographic space) collapsed to one space. ``searches`` = number of
  ``faq.searched`` events, ``zero_result_searches`` = those with ``result_count = 0``,
  ``unresolved_searches`` = those that found nothing, OR were made without a user, OR were
  followed by no ``faq.viewed`` of the same user within ``[t, t + 30 min]``, OR were followed
  by a ``faq.feedback`` with ``resolved = false`` of the same user within that window.
* ``PartnerAssetState`` / ``UserAssetState``: over ALL events of the pair:
  first/last activity = MIN/MAX(occurred_at); a *completion* event is ``training.completed``
  for a training, for a document what its rule asks (``Asset.completion_requires``: view →
  ``document.viewed``/``.downloaded``/``.read``, download → ``document.downloaded``, time →
  ``document.read``), ``faq.viewed`` for an FAQ; ``first_completed_at`` = MIN(occurred_at) of completion events;
  ``completed_users`` / ``active_users`` = distinct users with a completion / any event;
  ``max_progress`` = MAX(progress) of ``training.progressed``/``training.completed`` events;
  ``watched_share`` = that max / 100 capped at 1 (0 when none); ``seconds`` = SUM(seconds).
  User states are per ``(user, partner, asset)``: an event counts for the partner it was logged
  with (the user's partner when it happened), so a user who moves keeps past completions with the
  old partner; incremental runs count a partner's ``completed_users`` / ``active_users`` from the
  user states of that partner.
"""

# ruff: noqa: S608  (the SQL below interpolates only module constants, table names and a
# time-zone name validated by zoneinfo and a strict pattern; every value is a bound parameter)
from __future__ import annotations

import contextlib
import datetime as dt
import re
import time
import zoneinfo
from dataclasses import dataclass, field
from functools import lru_cache

from django.conf import settings
from django.db import connection, transaction
from django.db.models.functions import Now

from enablement.completion import completion_sql, trusted_sql
from enablement.models import ActivityEvent, Asset, Verb
from enablement.selectors.archive import archived_before
from kpis.models import (
    DailyActivityFact,
    DailySourceFact,
    FaqSearchFact,
    MergedEvent,
    PartnerAssetState,
    RollupState,
    UserAssetState,
)
from kpis.runs import rollup_lease, tenant_lock
from kpis.scope import record_rollup_touched
from partners.models import Tenant

FAQ_SESSION_WINDOW = dt.timedelta(minutes=30)

EV = ActivityEvent._meta.db_table
ASSET = Asset._meta.db_table
DAILY = DailyActivityFact._meta.db_table
SOURCES = DailySourceFact._meta.db_table
FAQ = FaqSearchFact._meta.db_table
PAS = PartnerAssetState._meta.db_table
UAS = UserAssetState._meta.db_table
MERGED = MergedEvent._meta.db_table

PROGRESS_VERBS = (Verb.TRAINING_PROGRESSED.value, Verb.TRAINING_COMPLETED.value)

# Events sent with an API key that is not a trusted source are kept in the log (and counted in the
# per-source volumes) but enter no KPI: no daily fact, FAQ fact or completion.
TRUSTED_SQL = trusted_sql(trusted="e.trusted")

# What counts as "completed" per asset kind: the one rule (enablement.completion), trusted sources only.
COMPLETION_SQL = completion_sql(kind="a.kind", verb="e.verb", trusted="e.trusted", requires="a.completion_requires")
# One FAQ answer per person: a feedback event followed by a later one of the same user on the same
# FAQ was changed and is not counted (the log is append-only; the latest answer counts).
SUPERSEDED_FEEDBACK_SQL = (
    f"(e.verb = '{Verb.FAQ_FEEDBACK.value}' AND e.user_id IS NOT NULL AND EXISTS (SELECT 1 FROM {EV} s "
    f"WHERE s.tenant_id = e.tenant_id AND s.user_id = e.user_id AND s.asset_id = e.asset_id AND s.verb = e.verb "
    f"AND (s.occurred_at > e.occurred_at OR (s.occurred_at = e.occurred_at AND s.id > e.id))))"
)
# A superseded answer still happened: its (day, partner, FAQ) keeps a fact row (the partner was
# active, the FAQ used), but it is not counted as an answer — a later change of mind must not
# rewrite an earlier period's activity.
SUPERSEDED_FLAG_SQL = f"CASE WHEN {SUPERSEDED_FEEDBACK_SQL} THEN 1 ELSE 0 END"
# The columns the daily facts read, plus the flag. ``_flagged`` selects them in a fenced subquery:
# flattened (``SELECT e.*, flag …`` unfenced), PostgreSQL copied the flag into each of the four
# aggregates of COUNTED_SQL, so every FAQ answer ran the superseded look-up four times
# (``EXPLAIN ANALYZE`` of a 14-day chunk: SubPlans 1–4, 4,945 loops each).
FLAGGED_COLUMNS = "e.tenant_id, e.occurred_at, e.partner_id, e.asset_id, e.verb, e.user_id, e.progress, e.resolved"
COUNTED_SQL = (
    "SUM(1 - e.superseded), COUNT(DISTINCT CASE WHEN e.superseded = 0 THEN e.user_id END), "
    "MAX(CASE WHEN e.superseded = 0 THEN e.progress END), "
    "SUM(CASE WHEN e.superseded = 0 AND e.resolved IS NOT NULL AND NOT e.resolved THEN 1 ELSE 0 END)"
)
PROGRESS_SQL = f"CASE WHEN e.verb IN ('{PROGRESS_VERBS[0]}', '{PROGRESS_VERBS[1]}') THEN e.progress END"


# Events dated outside these bounds (Go's zero time 0001-01-01, 9999-12-31 sentinels) were stored
# before validation refused them; the rollup leaves them out, so every date conversion stays in
# range on both databases and no fact, state or page ever sees them. Text literals compare
# correctly against PostgreSQL timestamptz and SQLite's stored 'YYYY-MM-DD HH:MM:SS' text alike.
VALID_FROM = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
VALID_UNTIL = dt.datetime(9000, 1, 1, tzinfo=dt.UTC)
IN_RANGE = (
    f"e.occurred_at >= '{VALID_FROM:%Y-%m-%d %H:%M:%S}+00:00' AND e.occurred_at < '{VALID_UNTIL:%Y-%m-%d %H:%M:%S}+00:00'"
)


def chunk_days() -> int:
    """Days per transaction of a full recompute (each chunk commits; a killed run resumes)."""
    return max(1, int(getattr(settings, "KPIS_ROLLUP_CHUNK_DAYS", 14)))


def overlap() -> dt.timedelta:
    """Events received shortly before the watermark are looked at again (a writer's transaction
    may commit after a rollup read a newer ``received_at``). Rescanning is harmless: it only
    recomputes days and pairs, which gives the same numbers."""
    return dt.timedelta(seconds=getattr(settings, "KPIS_ROLLUP_OVERLAP_SECONDS", 60))


# --- SQL dialect ---------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def _parse_sqlite_ts(value) -> dt.datetime | None:
    if value is None:
        return None
    parsed = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _sqlite_local_date(value, tz_name, shift_seconds=0):
    """``shien_local_date(ts, tz, shift)``: the tenant-local date of a stored UTC timestamp."""
    parsed = _parse_sqlite_ts(value)
    if parsed is None:
        return None
    return (parsed + dt.timedelta(seconds=shift_seconds or 0)).astimezone(_zone(tz_name)).date().isoformat()


def _sqlite_add_seconds(value, seconds):
    """``shien_add_seconds(ts, s)`` in Django's SQLite storage format (UTC, naive text)."""
    parsed = _parse_sqlite_ts(value)
    if parsed is None:
        return None
    return str((parsed + dt.timedelta(seconds=seconds)).astimezone(dt.UTC).replace(tzinfo=None))


def _sqlite_normalise_query(value):
    return normalise_query(value) if value is not None else None


def normalise_query(value: str) -> str:
    """The FAQ keyword as facts store it: lower case, trimmed, whitespace runs collapsed."""
    return " ".join(value.split()).lower()


def _ensure_sqlite_functions() -> None:
    connection.ensure_connection()
    raw = connection.connection
    if getattr(raw, "_shien_kpis_functions", False):
        return
    raw.create_function("shien_local_date", 3, _sqlite_local_date, deterministic=True)
    raw.create_function("shien_add_seconds", 2, _sqlite_add_seconds, deterministic=True)
    raw.create_function("shien_norm_query", 1, _sqlite_normalise_query, deterministic=True)
    with contextlib.suppress(AttributeError):
        raw._shien_kpis_functions = True


@dataclass(frozen=True)
class Dialect:
    vendor: str
    tz: str

    def day(self, col: str, shift_seconds: int = 0) -> str:
        """SQL of the tenant-local date of ``col`` (+ shift), with the zone inlined as a literal
        (validated by zoneinfo, quoted) so the same text can appear in SELECT and GROUP BY."""
        tz = self.tz.replace("'", "''")
        if self.vendor == "postgresql":
            shifted = f"({col} + interval '{int(shift_seconds)} seconds')" if shift_seconds else col
            return f"(({shifted}) AT TIME ZONE '{tz}')::date"
        return f"shien_local_date({col}, '{tz}', {int(shift_seconds)})"

    def plus(self, col: str, seconds: int) -> str:
        if self.vendor == "postgresql":
            return f"({col} + interval '{int(seconds)} seconds')"
        return f"shien_add_seconds({col}, {int(seconds)})"

    @property
    def fence(self) -> str:
        """Ends a probe of the seen-events set: on PostgreSQL ``OFFSET 0`` keeps it a per-row
        unique-index lookup (the planner would otherwise turn it into an anti-join built from the
        table's statistics, which do not know the rows this transaction just added)."""
        return " OFFSET 0" if self.vendor == "postgresql" else ""

    def lookup_join(self, alias: str, columns: str, on: str) -> str:
        """Joins the events ``alias`` matching ``on`` (which refers to the row before it) as one
        index lookup per row before it. On PostgreSQL a fenced ``LATERAL`` subquery: as a plain
        join, once the statistics knew the batch, the planner hashed the tenant's whole history
        of that verb instead (a cost that grows with the history, not the new events). SQLite
        joins by nested loops over the index anyway (and has no ``LATERAL``)."""
        if self.vendor == "postgresql":
            return f"CROSS JOIN LATERAL (SELECT {columns} FROM {EV} {alias} WHERE {on} OFFSET 0) {alias}"
        return f"JOIN {EV} {alias} ON {on}"

    def previous_join(self, alias: str, columns: str, same) -> str:
        """Joins, per row ``n`` before it, the one event ``same(alias)`` matches that comes last
        before ``n`` in (occurred_at, id) order — the answer a new FAQ answer supersedes. Only that
        one changes status: those before it were superseded by it already. One index
        lookup per row, bounded by the person's answers on that FAQ. On PostgreSQL a ``LATERAL``
        taking the last of those (a fenced subquery: see below); SQLite joins by the id a scalar
        subquery picks."""
        def before(a: str) -> str:
            return (f"{same(a)} AND {a}.occurred_at <= n.occurred_at "
                    f"AND ({a}.occurred_at < n.occurred_at OR {a}.id < n.id)")

        last = "ORDER BY {a}.occurred_at DESC, {a}.id DESC LIMIT 1"
        if self.vendor == "postgresql":
            # the fenced inner query is planned for all of the person's earlier answers on the FAQ
            # (the per-user index), the last one taken after. With ORDER BY … LIMIT 1 in the same
            # query the scan step at 50M events took 5.1 s instead of 3.1 s (bench/vendor.py; the
            # planner free to pick an index for the order rather than for the person)
            return (f"CROSS JOIN LATERAL (SELECT * FROM (SELECT {alias}.id AS last_id, {alias}.occurred_at AS last_at, "
                    f"{columns} FROM {EV} {alias} WHERE {before(alias)} OFFSET 0) {alias} "
                    f"ORDER BY {alias}.last_at DESC, {alias}.last_id DESC LIMIT 1) {alias}")
        inner = f"{alias}_last"
        return (f"JOIN {EV} {alias} ON {alias}.id = (SELECT {inner}.id FROM {EV} {inner} WHERE {before(inner)} "
                f"{last.format(a=inner)})")

    def date_value(self, placeholder: str = "%s") -> str:
        """A date parameter usable in a VALUES list (typed on PostgreSQL)."""
        return f"CAST({placeholder} AS date)" if self.vendor == "postgresql" else placeholder

    def least(self, a: str, b: str) -> str:
        """The smaller non-NULL of two values (NULL only when both are)."""
        if self.vendor == "postgresql":
            return f"LEAST({a}, {b})"
        return f"COALESCE(MIN({a}, {b}), {a}, {b})"

    def greatest(self, a: str, b: str) -> str:
        """The larger non-NULL of two values (NULL only when both are)."""
        if self.vendor == "postgresql":
            return f"GREATEST({a}, {b})"
        return f"COALESCE(MAX({a}, {b}), {a}, {b})"

    def norm_query(self, col: str) -> str:
        if self.vendor == "postgresql":
            return f"lower(btrim(regexp_replace({col}, '[\\s\\u3000]+', ' ', 'g')))"
        return f"shien_norm_query({col})"

    def date_param(self, value: dt.date):
        return connection.ops.adapt_datefield_value(value)

    def ts_param(self, value: dt.datetime):
        return connection.ops.adapt_datetimefield_value(value)


_TZ_NAME = re.compile(r"^[A-Za-z0-9_+\-/]+$")


def _dialect(tenant: Tenant) -> Dialect:
    _zone(tenant.time_zone)  # refuses an unknown zone before it reaches SQL
    if not _TZ_NAME.match(tenant.time_zone):
        raise ValueError(f"Unexpected time zone name {tenant.time_zone!r}")
    vendor = connection.vendor
    if vendor == "sqlite":
        _ensure_sqlite_functions()
    elif vendor != "postgresql":
        raise RuntimeError(f"kpis rollup supports SQLite and PostgreSQL, not {vendor!r}")
    return Dialect(vendor=vendor, tz=tenant.time_zone)


def _in(values) -> str:
    return ", ".join(["%s"] * len(values))


def day_bounds_utc(days: list[dt.date], tz: str) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) in UTC covering the tenant-local days (DST-correct)."""
    zone = _zone(tz)
    first, last = max(min(days), VALID_FROM.date()), min(max(days), VALID_UNTIL.date())
    start = dt.datetime.combine(first, dt.time.min, tzinfo=zone).astimezone(dt.UTC)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=zone).astimezone(dt.UTC)
    return start, end


# --- the windows ------------------------------------------------------------------------------------


@dataclass
class Window:
    """Which facts a run recomputes.

    * ``all_days``: every day and pair of the tenant (first run);
    * ``since``: days >= since and pairs with events on those days (``--since``, the nightly
      recompute), plus the ``days`` and pairs of late events received in ``(lo, hi]``;
    * otherwise ``days`` (explicit) and pairs touched by events received in ``(lo, hi]``.
    """

    all_days: bool = False
    since: dt.date | None = None
    days: list[dt.date] = field(default_factory=list)
    lo: dt.datetime | None = None
    hi: dt.datetime | None = None

    @property
    def empty(self) -> bool:
        return not self.all_days and self.since is None and not self.days

    @property
    def merge(self) -> bool:
        """Incremental run: the states merge the new events instead of being recomputed."""
        return not self.all_days and self.since is None

    @property
    def settled(self) -> dt.datetime | None:
        """The next incremental run starts its window here (``watermark - overlap``): events
        received after it are kept in the seen-events set."""
        return None if self.hi is None else self.hi - overlap()


@dataclass
class RollupStats:
    tenant: str
    mode: str = "incremental"
    days: int = 0
    daily_rows: int = 0
    source_rows: int = 0
    faq_rows: int = 0
    partner_pairs: int = 0
    user_pairs: int = 0
    merged_events: int = 0
    chunks: int = 0
    state_chunks: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    # What the KPI computation must recompute (kpis.scope): the partners and tenant-local days
    # whose facts or states this run changed, or all of them (a full or ``since`` run).
    kpi_touched_partner_ids: set[int] = field(default_factory=set)
    kpi_touched_days: set[dt.date] = field(default_factory=set)
    kpi_touched_all: bool = False

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())


def _same_answer(alias: str) -> str:
    """An answer of the same person on the same FAQ as the new answer ``n``."""
    return (f"{alias}.tenant_id = n.tenant_id AND {alias}.user_id = n.user_id AND {alias}.asset_id = n.asset_id "
            f"AND {alias}.verb = n.verb")


def _touched_days(cursor, d: Dialect, tenant_id: int, lo: dt.datetime | None, hi: dt.datetime) -> list[dt.date]:
    """One query: the tenant-local days touched by events received in (lo, hi]."""
    recv = f"e.tenant_id = %s AND {IN_RANGE}" + " AND e.received_at <= %s" + (" AND e.received_at > %s" if lo else "")
    params = [tenant_id, d.ts_param(hi)] + ([d.ts_param(lo)] if lo else [])
    shift = -int(FAQ_SESSION_WINDOW.total_seconds())
    sql = (
        f"SELECT {d.day('e.occurred_at')} AS d FROM {EV} e WHERE {recv} "
        f"UNION SELECT {d.day('e.occurred_at', shift)} AS d FROM {EV} e WHERE {recv} "
        f"AND e.verb IN ('{Verb.FAQ_VIEWED.value}', '{Verb.FAQ_FEEDBACK.value}')"
    )
    # A new FAQ answer replaces the same person's answer before it: its day is recomputed too.
    recv_n = recv.replace("e.", "n.")
    earlier = d.previous_join("p", "p.occurred_at", _same_answer)
    sql += (
        f" UNION SELECT {d.day('p.occurred_at')} AS d FROM {EV} n {earlier} "
        f"WHERE {recv_n} AND n.verb = '{Verb.FAQ_FEEDBACK.value}'"
    )
    cursor.execute(sql, params + params + params)
    return sorted(_as_date(r[0]) for r in cursor.fetchall() if r[0] is not None)


def _as_date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _contiguous(days: list[dt.date]) -> bool:
    """Sorted, distinct, consecutive days (a chunk of the full recompute is one such run): the
    UTC bounds of the first and last day then select exactly their events, with no per-row test
    of the local day."""
    return bool(days) and all((b - a).days == 1 for a, b in zip(days, days[1:], strict=False))


def _day_filter(d: Dialect, w: Window, *, alias: str = "e", day_col: str | None = None) -> tuple[str, list]:
    """WHERE fragment selecting the window's days, on events (occurred_at) or on facts (day_col)."""
    if w.all_days:
        return "", []
    run = _contiguous(w.days)
    if day_col is not None:
        days_sql, days_params = (f"{day_col} IN ({_in(w.days)})", [d.date_param(x) for x in w.days]) if w.days else ("", [])
        if run:
            days_sql, days_params = f"{day_col} >= %s AND {day_col} <= %s", [d.date_param(w.days[0]), d.date_param(w.days[-1])]
        if w.since is not None:
            since_sql = f"{day_col} >= %s"
            if days_sql:
                return f" AND ({since_sql} OR {days_sql})", [d.date_param(w.since), *days_params]
            return f" AND {since_sql}", [d.date_param(w.since)]
        return f" AND {days_sql}", days_params
    days_sql, days_params = "", []
    if w.days:
        start, end = day_bounds_utc(w.days, d.tz)
        days_sql = f"{alias}.occurred_at >= %s AND {alias}.occurred_at < %s"
        days_params = [d.ts_param(start), d.ts_param(end)]
        if not run:  # the bounds cover exactly the days of a run of consecutive days
            days_sql += f" AND {d.day(alias + '.occurred_at')} IN ({_in(w.days)})"
            days_params += [d.date_param(x) for x in w.days]
    if w.since is not None:
        start, _ = day_bounds_utc([w.since], d.tz)
        if days_sql:
            return f" AND ({alias}.occurred_at >= %s OR ({days_sql}))", [d.ts_param(start), *days_params]
        return f" AND {alias}.occurred_at >= %s", [d.ts_param(start)]
    return f" AND {days_sql}", days_params


def _upto(d: Dialect, w: Window, alias: str = "e") -> tuple[str, list]:
    """Recomputes count the events received up to the run's ``hi`` only: the ones received later
    are merged by the next run (they are not in the seen-events set), so none is counted twice."""
    if w.hi is None:
        return "", []
    return f" AND {alias}.received_at <= %s", [d.ts_param(w.hi)]


def _new_events_filter(d: Dialect, w: Window, tenant_id: int, outer: tuple[str, str], inner: tuple[str, str]) -> tuple[str, list]:
    """``(outer) IN (SELECT inner FROM new events)``: restricts a pair recompute to touched pairs."""
    if w.all_days:
        return "", []
    if w.since is not None:
        start, _ = day_bounds_utc([w.since], d.tz)
        cond, params = "n.occurred_at >= %s", [d.ts_param(start)]
        if w.lo is not None:  # plus the pairs of late events for days before ``since``
            cond = f"({cond} OR (n.received_at > %s AND n.received_at <= %s))"
            params += [d.ts_param(w.lo), d.ts_param(w.hi)]
    else:
        cond = "n.received_at <= %s" + (" AND n.received_at > %s" if w.lo else "")
        params = [d.ts_param(w.hi)] + ([d.ts_param(w.lo)] if w.lo else [])
    return (
        f" AND ({outer[0]}, {outer[1]}) IN (SELECT n.{inner[0]}, n.{inner[1]} FROM {EV} n "
        f"WHERE n.tenant_id = %s AND {cond} AND n.{inner[0]} IS NOT NULL AND n.{inner[1]} IS NOT NULL)",
        [tenant_id, *params],
    )


# --- the statements ---------------------------------------------------------------------------------


def _flagged(d: Dialect, where: str) -> str:
    """The events matching ``where`` (alias ``e``) with their superseded flag, computed once per
    event (see FLAGGED_COLUMNS)."""
    return f"(SELECT {FLAGGED_COLUMNS}, {SUPERSEDED_FLAG_SQL} AS superseded FROM {EV} e WHERE {where}{d.fence}) e"


def _daily(cursor, d: Dialect, tenant_id: int, w: Window) -> int:
    where, params = _day_filter(d, w, day_col="day")
    cursor.execute(f"DELETE FROM {DAILY} WHERE tenant_id = %s{where}", [tenant_id, *params])
    where, params = _day_filter(d, w)
    upto, upto_params = _upto(d, w)
    cursor.execute(
        f"INSERT INTO {DAILY} (tenant_id, day, partner_id, asset_id, verb, event_count, user_count, max_progress, "
        f"negative_count) "
        f"SELECT e.tenant_id, {d.day('e.occurred_at')}, e.partner_id, e.asset_id, e.verb, {COUNTED_SQL} "
        f"FROM {_flagged(d, f'e.tenant_id = %s AND {IN_RANGE}{where}{upto} AND {TRUSTED_SQL}')} "
        f"GROUP BY 1, 2, 3, 4, 5",
        [tenant_id, *params, *upto_params],
    )
    return cursor.rowcount


def _sources(cursor, d: Dialect, tenant_id: int, w: Window) -> int:
    """Daily volumes per source and verb (and those from untrusted API keys), same window as the daily facts."""
    where, params = _day_filter(d, w, day_col="day")
    cursor.execute(f"DELETE FROM {SOURCES} WHERE tenant_id = %s{where}", [tenant_id, *params])
    where, params = _day_filter(d, w)
    upto, upto_params = _upto(d, w)
    cursor.execute(
        f"INSERT INTO {SOURCES} (tenant_id, day, source, verb, event_count, untrusted_count) "
        f"SELECT e.tenant_id, {d.day('e.occurred_at')}, e.source, e.verb, COUNT(*), "
        f"SUM(CASE WHEN e.trusted = FALSE THEN 1 ELSE 0 END) "
        f"FROM {EV} e WHERE e.tenant_id = %s AND {IN_RANGE}{where}{upto} GROUP BY 1, 2, 3, 4",
        [tenant_id, *params, *upto_params],
    )
    return cursor.rowcount


def _faq(cursor, d: Dialect, tenant_id: int, w: Window) -> int:
    where, params = _day_filter(d, w, day_col="day")
    cursor.execute(f"DELETE FROM {FAQ} WHERE tenant_id = %s{where}", [tenant_id, *params])
    where, params = _day_filter(d, w)
    upto, upto_params = _upto(d, w)
    unresolved, unresolved_params = _unresolved_sql(d, "e", w.hi)
    cursor.execute(
        f"INSERT INTO {FAQ} (tenant_id, day, partner_id, query, searches, zero_result_searches, unresolved_searches) "
        f"SELECT e.tenant_id, {d.day('e.occurred_at')}, e.partner_id, {d.norm_query('e.query')}, COUNT(*), "
        f"SUM(CASE WHEN e.result_count = 0 THEN 1 ELSE 0 END), SUM({unresolved}) "
        f"FROM {EV} e WHERE e.tenant_id = %s AND e.verb = %s AND {IN_RANGE}{where}{upto} AND {TRUSTED_SQL} GROUP BY 1, 2, 3, 4",
        [*unresolved_params, tenant_id, Verb.FAQ_SEARCHED.value, *params, *upto_params],
    )
    return cursor.rowcount


def _unresolved_sql(d: Dialect, alias: str, hi: dt.datetime | None, *, without_batch: int | None = None) -> tuple[str, list]:
    """1 when the search ``alias`` is unresolved (see the module docstring), else 0: it found
    nothing, or was made without a user, or no ``faq.viewed`` of the same user followed within the
    window, or a ``faq.feedback`` "no" did. Only events received up to ``hi`` count as follow-ups;
    ``without_batch``: leave out the events of that merge (the status before the run). Each
    follow-up test is one range lookup on ``event_user_verb_time``."""
    window_end = d.plus(f"{alias}.occurred_at", int(FAQ_SESSION_WINDOW.total_seconds()))
    follow = (
        f"SELECT 1 FROM {EV} v WHERE v.tenant_id = {alias}.tenant_id AND v.user_id = {alias}.user_id AND v.verb = %s "
        f"AND v.occurred_at >= {alias}.occurred_at AND v.occurred_at <= {window_end}"
    )
    params: list = []
    if hi is not None:
        follow += " AND v.received_at <= %s"
        params.append(d.ts_param(hi))
    if without_batch is not None:
        follow += (
            f" AND NOT EXISTS (SELECT 1 FROM {MERGED} x WHERE x.tenant_id = v.tenant_id AND x.event_id = v.id "
            f"AND x.batch = %s{d.fence})"
        )
        params.append(without_batch)
    sql = (
        f"CASE WHEN {alias}.result_count = 0 OR {alias}.user_id IS NULL OR NOT EXISTS ({follow}) "
        f"OR EXISTS ({follow} AND v.resolved = %s) THEN 1 ELSE 0 END"
    )
    return sql, [Verb.FAQ_VIEWED.value, *params, Verb.FAQ_FEEDBACK.value, *params, False]


def _partner_states(cursor, d: Dialect, tenant_id: int, w: Window, m: Merge | None = None) -> int:
    if w.merge:
        return _merge_partner_states(cursor, d, tenant_id, m)
    pair = ("partner_id", "asset_id")
    where, params = _new_events_filter(d, w, tenant_id, pair, pair)
    cursor.execute(f"DELETE FROM {PAS} WHERE tenant_id = %s{where}", [tenant_id, *params])
    where, params = _new_events_filter(d, w, tenant_id, ("e.partner_id", "e.asset_id"), pair)
    upto, upto_params = _upto(d, w)
    cursor.execute(
        f"INSERT INTO {PAS} (tenant_id, partner_id, asset_id, first_activity_at, last_activity_at, first_completed_at, "
        f"completed_users, active_users, max_progress) "
        f"SELECT e.tenant_id, e.partner_id, e.asset_id, MIN(e.occurred_at), MAX(e.occurred_at), "
        f"MIN(CASE WHEN {COMPLETION_SQL} THEN e.occurred_at END), "
        f"COUNT(DISTINCT CASE WHEN {COMPLETION_SQL} THEN e.user_id END), COUNT(DISTINCT e.user_id), MAX({PROGRESS_SQL}) "
        f"FROM {EV} e JOIN {ASSET} a ON a.id = e.asset_id "
        f"WHERE e.tenant_id = %s AND e.asset_id IS NOT NULL AND {IN_RANGE}{where}{upto} GROUP BY 1, 2, 3",
        [tenant_id, *params, *upto_params],
    )
    return cursor.rowcount


def _user_states(cursor, d: Dialect, tenant_id: int, w: Window, m: Merge | None = None) -> int:
    if w.merge:
        return _merge_user_states(cursor, d, tenant_id, m)
    pair = ("user_id", "asset_id")
    where, params = _new_events_filter(d, w, tenant_id, pair, pair)
    cursor.execute(f"DELETE FROM {UAS} WHERE tenant_id = %s{where}", [tenant_id, *params])
    where, params = _new_events_filter(d, w, tenant_id, ("e.user_id", "e.asset_id"), pair)
    upto, upto_params = _upto(d, w)
    cursor.execute(_user_states_insert(f" AND {IN_RANGE}{where}{upto}"), [tenant_id, *params, *upto_params])
    return cursor.rowcount


def _user_states_insert(where: str) -> str:
    """``INSERT … SELECT … GROUP BY`` of the user states of the events matching ``where`` (appended
    after the tenant condition, whose parameter comes first): the one definition of a user state
    that a window recompute and the full rebuild's user chunks share. The rows are inserted in the
    order of the unique key (``ORDER BY``), so its index grows page by page instead of taking each
    row at a random place (a 120,855-row chunk at 440k events: 7.9–11.0 s against 10.3–17.4 s in
    hash order, three alternating runs each, most of it index maintenance)."""
    progress = f"MAX({PROGRESS_SQL})"
    return (
        f"INSERT INTO {UAS} (tenant_id, user_id, partner_id, asset_id, first_activity_at, last_activity_at, "
        f"first_completed_at, watched_share, max_progress, seconds) "
        f"SELECT e.tenant_id, e.user_id, e.partner_id, e.asset_id, MIN(e.occurred_at), MAX(e.occurred_at), "
        f"MIN(CASE WHEN {COMPLETION_SQL} THEN e.occurred_at END), "
        f"{_share(progress)}, {progress}, COALESCE(SUM(e.seconds), 0) "
        f"FROM {EV} e JOIN {ASSET} a ON a.id = e.asset_id "
        f"WHERE e.tenant_id = %s AND e.asset_id IS NOT NULL AND e.user_id IS NOT NULL{where} "
        f"GROUP BY e.tenant_id, e.user_id, e.partner_id, e.asset_id ORDER BY e.tenant_id, e.user_id, e.partner_id, e.asset_id"
    )


def _partner_states_from_users_insert(users_where: str, events_where: str) -> str:
    """``INSERT … SELECT … GROUP BY`` of the partner states from the user states matching
    ``users_where`` (alias ``x``) and the events without a user matching ``events_where`` (alias
    ``e``): a pair's users are its user states (per partner); events without a user count in its
    first/last activity, first completion and max progress only. Parameters: the tenant (three
    times: the inserted rows, the user states, the events), each followed by its fragment's."""
    return (
        f"INSERT INTO {PAS} (tenant_id, partner_id, asset_id, first_activity_at, last_activity_at, first_completed_at, "
        f"completed_users, active_users, max_progress) "
        f"SELECT %s, s.partner_id, s.asset_id, MIN(s.fa), MAX(s.la), MIN(s.fc), SUM(s.cu), SUM(s.au), MAX(s.mp) FROM ("
        f"SELECT x.partner_id, x.asset_id, MIN(x.first_activity_at) AS fa, MAX(x.last_activity_at) AS la, "
        f"MIN(x.first_completed_at) AS fc, COUNT(x.first_completed_at) AS cu, COUNT(*) AS au, MAX(x.max_progress) AS mp "
        f"FROM {UAS} x WHERE x.tenant_id = %s{users_where} GROUP BY x.partner_id, x.asset_id "
        f"UNION ALL SELECT e.partner_id, e.asset_id, MIN(e.occurred_at), MAX(e.occurred_at), "
        f"MIN(CASE WHEN {COMPLETION_SQL} THEN e.occurred_at END), 0, 0, MAX({PROGRESS_SQL}) "
        f"FROM {EV} e JOIN {ASSET} a ON a.id = e.asset_id "
        f"WHERE e.tenant_id = %s AND e.asset_id IS NOT NULL AND e.user_id IS NULL{events_where} "
        f"GROUP BY e.partner_id, e.asset_id"
        f") s GROUP BY s.partner_id, s.asset_id ORDER BY s.partner_id, s.asset_id"  # in unique-key order: see _user_states_insert
    )


def _share(progress: str) -> str:
    return f"CASE WHEN {progress} IS NULL THEN 0 WHEN {progress} >= 100 THEN 1.0 ELSE {progress} / 100.0 END"


def _new_events(d: Dialect, new: str, extra: str = "") -> str:
    """The run's new events with an asset (``new``: ``_new_sql``; the tenant's parameter comes
    first) as a fenced subquery ``e``, read once (the window of ``received_at``) before the asset
    join. Unfenced, PostgreSQL planned the state merges from the assets: one probe of every
    month partition per asset and, in the partition of the new events, every event of the asset
    read by ``asset_id`` and filtered by ``received_at`` — a cost that grows with the month's
    events, not the new ones (``EXPLAIN ANALYZE`` at a 1M-event history: 200 loops, 78,000
    buffers for 10,800 new rows)."""
    return (
        f"(SELECT e.* FROM {EV} e WHERE e.tenant_id = %s AND e.asset_id IS NOT NULL{extra} AND {IN_RANGE} "
        f"AND {new}{d.fence}) e"
    )


def _merge_user_states(cursor, d: Dialect, tenant_id: int, m: Merge) -> int:
    """Incremental: aggregate ONLY the run's new events (``_new_sql``: received in the window and
    recorded in the seen-events set by this run) per (user, partner, asset) and merge them into
    the stored rows (``INSERT … ON CONFLICT DO UPDATE``): LEAST/GREATEST for first/last
    activity, first completion and max progress; ``seconds`` adds up. Events seen again in the
    overlap are not new (the set holds them), so they are neither read nor added again: the cost
    follows the new events, and every event is added exactly once (a killed run rolls back its
    seen-set rows with these upserts)."""
    new, new_params = _new_sql(d, m)
    progress = f"MAX({PROGRESS_SQL})"
    merged = d.greatest(f"{UAS}.max_progress", "excluded.max_progress")
    cursor.execute(
        f"INSERT INTO {UAS} (tenant_id, user_id, partner_id, asset_id, first_activity_at, last_activity_at, "
        f"first_completed_at, watched_share, max_progress, seconds) "
        f"SELECT e.tenant_id, e.user_id, e.partner_id, e.asset_id, MIN(e.occurred_at), MAX(e.occurred_at), "
        f"MIN(CASE WHEN {COMPLETION_SQL} THEN e.occurred_at END), "
        f"{_share(progress)}, {progress}, COALESCE(SUM(e.seconds), 0) "
        f"FROM {_new_events(d, new, ' AND e.user_id IS NOT NULL')} JOIN {ASSET} a ON a.id = e.asset_id "
        f"GROUP BY e.tenant_id, e.user_id, e.partner_id, e.asset_id "
        f"ON CONFLICT (tenant_id, user_id, partner_id, asset_id) DO UPDATE SET "
        f"first_activity_at = {d.least(f'{UAS}.first_activity_at', 'excluded.first_activity_at')}, "
        f"last_activity_at = {d.greatest(f'{UAS}.last_activity_at', 'excluded.last_activity_at')}, "
        f"first_completed_at = {d.least(f'{UAS}.first_completed_at', 'excluded.first_completed_at')}, "
        f"max_progress = {merged}, watched_share = {_share(merged)}, "
        f"seconds = {UAS}.seconds + excluded.seconds",
        [tenant_id, *new_params],
    )
    return cursor.rowcount


def _merge_partner_states(cursor, d: Dialect, tenant_id: int, m: Merge) -> int:
    """Incremental: aggregate ONLY the run's new events per (partner, asset) and merge them
    (LEAST/GREATEST); ``completed_users`` / ``active_users`` are counted from the
    ``UserAssetState`` rows of the touched pairs (merged just before; user states are per
    partner), an index lookup bounded by the pair's users, not its events — one lookup per pair
    for both counts on PostgreSQL (a ``LATERAL`` aggregate; two scalar subqueries read the pair's
    users twice), two on SQLite, which has no ``LATERAL``."""
    new, new_params = _new_sql(d, m)
    pair_users = f"FROM {UAS} x WHERE x.tenant_id = n.tenant_id AND x.partner_id = n.partner_id AND x.asset_id = n.asset_id"
    if d.vendor == "postgresql":
        counts = "u.completed, u.active"
        users_join = (f"CROSS JOIN LATERAL (SELECT COUNT(x.first_completed_at) AS completed, COUNT(*) AS active "
                      f"{pair_users}) u ")
    else:
        counts = f"(SELECT COUNT(x.first_completed_at) {pair_users}), (SELECT COUNT(*) {pair_users})"
        users_join = ""
    cursor.execute(
        f"INSERT INTO {PAS} (tenant_id, partner_id, asset_id, first_activity_at, last_activity_at, first_completed_at, "
        f"completed_users, active_users, max_progress) "
        f"SELECT n.tenant_id, n.partner_id, n.asset_id, n.fa, n.la, n.fc, {counts}, n.mp FROM ("
        f"SELECT e.tenant_id, e.partner_id, e.asset_id, MIN(e.occurred_at) AS fa, MAX(e.occurred_at) AS la, "
        f"MIN(CASE WHEN {COMPLETION_SQL} THEN e.occurred_at END) AS fc, MAX({PROGRESS_SQL}) AS mp "
        f"FROM {_new_events(d, new)} JOIN {ASSET} a ON a.id = e.asset_id "
        f"GROUP BY e.tenant_id, e.partner_id, e.asset_id) n "
        f"{users_join}"
        f"WHERE true "
        f"ON CONFLICT (tenant_id, partner_id, asset_id) DO UPDATE SET "
        f"first_activity_at = {d.least(f'{PAS}.first_activity_at', 'excluded.first_activity_at')}, "
        f"last_activity_at = {d.greatest(f'{PAS}.last_activity_at', 'excluded.last_activity_at')}, "
        f"first_completed_at = {d.least(f'{PAS}.first_completed_at', 'excluded.first_completed_at')}, "
        f"max_progress = {d.greatest(f'{PAS}.max_progress', 'excluded.max_progress')}, "
        f"completed_users = excluded.completed_users, active_users = excluded.active_users",
        [tenant_id, *new_params],
    )
    return cursor.rowcount


# --- merging the new events into the facts -------------------------------------------------------


@dataclass(frozen=True)
class Merge:
    """An incremental run's new events: received in ``(lo, hi]`` and recorded as this run's
    ``batch`` in ``MergedEvent`` (the seen-events set). Only days on or after ``floor`` (archived
    before) and before ``since`` (those days are recomputed whole in this run) take the merge."""

    batch: int
    lo: dt.datetime
    hi: dt.datetime
    floor: dt.date | None = None
    since: dt.date | None = None


def _new_sql(d: Dialect, m: Merge, alias: str = "e") -> tuple[str, list]:
    """The run's new events: the window scanned through ``event_tenant_received``, each probed
    in the (small) seen-events set. The probe is fenced (``Dialect.fence``) like every other
    probe of the set: unfenced, PostgreSQL turned it into a semi-join planned from the set's
    stale statistics (estimated 1 row) — a nested loop that re-scanned the whole window once per
    row of the set, quadratic in the batch (2,000 searches + 2,000 views: 4,000 set rows × 5,000
    window events, 26 s for the FAQ insert alone, ``EXPLAIN ANALYZE`` on a 250k-event history)."""
    return (
        f"{alias}.received_at > %s AND {alias}.received_at <= %s AND EXISTS (SELECT 1 FROM {MERGED} x "
        f"WHERE x.tenant_id = {alias}.tenant_id AND x.event_id = {alias}.id AND x.batch = %s{d.fence})",
        [d.ts_param(m.lo), d.ts_param(m.hi), m.batch],
    )


def _not_new_sql(d: Dialect, m: Merge, alias: str) -> tuple[str, list]:
    return (
        f"NOT EXISTS (SELECT 1 FROM {MERGED} y WHERE y.tenant_id = {alias}.tenant_id AND y.event_id = {alias}.id "
        f"AND y.batch = %s{d.fence})",
        [m.batch],
    )


def _merge_days_sql(d: Dialect, m: Merge, alias: str = "e") -> tuple[str, list]:
    sql, params = "", []
    if m.floor is not None:
        sql += f" AND {alias}.occurred_at >= %s"
        params.append(d.ts_param(day_bounds_utc([m.floor], d.tz)[0]))
    if m.since is not None:
        sql += f" AND {alias}.occurred_at < %s"
        params.append(d.ts_param(day_bounds_utc([m.since], d.tz)[0]))
    return sql, params


def _in_range(alias: str) -> str:
    return IN_RANGE.replace("e.occurred_at", f"{alias}.occurred_at")


def _mark_new(cursor, d: Dialect, tenant_id: int, m: Merge) -> int:
    """Record the window's events not merged yet as this run's batch. Same transaction as the
    upserts that count them: a killed run leaves neither, its redelivery does both once.

    Events already in the set (seen again in the overlap) are skipped by the set's own unique
    index (``ON CONFLICT DO NOTHING``: one index check per window event, whatever the planner
    thinks of the set), never by a probe the planner may turn into a scan. A fenced ``NOT
    EXISTS`` probe (still used by the chunks of a full recompute) is planned from the set's size
    when the statement starts; when that set was nearly empty (after a full recompute, or any
    quiet spell), PostgreSQL probed it with a sequential scan per window event, and the scan
    read every row this statement had inserted so far: quadratic in the batch (20,000 new events
    after a full recompute on a 60,000-event history: 20,001 scans, 1.68M buffer reads, 10.9 s
    under ``EXPLAIN ANALYZE``, against 0.4 s when the set held 20,000 rows at planning)."""
    cursor.execute(
        f"INSERT INTO {MERGED} (tenant_id, event_id, received_at, batch) "
        f"SELECT e.tenant_id, e.id, e.received_at, %s FROM {EV} e "
        f"WHERE e.tenant_id = %s AND {IN_RANGE} AND e.received_at > %s AND e.received_at <= %s "
        f"ON CONFLICT (tenant_id, event_id) DO NOTHING",
        [m.batch, tenant_id, d.ts_param(m.lo), d.ts_param(m.hi)],
    )
    return cursor.rowcount


def _prune_merged(cursor, d: Dialect, tenant_id: int, settled: dt.datetime) -> None:
    """Events received up to the settled boundary are never looked at again by an incremental run."""
    cursor.execute(f"DELETE FROM {MERGED} WHERE tenant_id = %s AND received_at <= %s", [tenant_id, d.ts_param(settled)])


def _merge_daily(cursor, d: Dialect, tenant_id: int, m: Merge) -> int:
    """Add the new events to their days' facts (``INSERT … ON CONFLICT DO UPDATE``): counts and
    sums add, ``max_progress`` takes the greater. ``user_count`` grows by the new events' users
    who have no earlier merged event on the same key and day — one range lookup per new event on
    ``event_user_verb_time`` (the log itself keeps distinct users mergeable). FAQ answers are
    not merged here (a later answer supersedes an earlier one): ``_merge_feedback``."""
    new, new_params = _new_sql(d, m)
    days, days_params = _merge_days_sql(d, m)
    not_new, not_new_params = _not_new_sql(d, m, "o")
    older = (
        f"SELECT 1 FROM {EV} o WHERE o.tenant_id = e.tenant_id AND o.user_id = e.user_id AND o.verb = e.verb "
        f"AND o.occurred_at >= {d.plus('e.occurred_at', -2 * 86400)} AND o.occurred_at <= {d.plus('e.occurred_at', 2 * 86400)} "
        f"AND {d.day('o.occurred_at')} = {d.day('e.occurred_at')} AND o.partner_id = e.partner_id "
        f"AND (o.asset_id = e.asset_id OR (o.asset_id IS NULL AND e.asset_id IS NULL)) "
        f"AND o.received_at <= %s AND {trusted_sql(trusted='o.trusted')} AND {not_new}"
    )
    rows = 0
    for has_asset, target in (
        (True, "(tenant_id, day, partner_id, asset_id, verb) WHERE asset_id IS NOT NULL"),
        (False, "(tenant_id, day, partner_id, verb) WHERE asset_id IS NULL"),
    ):
        cursor.execute(
            f"INSERT INTO {DAILY} (tenant_id, day, partner_id, asset_id, verb, event_count, user_count, max_progress, "
            f"negative_count) "
            f"SELECT e.tenant_id, {d.day('e.occurred_at')}, e.partner_id, e.asset_id, e.verb, COUNT(*), "
            f"COUNT(DISTINCT CASE WHEN e.user_id IS NOT NULL AND NOT EXISTS ({older}) THEN e.user_id END), "
            f"MAX(e.progress), SUM(CASE WHEN e.resolved IS NOT NULL AND NOT e.resolved THEN 1 ELSE 0 END) "
            f"FROM {EV} e WHERE e.tenant_id = %s AND {IN_RANGE} AND {new}{days} "
            f"AND e.asset_id IS {'NOT ' if has_asset else ''}NULL AND e.verb <> %s AND {TRUSTED_SQL} "
            f"GROUP BY 1, 2, 3, 4, 5 "
            f"ON CONFLICT {target} DO UPDATE SET "
            f"event_count = {DAILY}.event_count + excluded.event_count, "
            f"user_count = {DAILY}.user_count + excluded.user_count, "
            f"max_progress = {d.greatest(f'{DAILY}.max_progress', 'excluded.max_progress')}, "
            f"negative_count = {DAILY}.negative_count + excluded.negative_count",
            [d.ts_param(m.hi), *not_new_params, tenant_id, *new_params, *days_params, Verb.FAQ_FEEDBACK.value],
        )
        rows += cursor.rowcount
    return rows


FEEDBACK_KEYS_PER_STATEMENT = 200


def _merge_feedback(cursor, d: Dialect, tenant_id: int, m: Merge) -> int:
    """FAQ answers: one per person per FAQ, the latest. A new answer may supersede an earlier one
    (on another day), so the ``faq.feedback`` facts of the keys (day, partner, FAQ) holding the
    new answers or the answers just before them (the same person, the same FAQ: the one each new
    answer supersedes) are recomputed from the log — those keys only, not their days."""
    new, new_params = _new_sql(d, m, "n")
    new_p, new_p_params = _new_sql(d, m, "p")
    days, days_params = _merge_days_sql(d, m, "p")
    feedback = Verb.FAQ_FEEDBACK.value
    cursor.execute(
        f"SELECT {d.day('p.occurred_at')}, p.partner_id, p.asset_id FROM {EV} p "
        f"WHERE p.tenant_id = %s AND p.verb = %s AND p.asset_id IS NOT NULL AND {_in_range('p')}{days} AND "
        f"{new_p} "
        f"UNION SELECT {d.day('p.occurred_at')}, p.partner_id, p.asset_id FROM {EV} n "
        f"{d.previous_join('p', 'p.occurred_at, p.partner_id, p.asset_id, p.received_at', _same_answer)} "
        f"WHERE n.tenant_id = %s AND n.verb = %s AND n.user_id IS NOT NULL AND {new} "
        f"AND p.received_at <= %s AND {_in_range('p')}{days}",
        [tenant_id, feedback, *days_params, *new_p_params, tenant_id, feedback, *new_params, d.ts_param(m.hi), *days_params],
    )
    keys = sorted({(_as_date(day), partner, asset) for day, partner, asset in cursor.fetchall()})
    rows = 0
    for i in range(0, len(keys), FEEDBACK_KEYS_PER_STATEMENT):
        part = keys[i : i + FEEDBACK_KEYS_PER_STATEMENT]
        values = ", ".join([f"({d.date_value()}, %s, %s)"] * len(part))
        key_params = [x for day, partner, asset in part for x in (d.date_param(day), partner, asset)]
        cursor.execute(
            f"DELETE FROM {DAILY} WHERE tenant_id = %s AND verb = %s AND asset_id IS NOT NULL "
            f"AND (day, partner_id, asset_id) IN (VALUES {values})",
            [tenant_id, feedback, *key_params],
        )
        start, end = day_bounds_utc([k[0] for k in part], d.tz)
        pairs = sorted({(partner, asset) for _, partner, asset in part})
        pair_values = ", ".join(["(%s, %s)"] * len(pairs))
        where = (
            f"e.tenant_id = %s AND e.verb = %s AND {IN_RANGE} AND e.occurred_at >= %s AND e.occurred_at < %s "
            f"AND e.received_at <= %s AND (e.partner_id, e.asset_id) IN (VALUES {pair_values}) "
            f"AND ({d.day('e.occurred_at')}, e.partner_id, e.asset_id) IN (VALUES {values}) AND {TRUSTED_SQL}"
        )
        cursor.execute(
            f"INSERT INTO {DAILY} (tenant_id, day, partner_id, asset_id, verb, event_count, user_count, max_progress, "
            f"negative_count) "
            f"SELECT e.tenant_id, {d.day('e.occurred_at')}, e.partner_id, e.asset_id, e.verb, {COUNTED_SQL} "
            f"FROM {_flagged(d, where)} GROUP BY 1, 2, 3, 4, 5",
            [tenant_id, feedback, d.ts_param(start), d.ts_param(end), d.ts_param(m.hi),
             *[x for pair in pairs for x in pair], *key_params],
        )
        rows += cursor.rowcount
    return rows


def _merge_sources(cursor, d: Dialect, tenant_id: int, m: Merge) -> int:
    new, new_params = _new_sql(d, m)
    days, days_params = _merge_days_sql(d, m)
    cursor.execute(
        f"INSERT INTO {SOURCES} (tenant_id, day, source, verb, event_count, untrusted_count) "
        f"SELECT e.tenant_id, {d.day('e.occurred_at')}, e.source, e.verb, COUNT(*), "
        f"SUM(CASE WHEN e.trusted = FALSE THEN 1 ELSE 0 END) "
        f"FROM {EV} e WHERE e.tenant_id = %s AND {IN_RANGE} AND {new}{days} GROUP BY 1, 2, 3, 4 "
        f"ON CONFLICT (tenant_id, day, source, verb) DO UPDATE SET "
        f"event_count = {SOURCES}.event_count + excluded.event_count, "
        f"untrusted_count = {SOURCES}.untrusted_count + excluded.untrusted_count",
        [tenant_id, *new_params, *days_params],
    )
    return cursor.rowcount


def _merge_faq(cursor, d: Dialect, tenant_id: int, m: Merge) -> int:
    """New searches add to their keys (searches, zero-result, unresolved as of ``hi``); an
    already merged search that a new ``faq.viewed`` / ``faq.feedback`` of the same user follows
    within the window is judged again: unresolved changes by (status with the new events) −
    (status without them). Every test is a range lookup per search or per new event, so the step
    is linear in the new searches and follow-ups, whatever the history or the day's size."""
    searched = Verb.FAQ_SEARCHED.value
    new, new_params = _new_sql(d, m)
    days, days_params = _merge_days_sql(d, m)
    now_e, now_e_params = _unresolved_sql(d, "e", m.hi)
    cursor.execute(
        f"INSERT INTO {FAQ} (tenant_id, day, partner_id, query, searches, zero_result_searches, unresolved_searches) "
        f"SELECT e.tenant_id, {d.day('e.occurred_at')}, e.partner_id, {d.norm_query('e.query')}, COUNT(*), "
        f"SUM(CASE WHEN e.result_count = 0 THEN 1 ELSE 0 END), SUM({now_e}) "
        f"FROM {EV} e WHERE e.tenant_id = %s AND e.verb = %s AND {IN_RANGE} AND {new}{days} AND {TRUSTED_SQL} "
        f"GROUP BY 1, 2, 3, 4 "
        f"ON CONFLICT (tenant_id, day, partner_id, query) DO UPDATE SET "
        f"searches = {FAQ}.searches + excluded.searches, "
        f"zero_result_searches = {FAQ}.zero_result_searches + excluded.zero_result_searches, "
        f"unresolved_searches = {FAQ}.unresolved_searches + excluded.unresolved_searches",
        [*now_e_params, tenant_id, searched, *new_params, *days_params],
    )
    rows = cursor.rowcount
    # earlier searches followed by a new view or answer: the change of their status
    new_n, new_n_params = _new_sql(d, m, "n")
    days_s, days_s_params = _merge_days_sql(d, m, "s2")
    not_new, not_new_params = _not_new_sql(d, m, "s2")
    now_s, now_s_params = _unresolved_sql(d, "s", m.hi)
    before_s, before_s_params = _unresolved_sql(d, "s", m.hi, without_batch=m.batch)
    window = int(FAQ_SESSION_WINDOW.total_seconds())
    # one range lookup on ``event_user_verb_time`` per new view or answer (never a join planned
    # over the history's searches)
    earlier = d.lookup_join(
        "s2", "s2.id, s2.tenant_id, s2.user_id, s2.partner_id, s2.occurred_at, s2.query, s2.result_count",
        f"s2.tenant_id = n.tenant_id AND s2.user_id = n.user_id AND s2.verb = %s "
        f"AND s2.occurred_at >= {d.plus('n.occurred_at', -window)} AND s2.occurred_at <= n.occurred_at "
        f"AND s2.received_at <= %s AND {_in_range('s2')}{days_s} AND {trusted_sql(trusted='s2.trusted')} AND {not_new}",
    )
    cursor.execute(
        f"UPDATE {FAQ} SET unresolved_searches = {FAQ}.unresolved_searches + r.delta FROM ("
        f"SELECT s.tenant_id AS t, {d.day('s.occurred_at')} AS dd, s.partner_id AS p, {d.norm_query('s.query')} AS q, "
        f"SUM(({now_s}) - ({before_s})) AS delta FROM ("
        f"SELECT DISTINCT s2.id, s2.tenant_id, s2.user_id, s2.partner_id, s2.occurred_at, s2.query, s2.result_count "
        f"FROM {EV} n {earlier} "
        f"WHERE n.tenant_id = %s AND n.verb IN (%s, %s) AND n.user_id IS NOT NULL AND {new_n}"
        f") s GROUP BY 1, 2, 3, 4) r "
        f"WHERE r.delta <> 0 AND {FAQ}.tenant_id = r.t AND {FAQ}.day = r.dd AND {FAQ}.partner_id = r.p AND {FAQ}.query = r.q",
        [*now_s_params, *before_s_params, searched, d.ts_param(m.hi), *days_s_params, *not_new_params,
         tenant_id, Verb.FAQ_VIEWED.value, Verb.FAQ_FEEDBACK.value, *new_n_params],
    )
    return rows + cursor.rowcount


# --- the entry point ---------------------------------------------------------------------------------


def _within_retention(w: Window, floor: dt.date | None, state: RollupState, stats: RollupStats) -> tuple[Window, Window]:
    """Retention (``enablement.services.retention``) archived every day before ``floor``: their
    facts stay as they are (the log no longer holds their events), so no window reaches before
    it — a full recompute starts at ``floor`` — and states, which summarise the whole history,
    merge the run's new events instead of being recomputed from what is left of the log.
    Returns the window for the facts and the one for the states."""
    if floor is None or w.empty:
        return w, w
    lo = None if state.watermark is None else state.watermark - overlap()
    if w.all_days or w.since is not None:
        facts = Window(since=max(w.since or floor, floor), days=[x for x in w.days if x >= floor], lo=w.lo, hi=w.hi)
        stats.mode = f"{stats.mode} from {facts.since.isoformat()} (archived before)"
    else:
        facts = Window(days=[x for x in w.days if x >= floor], lo=w.lo, hi=w.hi)
    if lo is None:  # no watermark (derived tables were reset): states from the retained log
        return facts, Window(all_days=True, hi=w.hi)
    return facts, Window(days=facts.days, lo=lo, hi=w.hi)


def _newest_and_now(cursor, d: Dialect, tenant_id: int) -> tuple[dt.datetime | None, dt.datetime]:
    """The newest ``received_at`` of the tenant and the database's clock, in one statement."""
    now_sql = "statement_timestamp()" if d.vendor == "postgresql" else "strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now')"
    cursor.execute(f"SELECT MAX(e.received_at), {now_sql} FROM {EV} e WHERE e.tenant_id = %s", [tenant_id])
    newest, now = cursor.fetchone()
    if d.vendor == "sqlite":
        newest, now = _parse_sqlite_ts(newest), _parse_sqlite_ts(now)
    return newest, now


def rollup_tenant(tenant: Tenant, *, since: dt.date | None = None, full: bool = False, progress=None) -> RollupStats:
    """Roll the tenant's new events into the facts (see the module docstring). Idempotent.

    ``since``: recompute every day from that tenant-local date on (and the pairs with events on
    those days), whatever the watermark. ``full``: recompute everything, in chunks of days, each
    committed (``_rebuild``); a full recompute also starts by itself when the tenant has no
    watermark yet, and an interrupted one is resumed by the next run.
    ``progress(step: str)`` is called before each step (for the management command).
    Must run inside the tenant's scope. Returns per-step timings and row counts.

    The run holds the tenant's lease (``kpis.runs.rollup_lease``: ``running`` → ``idle`` /
    ``failed``, recorded outside the transaction) and, inside each of its transactions, the
    tenant's lock: a concurrent run of the same tenant waits, then rolls up what is left.
    """
    stats = RollupStats(tenant=tenant.slug)
    with rollup_lease(tenant):
        _rebuild(tenant, stats, full=full, progress=progress)
        with transaction.atomic():
            tenant_lock(tenant.pk)
            with _run_settings():
                state = RollupState.objects.get(tenant=tenant)
                _run(tenant, state, stats, since=since, progress=progress)
    return stats


# The incremental run's sorts (GROUP BY of the new events per pair, ON CONFLICT in key order) spilled
# to disk under PostgreSQL's default 4 MB (``external merge``, ≈ 10 MB a sort with 137k new events at a
# 50M-event history, bench/vendor.py --explain); the run is one per tenant at a time.
RUN_WORK_MEM = "64MB"


@contextlib.contextmanager
def _run_settings():
    """PostgreSQL settings of the incremental run's transaction, put back as they were when it ends,
    so a caller's enclosing transaction (a test, a command running the rollup inside its own) keeps
    its own afterwards.

    No JIT compilation: the run's statements read the new events only, but the planner's cost
    estimates grow with the history's statistics and cross ``jit_above_cost``: then every statement
    is compiled first, a fixed cost that does not pay off for a few thousand rows (``EXPLAIN
    ANALYZE`` of the user-state merge at a 1M-event history: JIT 2.3 s of 4.4 s; a statement past
    ``jit_optimize_above_cost`` too, the bench's history generator, compiled 2.8 s of 4.9 s; at a
    250k history the scan and FAQ steps compiled 0.2–0.5 s per statement, 1.6 s for the FAQ update,
    where the same events on an empty tenant compiled nothing). ``work_mem``: ``RUN_WORK_MEM``."""
    if connection.vendor != "postgresql":
        yield
        return
    settings_ = {"jit": "off", "work_mem": RUN_WORK_MEM}
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('jit'), current_setting('work_mem')")
        before = dict(zip(settings_, cursor.fetchone(), strict=True))
        for name, value in settings_.items():
            cursor.execute("SELECT set_config(%s, %s, true)", [name, value])
    yield
    with connection.cursor() as cursor:  # not reached on an error: that transaction is rolled back anyway
        for name, value in before.items():
            cursor.execute(f"SELECT set_config('{name}', %s, true)", [value])


def _timed(stats: RollupStats, name: str, started: float) -> None:
    stats.seconds[name] = stats.seconds.get(name, 0.0) + time.perf_counter() - started


def _run(tenant: Tenant, state: RollupState, stats: RollupStats, *, since, progress) -> None:
    """The incremental run (one transaction): the window's new events are recorded in the
    seen-events set and merged into the facts and states; ``since`` days are recomputed."""
    d = _dialect(tenant)
    step = progress or (lambda name: None)
    step("scan")
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        newest, db_now = _newest_and_now(cursor, d, tenant.pk)
        hi = min(newest, db_now) if newest is not None else None
        if hi is None or state.watermark is None or state.watermark > db_now:
            w = Window()  # no events at all, or a full recompute is due (``_rebuild`` did it, or a concurrent run)
        elif since is not None:
            lo = state.watermark - overlap()
            late = [x for x in _touched_days(cursor, d, tenant.pk, lo, hi) if x < since]
            w = Window(since=since, days=late, lo=lo, hi=hi)
            stats.mode = f"since {since.isoformat()}"
        else:
            lo = state.watermark - overlap()
            w = Window(days=_touched_days(cursor, d, tenant.pk, lo, hi), lo=lo, hi=hi)
        _kpi_touched(cursor, d, tenant.pk, w, state, stats)
        floor = archived_before(tenant)
        w, states_w = _within_retention(w, floor, state, stats)
        stats.days += len(w.days)
        _timed(stats, "scan", t0)
        batch = state.merge_batch
        if not w.empty:
            batch += 1
            m = Merge(batch=batch, lo=w.lo, hi=hi, floor=floor, since=w.since)
            steps = []
            if w.since is not None:  # the recent days, whole (the nightly recompute)
                whole = Window(since=w.since, hi=hi)
                steps += [
                    ("daily facts", lambda c, f=func: f(c, d, tenant.pk, whole), attr)
                    for func, attr in ((_daily, "daily_rows"), (_sources, "source_rows"), (_faq, "faq_rows"))
                ]
            steps += [
                ("new events", lambda c: _mark_new(c, d, tenant.pk, m), "merged_events"),
                ("daily facts", lambda c: _merge_daily(c, d, tenant.pk, m), "daily_rows"),
                ("daily facts", lambda c: _merge_feedback(c, d, tenant.pk, m), "daily_rows"),
                ("source facts", lambda c: _merge_sources(c, d, tenant.pk, m), "source_rows"),
                ("FAQ search facts", lambda c: _merge_faq(c, d, tenant.pk, m), "faq_rows"),
                ("user states", lambda c: _user_states(c, d, tenant.pk, states_w, m), "user_pairs"),
                ("partner states", lambda c: _partner_states(c, d, tenant.pk, states_w, m), "partner_pairs"),
            ]
            for name, func, attr in steps:
                step(name)
                t = time.perf_counter()
                setattr(stats, attr, getattr(stats, attr) + func(cursor))
                _timed(stats, name, t)
            _prune_merged(cursor, d, tenant.pk, hi - overlap())
    new_watermark = max(filter(None, [state.watermark, hi]), default=None) if state.watermark else state.watermark
    RollupState.objects.filter(pk=state.pk).update(watermark=new_watermark, merge_batch=batch, finished_at=Now())
    _kpi_touched_record(d, tenant.pk, new_watermark, stats)


# --- what the KPI computation must recompute ----------------------------------------------------------


def _kpi_touched(cursor, d: Dialect, tenant_id: int, w: Window, state: RollupState, stats: RollupStats) -> None:
    """Report the partners and days whose facts or states the run changes (``stats.kpi_touched_*``).

    New events: those received after the previous watermark — or, when a writer committed late
    into the overlap (the number of events received in ``(lo, watermark]`` grew since the previous
    run counted them, ``RollupState.overlap_events``), all of ``(lo, hi]``. Events seen again in
    the overlap change no fact, so a run with no new events touches nothing.
    Days: ``_touched_days`` of those events (their days, the days of the FAQ searches they may
    resolve and of the answers they replace). Partners: those of the events, of the FAQ
    searches of the same users in the 30 minutes before a new FAQ view or answer, and of the
    answer each new one replaces (a user may have moved partner in between).
    """
    if w.empty:
        return
    if w.all_days or w.since is not None:
        stats.kpi_touched_all = True
        return
    lo = w.lo
    if (
        lo is not None and state.watermark is not None and state.overlap_events is not None
        and _received_between(cursor, d, tenant_id, lo, state.watermark) == state.overlap_events
    ):
        lo = state.watermark
    days = w.days if lo == w.lo else _touched_days(cursor, d, tenant_id, lo, w.hi)
    if not days:
        return
    in_range = IN_RANGE.replace("e.occurred_at", "n.occurred_at")  # out-of-range times touch no fact
    recv = f"n.tenant_id = %s AND {in_range} AND n.received_at <= %s" + (" AND n.received_at > %s" if lo else "")
    params = [tenant_id, d.ts_param(w.hi)] + ([d.ts_param(lo)] if lo else [])
    since = d.plus("n.occurred_at", -int(FAQ_SESSION_WINDOW.total_seconds()))
    searches = d.lookup_join(
        "s", "s.partner_id", f"s.tenant_id = n.tenant_id AND s.user_id = n.user_id "
        f"AND s.verb = '{Verb.FAQ_SEARCHED.value}' AND s.occurred_at >= {since} AND s.occurred_at <= n.occurred_at",
    )
    answers = d.previous_join("p", "p.partner_id", _same_answer)
    cursor.execute(
        f"SELECT n.partner_id FROM {EV} n WHERE {recv} "
        f"UNION SELECT s.partner_id FROM {EV} n {searches} "
        f"WHERE {recv} AND n.verb IN ('{Verb.FAQ_VIEWED.value}', '{Verb.FAQ_FEEDBACK.value}') "
        f"UNION SELECT p.partner_id FROM {EV} n {answers} "
        f"WHERE {recv} AND n.verb = '{Verb.FAQ_FEEDBACK.value}'",
        params * 3,
    )
    stats.kpi_touched_partner_ids = {r[0] for r in cursor.fetchall() if r[0] is not None}
    stats.kpi_touched_days = set(days)


def _received_between(cursor, d: Dialect, tenant_id: int, lo: dt.datetime, hi: dt.datetime) -> int:
    cursor.execute(
        f"SELECT COUNT(*) FROM {EV} e WHERE e.tenant_id = %s AND e.received_at > %s AND e.received_at <= %s",
        [tenant_id, d.ts_param(lo), d.ts_param(hi)],
    )
    return cursor.fetchone()[0]


def _kpi_touched_record(d: Dialect, tenant_id: int, watermark: dt.datetime | None, stats: RollupStats) -> None:
    """Inside the run's transaction: count the overlap for the next run and record what this run
    touched (``kpis.scope``), durable even when the KPI computation fails or is killed after COMMIT."""
    count = None
    if watermark is not None:
        with connection.cursor() as cursor:
            count = _received_between(cursor, d, tenant_id, watermark - overlap(), watermark)
    RollupState.objects.filter(tenant_id=tenant_id).update(overlap_events=count)
    record_rollup_touched(tenant_id, stats)


# --- the full recompute, in chunks ----------------------------------------------------------------


def state_chunk_rows() -> int:
    """Rows per transaction of a full recompute's states: events per chunk of users, user states
    per chunk of partners (each chunk commits; a killed run resumes)."""
    return max(1, int(getattr(settings, "KPIS_ROLLUP_STATE_CHUNK_ROWS", 200_000)))


def _rebuild(tenant: Tenant, stats: RollupStats, *, full: bool, progress) -> None:
    """A full recompute in bounded chunks, each its own committed transaction with the position
    reached recorded in ``RollupState``, so no transaction grows with the history and a killed
    run is resumed where it stopped (by any later run of the tenant). Runs when asked (``full``),
    when the tenant has no watermark yet, or when its watermark is ahead of the database's clock
    (written by an older version that trusted the web nodes' clocks).

    Every chunk counts the events received up to ``rebuild_hi`` (fixed when the recompute
    starts). First the states, set-based (one ``INSERT … SELECT … GROUP BY`` per chunk):
    ``UserAssetState`` by ranges of user ids (``rebuild_phase`` 'users', ``rebuild_after`` the
    last id done), then ``PartnerAssetState`` by ranges of partner ids, from the user states and
    the events without a user ('partners'). Then the facts, ``chunk_days()`` tenant-local days
    per chunk (``rebuild_next``): DELETE + ``INSERT … SELECT … GROUP BY``, and the chunk's events
    received after ``rebuild_hi - overlap`` go into the seen-events set. The last chunk sets the
    watermark to ``rebuild_hi``; later events are merged by the incremental run that follows."""
    d = _dialect(tenant)
    step = progress or (lambda name: None)
    while True:
        with transaction.atomic():
            tenant_lock(tenant.pk)
            state = RollupState.objects.get(tenant=tenant)
            with connection.cursor() as cursor:
                if state.rebuild_hi is None and (
                    stats.chunks or stats.state_chunks or not _start_rebuild(cursor, d, tenant, state, stats, full=full)
                ):
                    return
                if not stats.mode.startswith("full"):
                    stats.mode = "full (resumed)"
                if state.rebuild_phase:
                    done = _rebuild_states_chunk(cursor, d, tenant, state, stats, step)
                else:
                    done = _rebuild_chunk(cursor, d, tenant, state, stats, step)
            committing = time.perf_counter()
        _timed(stats, "commit", committing)
        if done:
            return


def _start_rebuild(cursor, d: Dialect, tenant: Tenant, state: RollupState, stats: RollupStats, *, full: bool) -> bool:
    t0 = time.perf_counter()
    newest, db_now = _newest_and_now(cursor, d, tenant.pk)
    if not (full or state.watermark is None or state.watermark > db_now) or newest is None:
        return False
    hi = min(newest, db_now)
    floor = archived_before(tenant)
    stats.mode = "full" if floor is None else f"full from {floor.isoformat()} (archived before)"
    cursor.execute(f"SELECT MIN(e.occurred_at), MAX(e.occurred_at) FROM {EV} e WHERE e.tenant_id = %s AND {IN_RANGE}", [tenant.pk])
    first_at, last_at = cursor.fetchone()
    if d.vendor == "sqlite":
        first_at, last_at = _parse_sqlite_ts(first_at), _parse_sqlite_ts(last_at)
    zone = _zone(d.tz)
    first = None if first_at is None else first_at.astimezone(zone).date()
    last = None if last_at is None else last_at.astimezone(zone).date()
    if first is not None and floor is not None:
        first = max(first, floor)
    keep_states = floor is not None and state.watermark is not None  # states summarise archived days too
    empty = first is None or last is None or first > last
    for table in (DAILY, SOURCES, FAQ):  # facts of days the chunks do not reach
        outside = "" if empty else " AND (day < %s OR day > %s)"
        params = [] if empty else [d.date_param(first), d.date_param(last)]
        if floor is not None:
            outside += " AND day >= %s"
            params.append(d.date_param(floor))
        cursor.execute(f"DELETE FROM {table} WHERE tenant_id = %s{outside}", [tenant.pk, *params])
    batch = state.merge_batch
    if keep_states:
        # archived days: the states are kept; the events received since the last run are merged
        # into them now (the seen-events set says which are new), and the set keeps what the run
        # after the recompute can still see
        batch += 1
        m = Merge(batch=batch, lo=state.watermark - overlap(), hi=hi)
        for name, func, attr in (("new events", _mark_new, "merged_events"), ("user states", _merge_user_states, "user_pairs"),
                                 ("partner states", _merge_partner_states, "partner_pairs")):
            t = time.perf_counter()
            setattr(stats, attr, getattr(stats, attr) + func(cursor, d, tenant.pk, m))
            _timed(stats, name, t)
        _prune_merged(cursor, d, tenant.pk, hi - overlap())
    else:
        cursor.execute(f"DELETE FROM {MERGED} WHERE tenant_id = %s", [tenant.pk])
        cursor.execute(f"DELETE FROM {PAS} WHERE tenant_id = %s", [tenant.pk])
        cursor.execute(f"DELETE FROM {UAS} WHERE tenant_id = %s", [tenant.pk])
    state.rebuild_hi, state.rebuild_next, state.rebuild_last = hi, first, last
    state.rebuild_states = not keep_states
    state.rebuild_phase = "" if keep_states or empty else "users"
    state.rebuild_after = None
    state.merge_batch = batch
    RollupState.objects.filter(pk=state.pk).update(
        rebuild_hi=hi, rebuild_next=first, rebuild_last=last, rebuild_states=state.rebuild_states,
        rebuild_phase=state.rebuild_phase, rebuild_after=None, merge_batch=batch,
    )
    _timed(stats, "scan", t0)
    return True


def _rebuild_states_chunk(cursor, d: Dialect, tenant: Tenant, state: RollupState, stats: RollupStats, step) -> bool:
    """One chunk of the states of ``_rebuild`` (inside its transaction): the user states of the
    next ``state_chunk_rows()`` events by user id, or the partner states of the next as many user
    states by partner id. Plain ``INSERT … SELECT … GROUP BY`` (the states were cleared at the
    start; a killed chunk leaves nothing). Returns False (the days follow)."""
    users = state.rebuild_phase == "users"
    col, table = ("user_id", EV) if users else ("partner_id", UAS)
    after = state.rebuild_after
    name = "user states" if users else "partner states"
    step(name)
    t = time.perf_counter()
    bound = f" AND {col} > %s" if after is not None else ""
    cursor.execute(
        f"SELECT {col} FROM {table} WHERE tenant_id = %s AND {col} IS NOT NULL{bound} ORDER BY {col} LIMIT 1 OFFSET %s",
        [tenant.pk, *([after] if after is not None else []), state_chunk_rows()],
    )
    row = cursor.fetchone()
    upper = None if row is None else row[0]
    # the same events the day chunks count: days [rebuild_next, rebuild_last], received up to rebuild_hi
    start, end = day_bounds_utc([state.rebuild_next, state.rebuild_last], d.tz)
    events = f"{IN_RANGE} AND e.occurred_at >= %s AND e.occurred_at < %s AND e.received_at <= %s"
    events_params = [d.ts_param(start), d.ts_param(end), d.ts_param(state.rebuild_hi)]
    ids, ids_params = "", []
    if after is not None:
        ids, ids_params = ids + " AND {a}.{c} > %s", [*ids_params, after]
    if upper is not None:
        ids, ids_params = ids + " AND {a}.{c} <= %s", [*ids_params, upper]
    if users:
        cursor.execute(
            _user_states_insert(f"{ids.format(a='e', c='user_id')} AND {events}"),
            [tenant.pk, *ids_params, *events_params],
        )
        stats.user_pairs += cursor.rowcount
    else:
        # a pair's users are its user states (per partner); events without a user count in its
        # first/last activity, first completion and max progress only
        cursor.execute(
            _partner_states_from_users_insert(ids.format(a="x", c="partner_id"), f"{ids.format(a='e', c='partner_id')} AND {events}"),
            [tenant.pk, tenant.pk, *ids_params, tenant.pk, *ids_params, *events_params],
        )
        stats.partner_pairs += cursor.rowcount
    _timed(stats, name, t)
    stats.state_chunks += 1
    stats.kpi_touched_all = True
    if upper is not None:
        phase, after = state.rebuild_phase, upper
    else:
        phase, after = ("partners" if users else ""), None
    RollupState.objects.filter(pk=state.pk).update(rebuild_phase=phase, rebuild_after=after)
    return False


def _rebuild_chunk(cursor, d: Dialect, tenant: Tenant, state: RollupState, stats: RollupStats, step) -> bool:
    """One chunk of days of ``_rebuild`` (inside its transaction). Returns True after the last one."""
    hi = state.rebuild_hi
    days: list[dt.date] = []
    if state.rebuild_next is not None and state.rebuild_last is not None:
        end = min(state.rebuild_next + dt.timedelta(days=chunk_days() - 1), state.rebuild_last)
        days = [state.rebuild_next + dt.timedelta(days=i) for i in range((end - state.rebuild_next).days + 1)]
    if days:
        facts = Window(days=days, hi=hi)
        work = [
            ("daily facts", lambda: _daily(cursor, d, tenant.pk, facts), "daily_rows"),
            ("source facts", lambda: _sources(cursor, d, tenant.pk, facts), "source_rows"),
            ("FAQ search facts", lambda: _faq(cursor, d, tenant.pk, facts), "faq_rows"),
            ("new events", lambda: _mark_chunk(cursor, d, tenant.pk, facts), "merged_events"),
        ]
        for name, func, attr in work:
            step(name)
            t = time.perf_counter()
            setattr(stats, attr, getattr(stats, attr) + func())
            _timed(stats, name, t)
        stats.days += len(days)
        stats.chunks += 1
        stats.kpi_touched_all = True  # a recompute may change any period's figures (kpis.scope)
    if days and days[-1] < state.rebuild_last:
        RollupState.objects.filter(pk=state.pk).update(rebuild_next=days[-1] + dt.timedelta(days=1))
        return False
    RollupState.objects.filter(pk=state.pk).update(
        watermark=hi, rebuild_hi=None, rebuild_next=None, rebuild_last=None, rebuild_states=False,
        rebuild_phase="", rebuild_after=None, finished_at=Now(),
    )
    stats.kpi_touched_all = True
    record_rollup_touched(tenant.pk, stats)  # with the last chunk: durable even if what follows is killed
    return True


def _mark_chunk(cursor, d: Dialect, tenant_id: int, w: Window) -> int:
    """The chunk's events received after ``hi - overlap`` (counted by this chunk) go into the
    seen-events set, so the incremental run after the recompute, whose window starts there, does
    not count them again (in the facts or the states). Events already there (merged into the
    kept states when the recompute started) stay as they are."""
    where, params = _day_filter(d, w)
    cursor.execute(
        f"INSERT INTO {MERGED} (tenant_id, event_id, received_at, batch) "
        f"SELECT e.tenant_id, e.id, e.received_at, 0 FROM {EV} e WHERE e.tenant_id = %s AND {IN_RANGE}{where} "
        f"AND e.received_at > %s AND e.received_at <= %s "
        f"AND NOT EXISTS (SELECT 1 FROM {MERGED} x WHERE x.tenant_id = e.tenant_id AND x.event_id = e.id)",
        [tenant_id, *params, d.ts_param(w.settled), d.ts_param(w.hi)],
    )
    return cursor.rowcount
