"""Vendor-scale benchmark (PostgreSQL): one tenant with 5,000 partners, 50,000 partner users, 200
assets and a 12-month activity log grown in stages (default 100,000 then 1,000,000 events; the
50-million run is opt-in: ``--sizes 5000000,50000000`` or ``BENCH_VENDOR_SIZES``).

The database is the benchmark's OWN, ``shien_bench_vendor`` (``BENCH_VENDOR_DB``, must start with
``shien_bench_vendor``) on ``BENCH_PG_SERVER`` (default postgres://postgres@127.0.0.1:5432, used only
to create, mark with a COMMENT and drop it). The application connects as ``BENCH_VENDOR_ROLE``
(default ``shien_vendor``, an ordinary role that owns the database), so row-level security is
enforced on every path, raw ones included. It refuses to start when DATABASE_URL names its
database, re-creates only a database it marked itself, and ``--drop`` drops only that one.

Per stage (history of N events, generated set-based with INSERT … SELECT generate_series into
the month partitions the app's own ``partitions_ensure`` created; sessions of 8 events of one
user: a login, then training, document and FAQ activity with searches followed by FAQ views):

1. the history's facts and states, by the rollup's own statements (daily, source and FAQ facts,
   user and partner states — those of a full recompute: with ``--setup app`` one per table,
   unchunked; with ``--setup fast`` in chunks of days / user ids / partner ids, see below), then
   the watermark set to the newest event (``RollupState``);
2. one new day of events (``--day-events``, default the average day of the largest stage) and
   the incremental rollup of it (``rollup_tenant``, COMMIT included) — ratio largest / smallest;
   ``--days-per-stage N`` does this for N consecutive new days, each timed on its own (N readings
   per stage, the ratio per day's rank);
3. ingest with the history in place, like with like, ``--clients`` parallel clients each time,
   COMMIT included: ``POST /api/v1/events/`` through gunicorn (``--clients`` workers) vs batched
   psycopg ``executemany`` vs ``COPY`` of the same rows (fresh event ids), one transaction per
   batch of 500; events/s and the API as a fraction of each.

Set-up (not measured; ``--setup fast``, the default): the history's rows and keys are the same as
through the app's path (``--setup app``: the log's indexes, RLS and the per-row key trigger, one
session), but written with the log's secondary indexes and the key table's indexes dropped and
rebuilt after under their own names, by ``--workers`` admin sessions (default 2) with the key and
foreign-key triggers off, each chunk writing its keys set-based from its ``RETURNING``; then the
catalogue of the log, its partitions and the key table (``CHECK_SQL``: indexes with validity and
attachment, constraints, triggers, policies, RLS flags, owner, privileges, bounds) must equal what
it was before, every event must have its key and no reference may be orphaned — else it stops. The
facts and states are built by chunks in ``--workers`` sessions of the application role.
``--explain`` runs, after each timed rollup, one more day whose state merges are printed under
``EXPLAIN (ANALYZE, BUFFERS)``.

``--skip-facts`` leaves out step 1's daily/source/FAQ facts (states are always built).
``--keep`` keeps the database (re-running re-creates it); ``--drop`` drops it and exits.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = os.environ.get("BENCH_VENDOR_DB", "shien_bench_vendor")
if not DB.startswith("shien_bench_vendor"):
    sys.exit("BENCH_VENDOR_DB must start with shien_bench_vendor")
MARK = "created by bench/vendor.py"
SERVER = os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432").rstrip("/")
ROLE = os.environ.get("BENCH_VENDOR_ROLE", "shien_vendor")
_theirs = urlsplit(os.environ.get("DATABASE_URL", "")).path.lstrip("/")
if _theirs == DB:
    sys.exit(f"DATABASE_URL names {DB}, the benchmark's own database: unset it")
_host = urlsplit(SERVER).netloc.split("@")[-1]
APP_URL = f"postgres://{ROLE}@{_host}/{DB}"
os.environ.pop("DATABASE_REPLICA_URL", None)
os.environ.pop("CELERY_BROKER_URL", None)
os.environ.update(DATABASE_URL=APP_URL, DJANGO_SETTINGS_MODULE="prm.settings", DEBUG="false",
                  API_THROTTLE_RATE="off", LOG_LEVEL="WARNING")

PARTNERS, USERS_PER_PARTNER, ASSETS = 5_000, 10, 200
START = dt.datetime(2025, 11, 1, tzinfo=dt.UTC)  # 365 days of history: 2025-11-01 … 2026-10-31 (UTC)
HISTORY_DAYS = 365
BORN = START - dt.timedelta(days=60)  # the tenant and its assets exist before the history
SESSION = 8  # events per session
BATCH = 500
TZ = "Asia/Tokyo"


# --- the database -----------------------------------------------------------------------------------


def _admin():
    import psycopg

    return psycopg.connect(f"{SERVER}/postgres", autocommit=True)


def _ours(conn) -> bool:
    row = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [DB]).fetchone()
    if row is not None and row[0] != MARK:
        sys.exit(f"database {DB} exists but was not created by this benchmark: refusing to touch it")
    return row is not None


def recreate() -> None:
    with _admin() as conn:
        if _ours(conn):
            conn.execute(f'DROP DATABASE "{DB}" WITH (FORCE)')
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [ROLE]).fetchone() is None:
            # the application's kind of role: may log in, nothing more (row-level security applies to it)
            conn.execute(f'CREATE ROLE "{ROLE}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS')
        conn.execute(f'CREATE DATABASE "{DB}" OWNER "{ROLE}"')
        conn.execute(f"COMMENT ON DATABASE \"{DB}\" IS '{MARK}'")


def drop() -> None:
    with _admin() as conn:
        if _ours(conn):
            conn.execute(f'DROP DATABASE "{DB}" WITH (FORCE)')
            print(f"dropped {DB}")


def raw_connect():
    import psycopg

    return psycopg.connect(APP_URL.replace("postgres://", "postgresql://", 1))


# --- generated data ---------------------------------------------------------------------------------


def dimensions(tenant_id: int) -> None:
    """Partners (external ids), users and memberships, assets (external ids), set-based."""
    with raw_connect() as conn:
        conn.execute("SELECT set_config('app.tenant_ids', %s, false)", [str(tenant_id)])
        conn.execute(
            "INSERT INTO partners_partner (tenant_id, name, name_kana, external_id, segment, region, status, joined_on, "
            "cohort_override, created_at) SELECT %s, 'Partner ' || g, '', 'P' || g, (ARRAY['SMB', 'Enterprise'])[1 + g %% 2], "
            "'Kanto', 'active', DATE '2024-06-01' + (g %% 400), '', now() FROM generate_series(0, %s - 1) g",
            [tenant_id, PARTNERS],
        )
        conn.execute(
            "INSERT INTO partners_user (password, is_superuser, email, name, language, is_staff, is_active, date_joined) "
            "SELECT '!', false, 'u' || g || '@vendor.bench', 'U' || g, '', false, true, now() FROM generate_series(0, %s - 1) g",
            [PARTNERS * USERS_PER_PARTNER],
        )
        conn.execute("ANALYZE partners_partner")  # planner statistics for the joins below
        conn.execute("ANALYZE partners_user")
        conn.execute(
            "INSERT INTO partners_membership (tenant_id, user_id, role, partner_id, is_active, created_at) "
            "SELECT %s, u.id, 'partner_user', p.id, true, now() "
            "FROM (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM partners_user WHERE email LIKE '%%@vendor.bench') u "
            "JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM partners_partner WHERE tenant_id = %s) p "
            "ON p.n = u.n / %s",
            [tenant_id, tenant_id, USERS_PER_PARTNER],
        )
        conn.execute(
            "INSERT INTO enablement_asset (tenant_id, kind, title, description, body, language, category, tags, status, "
            "external_id, video_file, video_url, duration_seconds, completion_threshold, completion_requires, created_at, "
            "updated_at, published_at) "
            "SELECT %s, (ARRAY['training', 'document', 'faq', 'training', 'document'])[1 + g %% 5], 'Asset ' || g, '', '', "
            "'ja', '', '', 'published', 'A' || g, '', '', 600, 90, 'view', %s, %s, %s FROM generate_series(0, %s - 1) g",
            [tenant_id, BORN, BORN, BORN, ASSETS],
        )
        conn.execute("ANALYZE partners_membership")
        conn.execute("ANALYZE enablement_asset")


# Per session (one user, 8 events 40 s apart; session s of the call's n starts at start + s/n of the
# span, whichever chunk inserts it — until 2026-12-03 17:53 UTC each chunk started again at
# ``start``, which packed a history into its first weeks); step 0 a login; the others by a hash of (session,
# step): training (started / progressed / completed, with progress and seconds), documents (viewed /
# downloaded), FAQ (a search, then a view of a FAQ a few steps later, sometimes feedback). The asset
# of a step is one of the session's two focus assets of that kind.
GENERATE_SQL = """
WITH u AS (SELECT row_number() OVER (ORDER BY m.user_id) - 1 AS n, m.user_id, m.partner_id FROM partners_membership m
           WHERE m.tenant_id = %(t)s AND m.role = 'partner_user'),
     a AS (SELECT kind, row_number() OVER (PARTITION BY kind ORDER BY id) - 1 AS n, id FROM enablement_asset
           WHERE tenant_id = %(t)s),
     k AS (SELECT kind, COUNT(*) AS c FROM a GROUP BY kind),
     s AS (SELECT s, abs(hashint8(s * 7919 + %(seed)s)) AS h,
                  %(start)s::timestamptz + (s::float8 * %(span)s / %(sessions)s) * interval '1 second' AS at
           FROM generate_series(%(first)s::bigint, %(last)s::bigint) s),
     e AS (SELECT s.s, j, s.at + j * interval '40 seconds' AS at, s.h, abs(hashint8(s.s * 16 + j + %(seed)s)) AS r
           FROM s CROSS JOIN generate_series(0, %(steps)s - 1) j),
     v AS (SELECT e.*, CASE WHEN j = 0 THEN 'portal.login'
                        WHEN r %% 100 < 8 THEN 'training.started' WHEN r %% 100 < 38 THEN 'training.progressed'
                        WHEN r %% 100 < 42 THEN 'training.completed' WHEN r %% 100 < 67 THEN 'document.viewed'
                        WHEN r %% 100 < 74 THEN 'document.downloaded' WHEN r %% 100 < 84 THEN 'faq.searched'
                        WHEN r %% 100 < 97 THEN 'faq.viewed' ELSE 'faq.feedback' END AS verb FROM e)
