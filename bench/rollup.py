"""Rollup benchmark (``make bench``; not part of the test suite). PostgreSQL only.

Generates a history of BENCH_EVENTS (default 1,000,000) events for one tenant plus one heavy day
(HEAVY_DAY_EVENTS, default 100,000) set-based (INSERT … SELECT generate_series), then prints
ratios measured in the same run, every time a wall time with COMMIT included:

(a) the full rollup (chunked, each chunk committed; daily, source and FAQ facts and the states)
    ÷ two plain hand-written references, each in one transaction, unchunked: the narrow one, one
    ``INSERT … SELECT … GROUP BY`` of the daily facts (superseded FAQ answers left out: fewer rows
    than the rollup writes), and the like-with-like one, one ``INSERT … SELECT … GROUP BY`` per
    table the recompute writes (daily, source and FAQ facts, user and partner states) giving the
    same rows — the script checks it, table by table, with ``EXCEPT`` both ways;
(b) the incremental rollup of 20,000 new events on the history ÷ the same on an empty tenant;
(c) 500 late events on the heavy day ÷ 500 late events on a day without events (each run after one
    of 500 events, so both re-read as many events in the overlap);
(d) the FAQ step for 500, 2,000 and 8,000 new searches (+ as many views): time per search.

The database is BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/shien_bench_rollup),
dropped and re-created on every run (the log is append-only, so this is how it is emptied). The
script refuses to run when DATABASE_URL is set, so it never points at a database it did not create;
``--drop`` drops its database and exits.

BENCH_PARTS (default ``abcd``) picks the measurements (the history and its full rollup are always
built; without ``a`` the hand-written reference is skipped), BENCH_FAQ_SEARCHES the (d) sizes
(``500,2000,8000``), BENCH_EXPLAIN (e.g. ``FAQ search facts,scan``) prints ``EXPLAIN (ANALYZE,
BUFFERS)`` of those steps' statements in (d) (diagnosis only: the times then include EXPLAIN).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
if os.environ.get("DATABASE_URL"):
    raise SystemExit("bench/rollup.py drops and re-creates its database: unset DATABASE_URL, use BENCH_DATABASE_URL")
BENCH_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/shien_bench_rollup")
if not urlparse(BENCH_URL).path.lstrip("/").startswith("shien_bench"):
    raise SystemExit("BENCH_DATABASE_URL must name a database starting with shien_bench")
os.environ["DATABASE_URL"] = BENCH_URL
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prm.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

HISTORY_EVENTS = int(os.environ.get("BENCH_EVENTS", 1_000_000))
HEAVY_DAY_EVENTS = int(os.environ.get("BENCH_HEAVY_DAY_EVENTS", 100_000))
HISTORY_DAYS = 180
HEAVY_DAY = 100
NEW_EVENTS = 20_000
LATE_EVENTS = 500
FAQ_SEARCHES = tuple(int(x) for x in os.environ.get("BENCH_FAQ_SEARCHES", "500,2000,8000").split(","))
# BENCH_PARTS: which measurements to run (default all, "abcd"). The history and its full rollup are
# always built (every part needs them); leaving "a" out skips only the hand-written reference.
PARTS = os.environ.get("BENCH_PARTS", "abcd")
# BENCH_EXPLAIN="FAQ search facts,scan": in (d), print EXPLAIN (ANALYZE, BUFFERS) of those steps' statements
EXPLAIN = tuple(x for x in os.environ.get("BENCH_EXPLAIN", "").split(",") if x)
PARTNERS = 1_000
USERS_PER_PARTNER = 3
ASSETS = 200
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _admin_and_name():
    url = urlparse(BENCH_URL)
    return url._replace(path="/postgres").geturl(), url.path.lstrip("/")


def recreate_database(*, create: bool = True) -> None:
    import psycopg

    admin, name = _admin_and_name()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')


def timed_rollup(tenant, explain: tuple[str, ...] = (), **kw):
    """``explain``: steps whose statements run as ``EXPLAIN (ANALYZE, BUFFERS)`` instead (the
    plans are printed; the statements still execute, but the step's row counts and time are
    then those of EXPLAIN; a SELECT runs twice) — for diagnosis, never in a timed comparison."""
    from django.db import connection
    from django_scopes import scope

    from kpis.rollup import rollup_tenant

    current = {"step": ""}

    def explained(execute, sql, params, many, context):
        if current["step"] not in explain or many or not sql.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE")):
            return execute(sql, params, many, context)
        result = execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params, many, context)
        print(f"--- {current['step']}: EXPLAIN (ANALYZE, BUFFERS) {sql[:160]}…")
        print("\n".join(row[0] for row in context["cursor"].fetchall()), flush=True)
        # a SELECT is run again for its rows; INSERT/UPDATE/DELETE ran once, under EXPLAIN ANALYZE
        return execute(sql, params, many, context) if sql.lstrip().upper().startswith("SELECT") else result

    with scope(tenant=tenant.pk), connection.execute_wrapper(explained):
        t = time.perf_counter()
        # commits its own transactions: COMMIT is inside the timer
        stats = rollup_tenant(tenant, progress=lambda name: current.update(step=name), **kw)
        return time.perf_counter() - t, stats


def steps(stats) -> str:
    return ", ".join(f"{k} {v:.3f}s" for k, v in stats.seconds.items())


def main() -> None:
    if "--drop" in sys.argv:
        recreate_database(create=False)
        print("dropped")
        return
    recreate_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django_scopes import scope

    if connection.vendor != "postgresql":
        raise SystemExit("bench/rollup.py needs PostgreSQL")
    print("migrating…", flush=True)
    call_command("migrate", verbosity=0)

    from kpis.models import RollupState
    from partners.models import Tenant

    big = Tenant.objects.create(name="Bench history", slug="bench-history", time_zone="Asia/Tokyo")
    empty = Tenant.objects.create(name="Bench empty", slug="bench-empty", time_zone="Asia/Tokyo")
    for tenant in (big, empty):
        dimensions(connection, tenant.pk)

    t = time.perf_counter()
    generate(connection, big.pk, HISTORY_EVENTS, START, HISTORY_DAYS, "h")
    heavy_start = START + dt.timedelta(days=HEAVY_DAY)
    generate(connection, big.pk, HEAVY_DAY_EVENTS, heavy_start, 1, "heavy")
    total = HISTORY_EVENTS + HEAVY_DAY_EVENTS
    print(f"generated {total:,} history events in {time.perf_counter() - t:.1f}s", flush=True)
    with connection.cursor() as c:
        c.execute("ANALYZE")

    # (a) chunked full rollup vs plain hand-written INSERT … SELECT … GROUP BY statements --------------
    # Every side starts on empty, vacuumed derived tables (the tenant's rows deleted, then VACUUM),
    # so none pays for another's dead rows. Order: narrow reference, like-with-like reference, rollup.
    hand, hand_rows, wide, wide_rows = float("nan"), 0, float("nan"), {}
    if "a" in PARTS:
        clear_derived(connection, big)
        hand = handwritten_daily(connection, big)
        hand_rows = table_rows(connection, big)["daily"]
        clear_derived(connection, big)
        load_ref = os.getloadavg()
        wide = handwritten_all(connection, big)
        wide_rows = table_rows(connection, big)
        keep_reference(connection, big)
        clear_derived(connection, big)
    load_before = os.getloadavg()
    full, stats = timed_rollup(big, full=True)
    load_after = os.getloadavg()
    rows = table_rows(connection, big)
    print(f"\n(a) full rollup of {total:,} events, {stats.state_chunks} chunks of states + {stats.chunks} chunks of days, "
          f"each committed: {full:.2f}s (load average before/after {_load(load_before)} / {_load(load_after)})")
    print(f"    narrow reference, one INSERT … SELECT … GROUP BY of the daily facts: {hand:.2f}s "
          f"({hand_rows:,} rows; the rollup writes {rows['daily']:,}) → ratio {full / hand:.2f} (goal <= 1.5)")
    if "a" in PARTS:
        same = compare_reference(connection, big)
        print(f"    like-with-like reference, one INSERT … SELECT … GROUP BY per table, one transaction: {wide:.2f}s "
              f"(load average before {_load(load_ref)}) → ratio {full / wide:.2f} (goal <= 1.5)")
        for table, n in rows.items():
            print(f"      {table}: rollup {n:,} rows, reference {wide_rows[table]:,} rows, "
                  f"rows in one and not the other: {same[table]:,}")
        if any(same.values()) or rows != wide_rows:
            print("    !! the like-with-like reference does not give the rollup's rows: its ratio is void", flush=True)
    print(f"    daily-facts statements alone (COMMITs not included): {stats.seconds.get('daily facts', 0):.2f}s "
          f"= {stats.seconds.get('daily facts', 0) / hand:.2f} × the narrow reference")
    print("    steps: " + steps(stats), flush=True)

    # (b) 20k new events on the history vs on an empty tenant ---------------------------------------------
    history_end = START + dt.timedelta(days=HISTORY_DAYS)
    if "b" in PARTS:
        with scope(tenant=empty.pk):  # the empty tenant has rolled up before (nothing): same incremental path
            RollupState.objects.update_or_create(tenant=empty, defaults={"watermark": history_end})
        for tenant in (big, empty):
            generate(connection, tenant.pk, NEW_EVENTS, history_end + dt.timedelta(hours=1), 1, "n",
                     received=history_end + dt.timedelta(days=1))
        with connection.cursor() as c:
            c.execute("ANALYZE")
        tb, sb = timed_rollup(big)
        te, se = timed_rollup(empty)
        print(f"\n(b) incremental rollup of {NEW_EVENTS:,} new events: on {total:,} history {tb:.3f}s vs empty tenant "
              f"{te:.3f}s → ratio {tb / te:.2f} (goal <= 1.5)")
        print("    history steps: " + steps(sb))
        print("    empty steps:   " + steps(se), flush=True)

    # (c) 500 late events on the heavy day vs on a day without events ---------------------------------------
    if "c" in PARTS:
        # Every run looks again at the events received in the overlap before its watermark (the facts
        # and states skip them: they are in the seen-events set). The generated batches are each received
        # at one instant, so the first run after (b) would find all 20,000 of (b)'s events there: an
        # untimed run of 500 events on an ordinary day first, so both timed runs find 500 events there.
        generate(connection, big.pk, LATE_EVENTS, START + dt.timedelta(days=50, hours=3), 1 / 24, "ll",
                 received=history_end + dt.timedelta(days=1, hours=12))
        timed_rollup(big)
        generate(connection, big.pk, LATE_EVENTS, heavy_start + dt.timedelta(hours=3), 1 / 24, "lh",
                 received=history_end + dt.timedelta(days=2))
        th, sh = timed_rollup(big)
        fresh = START - dt.timedelta(days=10)
        generate(connection, big.pk, LATE_EVENTS, fresh + dt.timedelta(hours=3), 1 / 24, "lf",
                 received=history_end + dt.timedelta(days=3))
        tf, sf = timed_rollup(big)
        print(f"\n(c) {LATE_EVENTS} late events: on a day of {HEAVY_DAY_EVENTS + HISTORY_EVENTS // HISTORY_DAYS:,} events "
              f"{th:.3f}s vs on a day without events {tf:.3f}s → ratio {th / tf:.2f} (goal <= 1.5)")
        print("    heavy day steps: " + steps(sh))
        print("    fresh day steps: " + steps(sf), flush=True)

    # (d) the FAQ step in new searches ---------------------------------------------------------------------
    if "d" not in PARTS:
        return
    print("\n(d) FAQ step (new searches + as many views of the same users, on the history):")
    # Each run re-reads the events received in the overlap before its watermark, i.e. the whole
    # batch before it (received at one instant): an untimed batch of the smallest size first, so
    # the first timed run does not re-read (b)'s 20,000 events.
    generate(connection, big.pk, 2 * FAQ_SEARCHES[0], history_end + dt.timedelta(days=2), 1, "qw",
             received=history_end + dt.timedelta(days=3, hours=12), mix="faq")
    timed_rollup(big)
    per = []
    for i, searches in enumerate(FAQ_SEARCHES):
        generate(connection, big.pk, 2 * searches, history_end + dt.timedelta(days=3 + i), 1, f"q{i}",
                 received=history_end + dt.timedelta(days=4 + i), mix="faq")
        seconds, stats = timed_rollup(big, explain=EXPLAIN)
        faq = stats.seconds.get("FAQ search facts", 0.0)
        per.append(faq / searches)
        print(f"    {searches:>6,} searches: FAQ step {faq:.3f}s ({1e6 * faq / searches:.0f} µs per search), "
              f"whole run {seconds:.3f}s", flush=True)
        print("      steps: " + steps(stats), flush=True)
    print(f"    µs per search, largest ÷ smallest batch: {per[-1] / per[0]:.2f} (linear: ≈ 1)")


def dimensions(connection, tenant_id: int) -> None:
    """Partners, users (with memberships), tiers and assets, set-based."""
    with connection.cursor() as c:
        c.execute(
            "INSERT INTO partners_partnertier (tenant_id, name, rank) SELECT %s, 'Tier ' || g, g FROM generate_series(1, 3) g",
            [tenant_id],
        )
        c.execute(
            "INSERT INTO partners_partner (tenant_id, name, name_kana, external_id, segment, region, status, joined_on, "
            "cohort_override, created_at, tier_id) "
            "SELECT %s, 'Partner ' || g, '', '', 'SMB', 'Kanto', 'active', DATE '2025-06-01' + (g %% 200), '', now(), "
            "(SELECT id FROM partners_partnertier WHERE tenant_id = %s ORDER BY rank LIMIT 1 OFFSET g %% 3) "
            "FROM generate_series(1, %s) g",
            [tenant_id, tenant_id, PARTNERS],
        )
        c.execute(
            "INSERT INTO partners_user (password, is_superuser, email, name, language, is_staff, is_active, date_joined) "
            "SELECT '!', false, 'b' || %s || '-' || g || '@bench.example', 'U' || g, '', false, true, now() "
            "FROM generate_series(1, %s) g",
            [tenant_id, PARTNERS * USERS_PER_PARTNER],
        )
        c.execute(
            "INSERT INTO enablement_asset (tenant_id, kind, title, description, body, language, category, tags, status, "
            "external_id, video_file, video_url, duration_seconds, completion_threshold, completion_requires, created_at, "
            "updated_at, published_at) "
            "SELECT %s, (ARRAY['training', 'document', 'faq'])[1 + g %% 3], 'Asset ' || g, '', '', 'ja', '', '', 'published', "
            "'', '', '', 600, 90, 'view', now(), now(), now() FROM generate_series(1, %s) g",
            [tenant_id, ASSETS],
        )


def generate(connection, tenant_id: int, n: int, start: dt.datetime, days: float, prefix: str,
             received_delay: str = "30 seconds", received: dt.datetime | None = None, mix: str = "all") -> None:
    """n events spread evenly over ``days`` days from ``start``, set-based. ``received``: every
    event received then (a later batch); ``mix="faq"``: searches and FAQ views only."""
    span = days * 86400
    recv = "%(received)s::timestamptz" if received else f"g.at + interval '{received_delay}'"
    if mix == "faq":
        verb = "CASE WHEN g.i %% 2 = 0 THEN 'faq.searched' ELSE 'faq.viewed' END"
        search = "g.i %% 2 = 0"
    else:
        verb = ("CASE WHEN g.i %% 10 = 0 THEN 'portal.login' WHEN g.i %% 50 = 1 THEN 'faq.searched' "
                "WHEN s.kind = 'training' THEN (ARRAY['training.started', 'training.progressed', "
                "'training.progressed', 'training.completed'])[1 + g.i %% 4] "
                "WHEN s.kind = 'document' THEN (ARRAY['document.viewed', 'document.downloaded'])[1 + g.i %% 2] "
                "ELSE (ARRAY['faq.viewed', 'faq.feedback'])[1 + g.i %% 2] END")
        search = "g.i %% 50 = 1"
    no_asset = "g.i %% 2 = 0" if mix == "faq" else "g.i %% 10 = 0 OR g.i %% 50 = 1"
    feedback = "FALSE" if mix == "faq" else "g.i %% 10 <> 0 AND g.i %% 50 <> 1 AND s.kind = 'faq' AND g.i %% 2 = 1"
    with connection.cursor() as c:
        c.execute(
            f"""
            WITH p AS (SELECT row_number() OVER (ORDER BY id) - 1 AS n, id FROM partners_partner WHERE tenant_id = %(t)s),
                 u AS (SELECT row_number() OVER (ORDER BY id) - 1 AS n, id FROM partners_user
                       WHERE email LIKE 'b' || %(t)s || '-%%'),
                 s AS (SELECT row_number() OVER (ORDER BY id) - 1 AS n, id, kind FROM enablement_asset WHERE tenant_id = %(t)s),
                 g AS (SELECT i, abs(hashint8(i)) %% {PARTNERS} AS pi, abs(hashint8(i + 1000000007)) %% {ASSETS} AS ai,
                              %(start)s::timestamptz + (i::float8 * %(span)s / %(n)s) * interval '1 second' AS at
                       FROM generate_series(1::bigint, %(n)s::bigint) i)
            INSERT INTO enablement_activityevent (tenant_id, partner_id, user_id, actor_ref, asset_id, verb, occurred_at,
                received_at, progress, seconds, position, played_segments, query, result_count, resolved, source,
                event_id, session_key, extra)
            SELECT %(t)s, p.id, u.id, '',
                CASE WHEN {no_asset} THEN NULL ELSE s.id END,
                {verb},
                g.at, {recv},
                CASE WHEN s.kind = 'training' THEN (g.i %% 101)::float8 END,
                CASE WHEN s.kind = 'training' THEN (g.i %% 300)::float8 END,
                NULL, NULL,
                CASE WHEN {search} THEN (ARRAY['vpn', 'VPN setup', '料金 プラン', 'api key'])[1 + g.i %% 4] ELSE '' END,
                CASE WHEN {search} THEN g.i %% 3 END,
                CASE WHEN {feedback} THEN g.i %% 4 > 0 END,
                'import', %(prefix)s || g.i, '', '{{}}'::jsonb
            FROM g JOIN p ON p.n = g.pi JOIN u ON u.n = g.pi * {USERS_PER_PARTNER} + g.i %% {USERS_PER_PARTNER}
            JOIN s ON s.n = g.ai
            """,
            {"t": tenant_id, "start": start, "span": span, "n": n, "prefix": f"{prefix}{start:%Y%m%d}-",
             "received": received},
        )


def _load(avg) -> str:
    return "/".join(f"{x:.1f}" for x in avg)


# The tables a full recompute writes, for the tenant: name → (table, the columns compared).
DERIVED = {
    "daily": ("kpis_dailyactivityfact", "day, partner_id, asset_id, verb, event_count, user_count, max_progress, negative_count"),
    "source": ("kpis_dailysourcefact", "day, source, verb, event_count, untrusted_count"),
    "faq": ("kpis_faqsearchfact", "day, partner_id, query, searches, zero_result_searches, unresolved_searches"),
    "user states": ("kpis_userassetstate", "user_id, partner_id, asset_id, first_activity_at, last_activity_at, "
                    "first_completed_at, watched_share, max_progress, seconds"),
    "partner states": ("kpis_partnerassetstate", "partner_id, asset_id, first_activity_at, last_activity_at, "
                       "first_completed_at, completed_users, active_users, max_progress"),
}


def clear_derived(connection, tenant) -> None:
    """Untimed: delete the tenant's derived rows (and rollup state), then VACUUM the tables, so the
    next side inserts into tables as empty as the first one found."""
    from django.db import transaction

    with transaction.atomic(), connection.cursor() as c:
        for table, _ in DERIVED.values():
            c.execute(f"DELETE FROM {table} WHERE tenant_id = %s", [tenant.pk])
        c.execute("DELETE FROM kpis_mergedevent WHERE tenant_id = %s", [tenant.pk])
        c.execute("DELETE FROM kpis_rollupstate WHERE tenant_id = %s", [tenant.pk])
    with connection.cursor() as c:  # autocommit: VACUUM cannot run in a transaction
        for table, _ in DERIVED.values():
            c.execute(f"VACUUM ANALYZE {table}")
        c.execute("VACUUM ANALYZE kpis_mergedevent")


def table_rows(connection, tenant) -> dict[str, int]:
    with connection.cursor() as c:
        counts = {}
        for name, (table, _) in DERIVED.items():
            c.execute(f"SELECT COUNT(*) FROM {table} WHERE tenant_id = %s", [tenant.pk])
            counts[name] = c.fetchone()[0]
    return counts


def keep_reference(connection, tenant) -> None:
    """Untimed: copy the reference's rows to session-local tables, to compare with the rollup's."""
    with connection.cursor() as c:
        for i, (table, columns) in enumerate(DERIVED.values()):
            c.execute(f"DROP TABLE IF EXISTS bench_ref_{i}")
            c.execute(f"CREATE TEMP TABLE bench_ref_{i} AS SELECT {columns} FROM {table} WHERE tenant_id = %s", [tenant.pk])


def compare_reference(connection, tenant) -> dict[str, int]:
    """Rows in the rollup's tables and not in the reference's, plus the other way round (multisets)."""
    out = {}
    with connection.cursor() as c:
        for i, (name, (table, columns)) in enumerate(DERIVED.items()):
            mine = f"SELECT {columns} FROM {table} WHERE tenant_id = %s"
            c.execute(
                f"SELECT (SELECT COUNT(*) FROM ({mine} EXCEPT ALL SELECT * FROM bench_ref_{i}) a) "
                f"+ (SELECT COUNT(*) FROM (SELECT * FROM bench_ref_{i} EXCEPT ALL {mine}) b)",
                [tenant.pk, tenant.pk],
            )
            out[name] = c.fetchone()[0]
    return out


def handwritten_daily(connection, tenant) -> float:
    """The narrow reference: one plain ``INSERT … SELECT … GROUP BY`` of the daily facts (same
    columns and filters as the rollup, superseded FAQ answers left out — so their keys get no row),
    in one transaction, COMMIT included in the time."""
    from django.db import transaction

    from kpis.rollup import SUPERSEDED_FEEDBACK_SQL, TRUSTED_SQL

    t = time.perf_counter()
    with transaction.atomic(), connection.cursor() as c:
        c.execute(
            "INSERT INTO kpis_dailyactivityfact (tenant_id, day, partner_id, asset_id, verb, event_count, user_count, "
            "max_progress, negative_count) "
            "SELECT e.tenant_id, (e.occurred_at AT TIME ZONE %s)::date, e.partner_id, e.asset_id, e.verb, COUNT(*), "
            "COUNT(DISTINCT e.user_id), MAX(e.progress), "
            "SUM(CASE WHEN e.resolved IS NOT NULL AND NOT e.resolved THEN 1 ELSE 0 END) "
            f"FROM enablement_activityevent e WHERE e.tenant_id = %s AND NOT {SUPERSEDED_FEEDBACK_SQL} AND {TRUSTED_SQL} "
            "GROUP BY 1, 2, 3, 4, 5",
            [tenant.time_zone, tenant.pk],
        )
    return time.perf_counter() - t


def handwritten_all(connection, tenant) -> float:
    """The like-with-like reference: what a full recompute writes, as one plain ``INSERT … SELECT
    … GROUP BY`` per table over the whole log, unchunked, in one transaction (COMMIT included),
    written from the documented semantics (docs/kpis.md, the ``kpis.rollup`` docstring) with the
    shared definitions of completion and trusted sources: every event received up to the newest
    ``received_at`` (capped at the database's clock) and dated in range; daily facts with a
    superseded FAQ answer's key kept at zero (the flag computed once per event); source facts;
    FAQ search facts with the 30-minute follow-up rule; user states; partner states straight from
    the log (``COUNT(DISTINCT)`` of users). Not written: the seen-events set (the events received
    in the last minute before the watermark; a handful here)."""
    from django.db import transaction

    from enablement.completion import completion_sql, trusted_sql
    from kpis.rollup import IN_RANGE, SUPERSEDED_FLAG_SQL

    ev, tz, t_id = "enablement_activityevent", tenant.time_zone, tenant.pk
    trusted = trusted_sql(trusted="e.trusted")
    completion = completion_sql(kind="a.kind", verb="e.verb", trusted="e.trusted", requires="a.completion_requires")
    progress = "MAX(CASE WHEN e.verb IN ('training.progressed', 'training.completed') THEN e.progress END)"
    follow = (f"SELECT 1 FROM {ev} v WHERE v.tenant_id = e.tenant_id AND v.user_id = e.user_id AND v.verb = %s "
              "AND v.occurred_at >= e.occurred_at AND v.occurred_at <= e.occurred_at + interval '1800 seconds' "
              "AND v.received_at <= %s")
    t = time.perf_counter()
    with transaction.atomic(), connection.cursor() as c:
        c.execute(f"SELECT LEAST(MAX(received_at), statement_timestamp()) FROM {ev} WHERE tenant_id = %s", [t_id])
        hi = c.fetchone()[0]
        events = f"e.tenant_id = %s AND {IN_RANGE} AND e.received_at <= %s"
        c.execute(
            "INSERT INTO kpis_dailyactivityfact (tenant_id, day, partner_id, asset_id, verb, event_count, user_count, "
            "max_progress, negative_count) "
            "SELECT e.tenant_id, (e.occurred_at AT TIME ZONE %s)::date, e.partner_id, e.asset_id, e.verb, "
            "SUM(1 - e.superseded), COUNT(DISTINCT CASE WHEN e.superseded = 0 THEN e.user_id END), "
            "MAX(CASE WHEN e.superseded = 0 THEN e.progress END), "
            "SUM(CASE WHEN e.superseded = 0 AND e.resolved IS NOT NULL AND NOT e.resolved THEN 1 ELSE 0 END) "
            f"FROM (SELECT e.*, {SUPERSEDED_FLAG_SQL} AS superseded FROM {ev} e WHERE {events} AND {trusted} OFFSET 0) e "
            "GROUP BY 1, 2, 3, 4, 5",
            [tz, t_id, hi],
        )
        c.execute(
            "INSERT INTO kpis_dailysourcefact (tenant_id, day, source, verb, event_count, untrusted_count) "
            "SELECT e.tenant_id, (e.occurred_at AT TIME ZONE %s)::date, e.source, e.verb, COUNT(*), "
            f"SUM(CASE WHEN e.trusted = FALSE THEN 1 ELSE 0 END) FROM {ev} e WHERE {events} GROUP BY 1, 2, 3, 4",
            [tz, t_id, hi],
        )
        c.execute(
            "INSERT INTO kpis_faqsearchfact (tenant_id, day, partner_id, query, searches, zero_result_searches, "
            "unresolved_searches) "
            "SELECT e.tenant_id, (e.occurred_at AT TIME ZONE %s)::date, e.partner_id, "
            "lower(btrim(regexp_replace(e.query, '[\\s\\u3000]+', ' ', 'g'))), COUNT(*), "
            "SUM(CASE WHEN e.result_count = 0 THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN e.result_count = 0 OR e.user_id IS NULL OR NOT EXISTS ({follow}) "
            f"OR EXISTS ({follow} AND v.resolved = FALSE) THEN 1 ELSE 0 END) "
            f"FROM {ev} e WHERE {events} AND e.verb = 'faq.searched' AND {trusted} GROUP BY 1, 2, 3, 4",
            [tz, "faq.viewed", hi, "faq.feedback", hi, t_id, hi],
        )
        c.execute(
            "INSERT INTO kpis_userassetstate (tenant_id, user_id, partner_id, asset_id, first_activity_at, "
            "last_activity_at, first_completed_at, watched_share, max_progress, seconds) "
            "SELECT e.tenant_id, e.user_id, e.partner_id, e.asset_id, MIN(e.occurred_at), MAX(e.occurred_at), "
            f"MIN(CASE WHEN {completion} THEN e.occurred_at END), "
            f"CASE WHEN {progress} IS NULL THEN 0 WHEN {progress} >= 100 THEN 1.0 ELSE {progress} / 100.0 END, "
            f"{progress}, COALESCE(SUM(e.seconds), 0) "
            f"FROM {ev} e JOIN enablement_asset a ON a.id = e.asset_id WHERE {events} AND e.user_id IS NOT NULL "
            "GROUP BY 1, 2, 3, 4",
            [t_id, hi],
        )
        c.execute(
            "INSERT INTO kpis_partnerassetstate (tenant_id, partner_id, asset_id, first_activity_at, last_activity_at, "
            "first_completed_at, completed_users, active_users, max_progress) "
            "SELECT e.tenant_id, e.partner_id, e.asset_id, MIN(e.occurred_at), MAX(e.occurred_at), "
            f"MIN(CASE WHEN {completion} THEN e.occurred_at END), COUNT(DISTINCT CASE WHEN {completion} THEN e.user_id END), "
            f"COUNT(DISTINCT e.user_id), {progress} "
            f"FROM {ev} e JOIN enablement_asset a ON a.id = e.asset_id WHERE {events} GROUP BY 1, 2, 3",
            [t_id, hi],
        )
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