INSERT INTO enablement_activityevent (tenant_id, partner_id, user_id, actor_ref, asset_id, verb, occurred_at, received_at,
    progress, seconds, position, played_segments, query, result_count, resolved, source, event_id, session_key, extra, trusted)
SELECT %(t)s, u.partner_id, u.user_id, '', a.id, v.verb, v.at, %(received)s,
    CASE WHEN v.verb = 'training.progressed' THEN (10 + v.r %% 91)::float8 WHEN v.verb = 'training.completed' THEN 100 END,
    CASE WHEN v.verb LIKE 'training.%%' THEN (v.r %% 600)::float8 END, NULL, NULL,
    CASE WHEN v.verb = 'faq.searched' THEN (ARRAY['VPN 設定', 'vpn', 'API key', '料金 プラン', 'パスワード リセット',
        'SSO', 'invoice', '請求書', 'export csv', '導入 手順'])[1 + v.r %% 10] || CASE WHEN v.r %% 7 = 0 THEN ' ' || (v.r %% 500) ELSE '' END
        ELSE '' END,
    CASE WHEN v.verb = 'faq.searched' THEN (v.r %% 4)::int END,
    CASE WHEN v.verb = 'faq.feedback' THEN v.r %% 5 > 0 END,
    'import', %(prefix)s || v.s || '-' || v.j, 's' || v.s, '{}'::jsonb, NULL
FROM v JOIN u ON u.n = v.h %% %(users)s
LEFT JOIN k ON k.kind = CASE WHEN v.verb LIKE 'training.%%' THEN 'training' WHEN v.verb LIKE 'document.%%' THEN 'document'
                            WHEN v.verb IN ('faq.viewed', 'faq.feedback') THEN 'faq' END
LEFT JOIN a ON a.kind = k.kind AND a.n = (v.h / 7 + (v.r / 1000) %% 2) %% k.c
"""


def generate(tenant_id: int, n: int, start: dt.datetime, days: float, prefix: str, *, received: str = "now",
             chunk_days: int = 14, label: str = "") -> float:
    """About ``n`` events in sessions spread evenly over ``days`` days from ``start``, in chunks of
    ``chunk_days`` days (each committed). ``received``: ``now`` (the database clock) or
    ``occurred`` (30 s after the event: history). Returns the seconds taken."""
    sessions = max(1, n // SESSION)
    span = days * 86400
    t0 = time.perf_counter()
    received_sql = "statement_timestamp()" if received == "now" else "v.at + interval '30 seconds'"
    sql = GENERATE_SQL.replace("%(received)s", received_sql)
    per_chunk = max(1, round(sessions * min(chunk_days, days) / days))
    with raw_connect() as conn:
        conn.execute("SELECT set_config('app.tenant_ids', %s, false)", [str(tenant_id)])
        conn.execute("SET synchronous_commit = off")  # generation is not what is measured
        first = 0
        while first < sessions:
            last = min(sessions, first + per_chunk) - 1
            conn.execute(sql, {"t": tenant_id, "seed": len(prefix) * 1_000_003 + sum(map(ord, prefix)), "start": start,
                               "first": first, "last": last, "span": span, "sessions": sessions, "steps": SESSION,
                               "prefix": prefix, "users": PARTNERS * USERS_PER_PARTNER})
            conn.commit()
            first = last + 1
            if label:
                done = first * SESSION
                rate = done / (time.perf_counter() - t0)
                print(f"    {label}: {done:,} / {sessions * SESSION:,} events, {rate:,.0f}/s", flush=True)
    return time.perf_counter() - t0


# --- the fast set-up of the history (not measured) --------------------------------------------------

KEYS = "enablement_activityeventkey"
LOG = "enablement_activityevent"

# What the set-up must leave exactly as the app made it: every index of the log, its partitions and
# the key table (definition, validity, the partitioned index it is attached to), their constraints
# (validated), triggers (enabled), policies, row-level security flags, owner, privileges, bounds.
CHECK_SQL = f"""
WITH r AS (SELECT c.oid, c.relname FROM pg_class c WHERE c.oid IN ('{LOG}'::regclass, '{KEYS}'::regclass)
           UNION SELECT c.oid, c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = '{LOG}'::regclass)
SELECT 'index', r.relname, pg_get_indexdef(x.indexrelid) || ' valid=' || x.indisvalid || ' ready=' || x.indisready
       || ' live=' || x.indislive || ' of=' || COALESCE((SELECT p.inhparent::regclass::text FROM pg_inherits p
                                                          WHERE p.inhrelid = x.indexrelid), '-')
FROM r JOIN pg_index x ON x.indrelid = r.oid
UNION ALL SELECT 'constraint', r.relname, k.conname || ' ' || pg_get_constraintdef(k.oid) || ' validated='
       || k.convalidated || ' index=' || COALESCE(NULLIF(k.conindid, 0)::regclass::text, '-')
FROM r JOIN pg_constraint k ON k.conrelid = r.oid
UNION ALL SELECT 'trigger', r.relname, t.tgname || ' enabled=' || t.tgenabled::text || ' ' || pg_get_triggerdef(t.oid)
FROM r JOIN pg_trigger t ON t.tgrelid = r.oid
UNION ALL SELECT 'policy', r.relname, p.polname || ' ' || COALESCE(pg_get_expr(p.polqual, p.polrelid), '') || ' / '
       || COALESCE(pg_get_expr(p.polwithcheck, p.polrelid), '')
FROM r JOIN pg_policy p ON p.polrelid = r.oid
UNION ALL SELECT 'table', r.relname, 'rls=' || c.relrowsecurity || ' force=' || c.relforcerowsecurity || ' owner='
       || pg_get_userbyid(c.relowner) || ' acl=' || COALESCE(c.relacl::text, '') || ' bound='
       || COALESCE(pg_get_expr(c.relpartbound, c.oid), '')
FROM r JOIN pg_class c ON c.oid = r.oid
ORDER BY 1, 2, 3
"""


def admin_db():
    """The server's admin role on the benchmark's database (set-up only: it bypasses RLS and may
    set ``session_replication_role``)."""
    import psycopg

    return psycopg.connect(f"{SERVER}/{DB}".replace("postgres://", "postgresql://", 1), autocommit=True)


def catalogue() -> list[tuple]:
    with admin_db() as conn:
        return conn.execute(CHECK_SQL).fetchall()


def _parallel(workers: int, tasks: list, work) -> None:
    """``work(conn, task)`` for every task by ``workers`` threads, each its own admin connection."""
    def run_one(conn, task):
        work(conn, task)

    def setup(state):
        state["conn"] = admin_db()
        state["conn"].execute("SET maintenance_work_mem = '512MB'")
        state["conn"].execute("SET max_parallel_maintenance_workers = 0")
        state["conn"].execute("SET synchronous_commit = off")
        state["conn"].execute("SET session_replication_role = replica")
        state["conn"].execute("SET work_mem = '256MB'")
        state["conn"].execute("SET jit = off")  # compiling took 2.8 of 4.9 s of a 200,000-event chunk

    def each(task, state):
        if "conn" not in state:
            setup(state)
        run_one(state["conn"], task)

    run_parallel(workers, tasks, each)


def generate_bulk(tenant_id: int, n: int, start: dt.datetime, days: float, prefix: str, *, workers: int,
                  label: str = "") -> dict[str, float]:
    """The history like ``generate`` (same rows, same keys), fast: the log's secondary indexes and
    the key table's indexes are dropped first and rebuilt after under their own names (attached to
    the same partitioned indexes); the rows are inserted by ``workers`` admin sessions in
    ``session_replication_role = replica`` (no key trigger, no foreign-key triggers) in chunks of
    about a million events, each statement writing its rows' idempotency keys set-based from its
    ``RETURNING`` (as ingest does). Then the catalogue must equal what it was before (``CHECK_SQL``)
    and the data what the triggers would have enforced (every event has its key, no orphan
    reference): else it raises. Returns seconds per phase."""
    before = catalogue()
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    with admin_db() as conn:
        parents = conn.execute(
            f"SELECT x.indexrelid::regclass::text, pg_get_indexdef(x.indexrelid) FROM pg_index x "
            f"WHERE x.indrelid = '{LOG}'::regclass AND NOT x.indisprimary ORDER BY 1").fetchall()
        children = conn.execute(
            f"SELECT i.inhparent::regclass::text, i.inhrelid::regclass::text, pg_get_indexdef(i.inhrelid) "
            f"FROM pg_inherits i JOIN pg_index x ON x.indexrelid = i.inhparent "
            f"WHERE x.indrelid = '{LOG}'::regclass AND NOT x.indisprimary ORDER BY 2").fetchall()
        key_indexes = conn.execute(
            f"SELECT x.indexrelid::regclass::text, pg_get_indexdef(x.indexrelid) FROM pg_index x "
            f"WHERE x.indrelid = '{KEYS}'::regclass AND NOT x.indisprimary").fetchall()
        key_pk = conn.execute(
            f"SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = '{KEYS}'::regclass "
            f"AND contype = 'p'").fetchone()
        for name, _ in parents + key_indexes:
            conn.execute(f"DROP INDEX {name}")
        conn.execute(f"ALTER TABLE {KEYS} DROP CONSTRAINT {key_pk[0]}")
    out["drop indexes"] = time.perf_counter() - t0

    head, tail = GENERATE_SQL.split(f"\nINSERT INTO {LOG} ", 1)
    sql = (head + f",\n ins AS (INSERT INTO {LOG} " + tail.rstrip() + " RETURNING tenant_id, source, event_id)\n"
           f"INSERT INTO {KEYS} (tenant_id, source, event_id) SELECT tenant_id, source, event_id FROM ins")
    sql = sql.replace("%(received)s", "v.at + interval '30 seconds'")
    sessions = max(1, n // SESSION)
    per_chunk = max(1, 1_000_000 // SESSION)
    chunks = [(f, min(sessions, f + per_chunk) - 1) for f in range(0, sessions, per_chunk)]
    seed = len(prefix) * 1_000_003 + sum(map(ord, prefix))
    done = [0]
    lock = threading.Lock()
    t = time.perf_counter()

    def insert(conn, chunk):
        first, last = chunk
        conn.execute(sql, {"t": tenant_id, "seed": seed, "start": start, "first": first, "last": last,
                           "span": days * 86400, "sessions": sessions, "steps": SESSION, "prefix": prefix,
                           "users": PARTNERS * USERS_PER_PARTNER})
        with lock:
            done[0] += (last - first + 1) * SESSION
            if label:
                print(f"    {label}: {done[0]:,} / {sessions * SESSION:,} events, "
                      f"{done[0] / (time.perf_counter() - t):,.0f}/s", flush=True)

    _parallel(workers, chunks, insert)
    out["insert"] = time.perf_counter() - t

    t = time.perf_counter()
    with admin_db() as conn:
        for _name, definition in parents:
            conn.execute(definition)  # CREATE INDEX … ON ONLY the log: invalid until every partition's is attached
    sizes = {}
    with admin_db() as conn:
        sizes = dict(conn.execute(
            f"SELECT c.oid::regclass::text, pg_relation_size(c.oid) FROM pg_inherits i JOIN pg_class c "
            f"ON c.oid = i.inhrelid WHERE i.inhparent = '{LOG}'::regclass"))
    builds = [("key", f"ALTER TABLE {KEYS} ADD CONSTRAINT {key_pk[0]} {key_pk[1]}", 10**15)]
    builds += [("key", definition, 10**14) for _name, definition in key_indexes]
    builds += [("child", definition, sizes.get(definition.split(" ON ")[1].split()[0].removeprefix("public."), 0))
               for _parent, _child, definition in children]
    builds.sort(key=lambda b: -b[2])  # largest first
    _parallel(workers, builds, lambda conn, b: conn.execute(b[1]))
    with admin_db() as conn:
        for parent, child, _definition in children:
            conn.execute(f"ALTER INDEX {parent} ATTACH PARTITION {child}")
        conn.execute(f"ANALYZE {LOG}")
        conn.execute(f"ANALYZE {KEYS}")
    out["rebuild indexes"] = time.perf_counter() - t

    t = time.perf_counter()
    after = catalogue()
    if after != before:
        lost, gained = sorted(set(before) - set(after)), sorted(set(after) - set(before))
        raise RuntimeError(f"set-up changed the catalogue: lost {lost[:5]}, gained {gained[:5]}")
    with admin_db() as conn:
        events, keys, orphans, unkeyed = conn.execute(
            f"SELECT (SELECT COUNT(*) FROM {LOG}), (SELECT COUNT(*) FROM {KEYS}), "
            f"(SELECT COUNT(*) FROM {LOG} e WHERE e.tenant_id NOT IN (SELECT id FROM partners_tenant) "
            f"OR e.partner_id NOT IN (SELECT id FROM partners_partner) "
            f"OR (e.user_id IS NOT NULL AND e.user_id NOT IN (SELECT id FROM partners_user)) "
            f"OR (e.asset_id IS NOT NULL AND e.asset_id NOT IN (SELECT id FROM enablement_asset))), "
            f"(SELECT COUNT(*) FROM {LOG} e WHERE e.event_id LIKE %s AND NOT EXISTS (SELECT 1 FROM {KEYS} k "
            f"WHERE k.tenant_id = e.tenant_id AND k.source = e.source AND k.event_id = e.event_id))",
            [prefix.replace("_", r"\_") + "%"],
        ).fetchone()
    if events != keys or orphans or unkeyed:
        raise RuntimeError(f"set-up data check failed: {events} events, {keys} keys, {orphans} orphans, {unkeyed} without a key")
    out["check"] = time.perf_counter() - t
    print(f"    set-up check: catalogue of the log, its {len(sizes)} partitions and the key table unchanged "
          f"({len(after)} rows: indexes, constraints, triggers, policies, RLS); {events:,} events = {keys:,} keys "
          f"(primary key rebuilt: unique), every new event has its key, no orphan reference", flush=True)
    return out


def log_size() -> tuple[int, int, int]:
    """(rows, bytes of the log's partitions with their indexes, bytes of the key table with its index)."""
    with raw_connect() as conn:
        conn.execute("SET app.all_tenants = 'on'")
        rows = conn.execute("SELECT COUNT(*) FROM enablement_activityevent").fetchone()[0]
        log = conn.execute(
            "SELECT COALESCE(SUM(pg_total_relation_size(i.inhrelid)), 0) FROM pg_inherits i "
            "WHERE i.inhparent = 'enablement_activityevent'::regclass"
        ).fetchone()[0]
        keys = conn.execute("SELECT pg_total_relation_size('enablement_activityeventkey')").fetchone()[0]
    return rows, int(log), int(keys)


# --- rollup -------------------------------------------------------------------------------------------


def _seal_rollup_state(cursor, d, tenant, newest) -> None:
    """After the history's facts and states are built: as the full recompute does, the events of the
    overlap go into the seen-events set (batch 1), so the next incremental run does not merge them a
    second time, and the watermark is the newest event; then ANALYZE."""
    from django.db import transaction

    from kpis import rollup as r
    from kpis.models import RollupState

    with transaction.atomic():
        cursor.execute(f"DELETE FROM {r.MERGED} WHERE tenant_id = %s", [tenant.pk])
        cursor.execute(
            f"INSERT INTO {r.MERGED} (tenant_id, event_id, received_at, batch) SELECT e.tenant_id, e.id, e.received_at, 1 "
            f"FROM {r.EV} e WHERE e.tenant_id = %s AND e.received_at > %s AND e.received_at <= %s",
            [tenant.pk, newest - r.overlap(), newest],
        )
        count = r._received_between(cursor, d, tenant.pk, newest - r.overlap(), newest)
        RollupState.objects.update_or_create(
            tenant=tenant, defaults={"watermark": newest, "status": "idle", "overlap_events": count, "merge_batch": 1,
                                     "rebuild_hi": None, "rebuild_next": None, "rebuild_last": None},
        )
    cursor.execute("ANALYZE")


def facts_and_states(tenant, *, skip_facts: bool) -> dict[str, float]:
    """The history's facts and states by the rollup's own whole-history statements (those a full
    recompute runs per chunk, here one per table), then the watermark at the newest event."""
    from django.db import connection, transaction
    from django_scopes import scope

    from kpis import rollup as r

    out = {}
    with scope(tenant=tenant.pk), connection.cursor() as cursor:
        newest, _now = r._newest_and_now(cursor, r._dialect(tenant), tenant.pk)
        d = r._dialect(tenant)
        w = r.Window(all_days=True, hi=newest)
        steps = [("user states", r._user_states), ("partner states", r._partner_states)]
        if not skip_facts:
            steps = [("daily facts", r._daily), ("source facts", r._sources), ("FAQ facts", r._faq), *steps]
        for name, func in steps:
            t0 = time.perf_counter()
            with transaction.atomic():
                rows = func(cursor, d, tenant.pk, w)
            out[name] = time.perf_counter() - t0
            print(f"    {name}: {rows:,} rows in {out[name]:.1f} s", flush=True)
        _seal_rollup_state(cursor, d, tenant, newest)
    return out


def facts_and_states_parallel(tenant, *, skip_facts: bool, workers: int) -> dict[str, float]:
    """The same history state as ``facts_and_states`` (a full recompute's rows), built by
    ``workers`` sessions at once (set-up, not measured): the facts by chunks of 14 tenant-local
    days (``Window(days=…, hi=newest)``: the rebuild's day chunks), the user states by ranges of
    user ids (``_user_states_insert`` with the whole-history filter), then the partner states by
    ranges of partner ids from the user states (``_partner_states_from_users_insert``: the
    rebuild's partner chunks). Each chunk is one transaction of the application role (RLS applies)."""
    from django.db import connection, transaction
    from django_scopes import scope

    from kpis import rollup as r

    d = r._dialect(tenant)
    with scope(tenant=tenant.pk), connection.cursor() as cursor:
        newest, _now = r._newest_and_now(cursor, d, tenant.pk)
        cursor.execute(f"SELECT MIN(user_id), MAX(user_id), MIN(partner_id), MAX(partner_id) FROM {r.EV} "
                       f"WHERE tenant_id = %s", [tenant.pk])
        umin, umax, pmin, pmax = cursor.fetchone()
        with transaction.atomic():
            cursor.execute(f"DELETE FROM {r.UAS} WHERE tenant_id = %s", [tenant.pk])
            cursor.execute(f"DELETE FROM {r.PAS} WHERE tenant_id = %s", [tenant.pk])
    connection.close()
    zone = r._zone(d.tz)
    first_day, last_day = START.astimezone(zone).date(), newest.astimezone(zone).date()

    def ranges(lo: int, hi: int, parts: int) -> list[tuple[int, int]]:
        step = max(1, (hi - lo + parts) // parts)
        return [(a - 1, min(hi, a + step - 1)) for a in range(lo, hi + 1, step)]  # (after, upto]

    def run_tasks(name: str, tasks: list, work) -> float:
        def each(task, state):
            state["conn"] = connection  # this thread's own; closed when the thread is done
            with scope(tenant=tenant.pk), transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL work_mem = '256MB'")
                cursor.execute("SET LOCAL jit = off")
                work(cursor, task)

        t = time.perf_counter()
        run_parallel(workers, tasks, each)
        seconds = time.perf_counter() - t
        print(f"    {name}: {len(tasks)} chunks in {seconds:.1f} s", flush=True)
        return seconds

    out = {}
    events_sql = f" AND {r.IN_RANGE} AND e.received_at <= %s"

    def users(cursor, rng):
        cursor.execute(r._user_states_insert(f"{events_sql} AND e.user_id > %s AND e.user_id <= %s"),
                       [tenant.pk, d.ts_param(newest), *rng])

    def partners(cursor, rng):
        cursor.execute(
            r._partner_states_from_users_insert(" AND x.partner_id > %s AND x.partner_id <= %s",
                                                f" AND e.partner_id > %s AND e.partner_id <= %s{events_sql}"),
            [tenant.pk, tenant.pk, *rng, tenant.pk, *rng, d.ts_param(newest)],
        )

    def facts(cursor, days):
        w = r.Window(days=days, hi=newest)
        r._daily(cursor, d, tenant.pk, w)
        r._sources(cursor, d, tenant.pk, w)
        r._faq(cursor, d, tenant.pk, w)

    if not skip_facts:
        all_days = [first_day + dt.timedelta(days=i) for i in range((last_day - first_day).days + 1)]
        out["facts"] = run_tasks("daily, source and FAQ facts", [all_days[i : i + 14] for i in range(0, len(all_days), 14)], facts)
    out["user states"] = run_tasks("user states", ranges(umin, umax, 16), users)
    out["partner states"] = run_tasks("partner states", ranges(pmin, pmax, 8), partners)
    connection.close()
    with scope(tenant=tenant.pk), connection.cursor() as cursor:
        _seal_rollup_state(cursor, d, tenant, newest)
    return out


def rollup_new_day(tenant, day_events: int, day: dt.date) -> tuple[float, object]:
    """One new tenant-local day of events, received now, then the incremental rollup, timed."""
    from django_scopes import scope

    from kpis import rollup as r
    from kpis.rollup import rollup_tenant

    start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.timezone(dt.timedelta(hours=9))).astimezone(dt.UTC)
    time.sleep(1.0)  # received after the watermark (database clock)
    generate(tenant.pk, day_events, start, 1 - 1 / 24, f"d{day:%Y%m%d}-", received="now", chunk_days=1)
    with raw_connect() as conn:
        conn.execute("ANALYZE enablement_activityevent")
        conn.commit()
    with raw_connect() as conn:  # the run's window (not timed): what its overlap rescans, and the new events
        conn.execute("SELECT set_config('app.tenant_ids', %s, false)", [str(tenant.pk)])
        window = conn.execute(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE e.event_id LIKE %s) FROM enablement_activityevent e "
            "JOIN kpis_rollupstate s ON s.tenant_id = e.tenant_id WHERE e.tenant_id = %s "
            "AND e.received_at > s.watermark - %s * interval '1 second'",
            [f"d{day:%Y%m%d}-%", tenant.pk, r.overlap().total_seconds()],
        ).fetchone()
    with scope(tenant=tenant.pk):
        t0 = time.perf_counter()
        stats = rollup_tenant(tenant)  # commits its own transaction: COMMIT inside the timer
        stats.window = window
        return time.perf_counter() - t0, stats


def explain_merges(tenant, day_events: int, day: dt.date) -> None:
    """One more new day and an incremental rollup whose user- and partner-state merges run under
    ``EXPLAIN (ANALYZE, BUFFERS)`` (they still take effect): the plans are printed. Not timed."""
    from django.db import connection
    from django_scopes import scope

    from kpis import rollup as r

    marks = {f"INSERT INTO {r.UAS} ": "user states merge", f"INSERT INTO {r.PAS} ": "partner states merge"}

    def wrapper(execute, sql, params, many, context):
        name = next((v for k, v in marks.items() if sql.startswith(k) and "ON CONFLICT" in sql), None)
        if name is None:
            return execute(sql, params, many, context)
        result = execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params, many, context)
        plan = "\n".join("      " + row[0] for row in context["cursor"].fetchall())
        print(f"    --- {name}:\n{plan}", flush=True)
        return result

    start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.timezone(dt.timedelta(hours=9))).astimezone(dt.UTC)
    time.sleep(1.0)
    generate(tenant.pk, day_events, start, 1 - 1 / 24, f"x{day:%Y%m%d}-", received="now", chunk_days=1)
    with raw_connect() as conn:
        conn.execute("ANALYZE enablement_activityevent")
        conn.commit()
    with scope(tenant=tenant.pk), connection.execute_wrapper(wrapper):
        r.rollup_tenant(tenant)


# --- ingest -------------------------------------------------------------------------------------------


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def make_events(n: int, prefix: str, start: dt.datetime) -> list[dict]:
    """API events: the same verb mix as the history, spread over one day of the last history month."""
    verbs = ["portal.login", "training.progressed", "training.progressed", "training.started", "document.viewed",
             "document.viewed", "document.downloaded", "faq.searched", "faq.viewed", "training.completed"]
    out = []
    for i in range(n):
        u = (i * 7919) % (PARTNERS * USERS_PER_PARTNER)
        verb = verbs[i % len(verbs)]
        e = {"event_id": f"{prefix}-{i}", "verb": verb, "occurred_at": (start + dt.timedelta(seconds=i)).isoformat(),
             "partner": f"P{u // USERS_PER_PARTNER}", "user": f"u{u}@vendor.bench"}
        if verb.startswith("training"):
            e.update(asset=f"A{5 * (i % 40)}", progress=float(10 + i % 91), seconds=i % 600)
        elif verb.startswith("document"):
            e["asset"] = f"A{5 * (i % 40) + 1}"
        elif verb == "faq.viewed":
            e["asset"] = f"A{5 * (i % 40) + 2}"
        elif verb == "faq.searched":
            e.update(query=f"keyword {i % 200}", result_count=i % 4)
        out.append(e)
    return out


COLUMNS = ("tenant_id", "partner_id", "user_id", "actor_ref", "asset_id", "verb", "occurred_at", "received_at", "progress",
           "seconds", "position", "played_segments", "query", "result_count", "resolved", "source", "event_id",
           "session_key", "extra", "trusted")
RAW_SQL = f"INSERT INTO enablement_activityevent ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"
COPY_SQL = f"COPY enablement_activityevent ({', '.join(COLUMNS)}) FROM STDIN"


def raw_rows(events: list[dict], tenant_id: int, prefix: str) -> list[tuple]:
    """The API's events as log rows (names resolved to ids), fresh event ids; received now at insert time."""
    with raw_connect() as conn:
        conn.execute("SELECT set_config('app.tenant_ids', %s, false)", [str(tenant_id)])
        partners = dict(conn.execute("SELECT external_id, id FROM partners_partner WHERE tenant_id = %s", [tenant_id]))
        users = dict(conn.execute("SELECT email, id FROM partners_user WHERE email LIKE '%%@vendor.bench'"))
        assets = dict(conn.execute("SELECT external_id, id FROM enablement_asset WHERE tenant_id = %s", [tenant_id]))
    return [
        (tenant_id, partners[e["partner"]], users[e["user"]], "", assets.get(e.get("asset")), e["verb"],
         dt.datetime.fromisoformat(e["occurred_at"]), None, e.get("progress"), e.get("seconds"), None, None,
         e.get("query", ""), e.get("result_count"), e.get("resolved"), "api", f"{prefix}-{e['event_id']}", "", "{}", False)
        for e in events
    ]


def run_parallel(clients: int, batches: list, work) -> float:
    """``work(batch, state)`` for every batch by ``clients`` threads (each its own connection/state); seconds."""
    lock, queue = threading.Lock(), list(reversed(batches))
    errors: list[BaseException] = []

    def worker():
        try:
            state = {}
            while True:
                with lock:
                    if not queue:
                        break
                    batch = queue.pop()
                work(batch, state)
            if "conn" in state:
                state["conn"].close()
        except BaseException as exc:  # noqa: BLE001 (re-raised below)
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return seconds


def _conn(state: dict, tenant_id: int):
    if "conn" not in state:
        state["conn"] = raw_connect()
        state["conn"].execute("SELECT set_config('app.tenant_ids', %s, false)", [str(tenant_id)])
        state["conn"].commit()
    return state["conn"]


def ingest(tenant_id: int, key: str, *, batches: int, clients: int, tag: str) -> dict:
    total = batches * BATCH
    start = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)  # after the rollup days
    events = make_events(total, f"api{tag}", start)
    bodies = [json.dumps({"events": events[i : i + BATCH]}).encode() for i in range(0, total, BATCH)]
    warm = [json.dumps({"events": make_events(BATCH, f"warm{tag}{k}", start)}).encode() for k in range(clients * 2)]
    port = free_port()
    gunicorn = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "prm.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(clients), "--log-level", "warning", "--timeout", "300"],
        cwd=ROOT, env=dict(os.environ),
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}/api/v1/events/"

    def post(body: bytes) -> dict:
        req = urllib.request.Request(endpoint, data=body, method="POST",
                                     headers={"Authorization": f"Api-Key {key}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=300) as resp:  # noqa: S310 (local bench server)
            return json.loads(resp.read())

    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/xapi/about", timeout=2)  # noqa: S310
                break
            except OSError:
                time.sleep(0.2)
        with ThreadPoolExecutor(clients) as pool:  # warm every worker (imports, connections)
            list(pool.map(post, warm))
        results = []
        api = run_parallel(clients, bodies, lambda body, _state: results.append(post(body)))
        accepted = sum(r["accepted"] for r in results)
        assert accepted == total, f"only {accepted} of {total} accepted: {results[0]['results'][:1]}"
    finally:
        gunicorn.send_signal(signal.SIGTERM)
        gunicorn.wait(timeout=60)

    def executemany(rows, state):
        conn = _conn(state, tenant_id)
        with conn.cursor() as cur:
            cur.executemany(RAW_SQL, rows)
        conn.commit()

    def copy(rows, state):
        # COPY FROM is refused on a table with row-level security for any role that does not bypass it
        # (PostgreSQL: "COPY FROM not supported with row-level security"): the server's admin role copies
        if "conn" not in state:
            import psycopg

            state["conn"] = psycopg.connect(f"{SERVER}/{DB}".replace("postgres://", "postgresql://", 1))
        conn = state["conn"]
        with conn.cursor() as cur, cur.copy(COPY_SQL) as cp:
            for row in rows:
                cp.write_row(row)
        conn.commit()

    out = {"events": total, "API": api}
    for name, work in (("executemany", executemany), ("COPY", copy)):
        rows = raw_rows(events, tenant_id, f"{name}{tag}")
        rows = [tuple(dt.datetime.now(dt.UTC) if c == "received_at" else v for c, v in zip(COLUMNS, r, strict=True))
                for r in rows]
        out[name] = run_parallel(clients, [rows[i : i + BATCH] for i in range(0, total, BATCH)], work)
    return out


# --- main -----------------------------------------------------------------------------------------------


def machine_load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} CPUs"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=os.environ.get("BENCH_VENDOR_SIZES", "100000,1000000"),
                    help="history sizes, comma-separated, grown in that order (default 100000,1000000)")
    ap.add_argument("--day-events", type=int, default=0, help="events of the new day (default: largest size / 365)")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--batches", type=int, default=40, help="batches of 500 events per ingest path")
    ap.add_argument("--skip-facts", action="store_true", help="build only the states from the history, not the facts")
    ap.add_argument("--ingest-at", default="last", choices=["last", "each"], help="measure ingest at the last stage or each")
    ap.add_argument("--setup", default="fast", choices=["fast", "app"],
                    help="history set-up: fast (indexes rebuilt after, parallel sessions; default) or app (through the "
                         "log's indexes and key trigger, one session)")
    ap.add_argument("--workers", type=int, default=2, help="sessions of the fast set-up (default 2)")
    ap.add_argument("--explain", action="store_true",
                    help="after each timed rollup, one more day whose state merges run under EXPLAIN (ANALYZE, BUFFERS)")
    ap.add_argument("--days-per-stage", type=int, default=1,
                    help="new days per stage, each its own timed incremental rollup (default 1)")
    ap.add_argument("--keep", action="store_true", help="keep the database")
    ap.add_argument("--drop", action="store_true", help="drop the benchmark's database and exit")
    args = ap.parse_args()
    if args.drop:
        drop()
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if sizes != sorted(sizes) or sizes[0] < 1000:
        sys.exit("--sizes: increasing, each >= 1000")
    if not 1 <= args.days_per_stage <= 10:
        sys.exit("--days-per-stage: 1 to 10")
    day_events = args.day_events or max(1000, sizes[-1] // HISTORY_DAYS)
    print(f"==> {DB}: sizes {', '.join(f'{s:,}' for s in sizes)}, new day {day_events:,} events; {machine_load()}; "
          f"free disk {shutil.disk_usage(ROOT).free / 2**30:.0f} GiB", flush=True)
    recreate()
    try:
        run(args, sizes, day_events)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            drop()
    return 0


def run(args, sizes: list[int], day_events: int) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django_scopes import scope

    from enablement.logstore import partitions_ensure
    from partners.models import Tenant
    from partners.services import api_key_create

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0)
    tenant = Tenant.objects.create(name="Vendor bench", slug="vendor", time_zone=TZ)
    Tenant.objects.filter(pk=tenant.pk).update(created_at=BORN)  # the API refuses events before the tenant existed
    tenant.refresh_from_db()
    dimensions(tenant.pk)
    with scope(tenant=tenant.pk):
        _key, raw_key = api_key_create(tenant=tenant, name="bench", scopes=["events:write", "read"], actor=None)
    made = partitions_ensure(months_ahead=15, today=START.date())  # the app's own partition code
    print(f"==> migrated, {PARTNERS:,} partners, {PARTNERS * USERS_PER_PARTNER:,} users, {ASSETS} assets, "
          f"{made} more month partitions in {time.perf_counter() - t0:.0f} s", flush=True)

    results, have = [], 0
    for stage, size in enumerate(sizes):
        print(f"\n==> stage {stage + 1}: history to {size:,} events ({machine_load()})", flush=True)
        if args.setup == "fast":
            phases = generate_bulk(tenant.pk, size - have, START, HISTORY_DAYS, f"h{stage}-", workers=args.workers,
                                   label="history")
            gen = sum(phases.values())
            print("    set-up phases: " + ", ".join(f"{k} {v:.0f} s" for k, v in phases.items()), flush=True)
        else:
            gen = generate(tenant.pk, size - have, START, HISTORY_DAYS, f"h{stage}-", received="occurred", label="history",
                           chunk_days=30)
        have = size
        rows, log_bytes, key_bytes = log_size()
        print(f"    generated in {gen:.0f} s; log {rows:,} rows, partitions+indexes {log_bytes / 2**30:.2f} GiB, "
              f"key table {key_bytes / 2**30:.2f} GiB; free disk {shutil.disk_usage(ROOT).free / 2**30:.0f} GiB", flush=True)
        t = time.perf_counter()
        if args.setup == "fast":
            built = facts_and_states_parallel(tenant, skip_facts=args.skip_facts, workers=args.workers)
        else:
            built = facts_and_states(tenant, skip_facts=args.skip_facts)
        print(f"    facts/states and watermark in {time.perf_counter() - t:.0f} s", flush=True)
        first = START.date() + dt.timedelta(days=HISTORY_DAYS + 1 + stage * args.days_per_stage)  # after the history
        days = []
        for i in range(args.days_per_stage):  # each new day its own timed incremental run
            day = first + dt.timedelta(days=i)
            load = machine_load()
            seconds, stats = rollup_new_day(tenant, day_events, day)
            print(f"    rollup of new day {i + 1}/{args.days_per_stage} ({day}, {day_events:,} events) on {rows:,}: "
                  f"{seconds:.2f} s ({load}); window {stats.window[0]:,} events, {stats.window[1]:,} of them the day's; "
                  + ", ".join(f"{k} {v:.2f}s" for k, v in stats.seconds.items()), flush=True)
            days.append({"day": day, "rollup_s": seconds, "steps": dict(stats.seconds), "load": load,
                         "window": stats.window})
        if args.explain:
            explain_merges(tenant, day_events, first + dt.timedelta(days=19 + args.days_per_stage))
        res = {"size": size, "rows": rows, "log_gib": log_bytes / 2**30, "key_gib": key_bytes / 2**30, "gen_s": gen,
               "built": built, "rollup_s": days[0]["rollup_s"], "steps": days[0]["steps"], "load": days[0]["load"],
               "days": days}
        if args.ingest_at == "each" or stage == len(sizes) - 1:
            load = machine_load()
            ing = ingest(tenant.pk, raw_key, batches=args.batches, clients=args.clients, tag=str(stage))
            n = ing["events"]
            rates = {k: n / ing[k] for k in ("API", "executemany", "COPY")}
            print(f"    ingest, {args.clients} parallel clients, {n:,} events per path ({load}):", flush=True)
            for k, v in rates.items():
                print(f"      {k:<12} {ing[k]:7.2f} s = {v:>9,.0f} events/s", flush=True)
            print(f"      API / executemany = {rates['API'] / rates['executemany']:.2f}; API / COPY = "
                  f"{rates['API'] / rates['COPY']:.2f}", flush=True)
            res["ingest"], res["ingest_load"] = ing, load
        results.append(res)

    if len(results) > 1:
        lo, hi = results[0], results[-1]
        for i, (a, b) in enumerate(zip(lo["days"], hi["days"], strict=True)):
            print(f"\n==> incremental rollup of new day {i + 1} ({day_events:,} events): {b['rollup_s']:.2f} s on "
                  f"{hi['rows']:,} vs {a['rollup_s']:.2f} s on {lo['rows']:,} → ratio {b['rollup_s'] / a['rollup_s']:.2f} "
                  f"(goal ≤ 1.5)")
    print("RESULTS " + json.dumps(results, default=str))


if __name__ == "__main__":
    sys.exit(main())
