"""Benchmark: one page of ``GET /api/xapi/statements`` per filter, 10k vs 1M stored statements.

What it does (PostgreSQL only):

* Works in its own database ``shien_bench_lrs`` on the server of ``DATABASE_URL`` (default
  ``postgres://postgres@127.0.0.1:5432``): it creates it, migrates it, and drops it at the end.
  The database named in ``DATABASE_URL`` is never used; a ``DATABASE_URL`` naming
  ``shien_bench_lrs`` itself is refused (it would be dropped).
* Bulk-loads statements with ``INSERT … SELECT generate_series`` straight into the statement table
  and its index tables, shaped as the LRS writes them: 50 actors (direct agent rows), 5 context
  instructors and the key's authority (related agent rows), 10 verbs, 50 object activities (direct)
  and 10 parent activities (related), 20 registrations, one StatementRef statement per 1,000,
  ``stored`` one millisecond apart. Then ``ANALYZE`` (as autovacuum would).
* Two tenants in that database: one with 10k statements, one with 1M (every LRS query is scoped
  to the tenant and every index leads with it, so each tenant is a store of its own size). Every
  filter is requested in-process with Django's test Client (``limit=100``, the newest page; the
  ascending page for ``since``), the two tenants taking turns request by request so that a busy
  neighbour on a shared machine slows both alike: the fastest of 15 runs after 3 warm-ups. It prints the milliseconds at 10k and 1M and the ratio
  (goal ≤ 1.5: a page costs the same whatever the size of the store).

Each figure is the fastest of 15 timed runs after 3 warm-ups (on a shared machine the median measures
the neighbours as much as the LRS). ``--explain`` prints the plan of every query at 1M.

Run: ``.venv/bin/python bench/lrs.py`` (3–6 minutes on 2 cores).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = "shien_bench_lrs"
SERVER = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
if not SERVER.startswith("postgres"):
    sys.exit("bench/lrs.py needs a PostgreSQL server (DATABASE_URL=postgres://… names the server to use)")
_url = urlsplit(SERVER)
if _url.path.lstrip("/") == BENCH_DB:
    sys.exit(f"DATABASE_URL names {BENCH_DB}, which this benchmark drops: point it at another database")
os.environ["DATABASE_URL"] = urlunsplit(_url._replace(path="/" + BENCH_DB))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prm.settings")
os.environ["DEBUG"] = "false"

SMALL, LARGE = 10_000, 1_000_000
CHUNK = 100_000
RUNS, WARMUP = 15, 3
EXPLAIN = "--explain" in sys.argv
ACTORS, INSTRUCTORS, VERBS, ACTIVITIES, PARENTS, REGISTRATIONS = 50, 5, 10, 50, 10, 20
BASE_MS = 1_700_000_000_000  # stored of statement 0 (epoch ms); one ms apart


def admin_connect():
    import psycopg

    return psycopg.connect(urlunsplit(_url._replace(path="/postgres")), autocommit=True)


def create_database() -> None:
    with admin_connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
        conn.execute(f'ALTER DATABASE "{BENCH_DB}" SET random_page_cost = 1.1')


def drop_database() -> None:
    from django.db import connections

    connections.close_all()
    with admin_connect() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')


LOAD_SQL = """
WITH s AS (
    SELECT i,
           md5('stmt' || i)::uuid AS sid,
           'mailto:learner' || mod(i, {actors}) || '@bench.example' AS actor,
           'mailto:coach' || mod(i, {instructors}) || '@bench.example' AS coach,
           'http://bench.example/verbs/v' || mod(i, {verbs}) AS verb,
           'http://bench.example/activities/a' || mod(i, {activities}) AS activity,
           'http://bench.example/courses/c' || mod(i, {parents}) AS parent,
           md5('reg' || mod(i, {registrations}))::uuid AS reg,
           to_timestamp(({base} + i)::double precision / 1000) AS stored,
           (mod(i, 1000) = 999) AS is_ref
    FROM generate_series(%(start)s, %(stop)s - 1) AS i
)
INSERT INTO enablement_xapistatement
    (tenant_id, statement_id, payload, verb_id, actor_key, activity_id, registration, timestamp, stored,
     voided, voids_statement_id, ref_statement_id, mapped_event_id, unmapped, unmapped_reason)
SELECT %(tenant)s, sid,
       jsonb_build_object(
           'id', sid,
           'actor', jsonb_build_object('objectType', 'Agent', 'mbox', actor),
           'verb', jsonb_build_object('id', verb, 'display', jsonb_build_object('en-US', 'did')),
           'object', CASE WHEN is_ref
               THEN jsonb_build_object('objectType', 'StatementRef', 'id', md5('stmt' || (i - 1))::uuid)
               ELSE jsonb_build_object('objectType', 'Activity', 'id', activity) END,
           'context', jsonb_build_object(
               'registration', reg,
               'instructor', jsonb_build_object('objectType', 'Agent', 'mbox', coach),
               'contextActivities', jsonb_build_object('parent', jsonb_build_array(jsonb_build_object('id', parent)))),
           'timestamp', to_char(stored AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           'stored', to_char(stored AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           'authority', %(authority)s::jsonb,
           'version', '1.0.0'),
       verb, actor, CASE WHEN is_ref THEN '' ELSE activity END, reg, stored, stored,
       false, NULL, CASE WHEN is_ref THEN md5('stmt' || (i - 1))::uuid END, NULL, true, 'unknown verb'
FROM s
"""

AGENTS_SQL = """
INSERT INTO lrs_statementagent (tenant_id, statement_id, agent_key, direct, stored)
SELECT st.tenant_id, st.id, k.agent_key, k.direct, st.stored
FROM enablement_xapistatement st
CROSS JOIN LATERAL (VALUES
    (st.actor_key, true),
    (st.payload #>> '{context,instructor,mbox}', false),
    (%(authority_key)s, false)
) AS k(agent_key, direct)
WHERE st.tenant_id = %(tenant)s AND st.stored >= to_timestamp(%(from_ms)s::double precision / 1000)
"""

ACTIVITIES_SQL = """
INSERT INTO lrs_statementactivity (tenant_id, statement_id, activity_id, direct, stored)
SELECT st.tenant_id, st.id, k.activity_id, k.direct, st.stored
FROM enablement_xapistatement st
CROSS JOIN LATERAL (VALUES
    (st.activity_id, true),
    (st.payload #>> '{context,contextActivities,parent,0,id}', false)
) AS k(activity_id, direct)
WHERE st.tenant_id = %(tenant)s AND st.stored >= to_timestamp(%(from_ms)s::double precision / 1000)
  AND k.activity_id <> ''
"""


TABLES = ("enablement_xapistatement", "lrs_statementagent", "lrs_statementactivity")


def drop_indexes(cur) -> list[str]:
    """Drop the secondary indexes, unique and foreign-key constraints of the three tables (a bulk
    load then builds each index once instead of maintaining it row by row); returns the SQL that
    restores them."""
    restore: list[str] = []
    cur.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid::regclass::text = ANY(%s) AND contype IN ('u', 'f')",
        [list(TABLES)],
    )
    constraints = cur.fetchall()
    cur.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = ANY(%s) "
        "AND i.indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u'))",
        [list(TABLES)],
    )
    indexes = cur.fetchall()
    for table, name, definition in sorted(constraints, key=lambda c: "u" in c[2][:7]):  # FKs first
        cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        restore.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for name, definition in indexes:
        cur.execute(f'DROP INDEX "{name}"')
        restore.append(definition)
    # unique constraints before the foreign keys that may rely on them
    return sorted(restore, key=lambda sql: "FOREIGN KEY" in sql)


def load(tenant_id: int, authority: dict, start: int, stop: int) -> None:
    from django.db import connection

    from enablement.lrs.mapping import actor_key

    sql = LOAD_SQL.format(actors=ACTORS, instructors=INSTRUCTORS, verbs=VERBS, activities=ACTIVITIES,
                          parents=PARENTS, registrations=REGISTRATIONS, base=BASE_MS)  # fmt: skip
    with connection.cursor() as cur:
        cur.execute("SET maintenance_work_mem = '256MB'")
        cur.execute("SET synchronous_commit = off")
        restore = drop_indexes(cur) if stop - start > CHUNK else []
        for lo in range(start, stop, CHUNK):
            hi = min(stop, lo + CHUNK)
            t0 = time.perf_counter()
            cur.execute(sql, {"start": lo, "stop": hi, "tenant": tenant_id, "authority": json.dumps(authority)})
            params = {"tenant": tenant_id, "from_ms": BASE_MS + lo, "authority_key": actor_key(authority)}
            cur.execute(AGENTS_SQL, params)
            cur.execute(ACTIVITIES_SQL, params)
            print(f"  loaded {hi:>9,} statements ({time.perf_counter() - t0:.1f} s for this chunk)", flush=True)
        t0 = time.perf_counter()
        for sql in restore:
            cur.execute(sql)
        if restore:
            print(f"  rebuilt {len(restore)} indexes and constraints ({time.perf_counter() - t0:.1f} s)", flush=True)
        cur.execute("ANALYZE")


def queries() -> dict[str, dict[str, str]]:
    agent = json.dumps({"mbox": "mailto:learner7@bench.example"})
    coach = json.dumps({"mbox": "mailto:coach3@bench.example"})
    return {
        "no filter": {},
        "agent": {"agent": agent},
        "agent related_agents": {"agent": coach, "related_agents": "true"},
        "verb": {"verb": "http://bench.example/verbs/v3"},
        "activity": {"activity": "http://bench.example/activities/a7"},
        "activity related_activities": {"activity": "http://bench.example/courses/c3", "related_activities": "true"},
        "registration": {"registration": "6b1e4a5c-0000-0000-0000-000000000000"},  # replaced below
        "since (ascending)": {"since": "2023-11-14T22:13:25Z", "ascending": "true"},
        "until": {"until": "2023-11-14T22:13:25Z"},
        "agent + verb": {"agent": agent, "verb": "http://bench.example/verbs/v7"},
    }


def measure(clients: dict, params: dict[str, str]) -> dict[str, tuple[float, int]]:
    """Fastest of RUNS timed requests per store size, the sizes taking turns request by request
    (so a busy neighbour slows both alike)."""
    times: dict[str, list[float]] = {label: [] for label in clients}
    counts: dict[str, int] = {}
    for run in range(WARMUP + RUNS):
        for label, client in clients.items():
            t0 = time.perf_counter()
            response = client.get("/api/xapi/statements", {**params, "limit": "100"})
            elapsed = time.perf_counter() - t0
            assert response.status_code == 200, response.content[:300]
            counts[label] = len(response.json()["statements"])
            if run >= WARMUP:
                times[label].append(elapsed)
    return {label: (min(times[label]) * 1000, counts[label]) for label in clients}


def db_ms(client, params: dict[str, str]) -> float:
    """The database's own time for the request's statement queries (EXPLAIN ANALYZE execution
    times added up; fastest of 3): what the page costs the database, without Python or the machine's
    neighbours."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        client.get("/api/xapi/statements", {**params, "limit": "100"})
    sqls = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("SELECT") and "xapi" in q["sql"]]
    best = float("inf")
    with connection.cursor() as cur:
        for _ in range(3):
            total = 0.0
            for sql in sqls:
                cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
                total += cur.fetchone()[0][0]["Execution Time"]
            best = min(best, total)
    return best


def explain(client, name: str, params: dict[str, str]) -> None:
    """Print each SQL statement of one request with its execution time and plan (``--explain``)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        client.get("/api/xapi/statements", {**params, "limit": "100"})
    print(f"--- {name}")
    with connection.cursor() as cur:
        for q in ctx.captured_queries:
            if not q["sql"].startswith("SELECT") or "xapi" not in q["sql"]:
                continue
            cur.execute("EXPLAIN (ANALYZE, COSTS OFF) " + q["sql"])
            plan = [r[0] for r in cur.fetchall()]
            print("\n".join("    " + line for line in plan[:40]))


def main() -> None:
    create_database()
    try:
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connection
        from rest_framework.test import APIClient

        from partners.models import Tenant
        from partners.services import api_key_create
        from partners.tenancy import tenant_scope

        settings.LRS_RATE_LIMIT = "off"
        settings.API_THROTTLE_RATE = "off"
        t0 = time.perf_counter()
        call_command("migrate", verbosity=0)
        print(f"migrated {BENCH_DB} in {time.perf_counter() - t0:.0f} s", flush=True)
        clients, tenants, authorities = {}, {}, {}
        for label in ("10k", "1M"):
            tenant = Tenant.objects.create(slug=f"bench-{label.lower()}", name=f"Bench {label}")
            with tenant_scope(tenant):
                _key, raw = api_key_create(tenant=tenant, name="bench", scopes=["read", "events:write"], actor=None)
            _shien, prefix, _secret = raw.split("_", 2)
            authorities[label] = {"objectType": "Agent", "name": "bench", "account": {"homePage": "http://testserver/api/xapi/", "name": prefix}}
            clients[label] = APIClient()
            clients[label].credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}", HTTP_X_EXPERIENCE_API_VERSION="1.0.3")
            tenants[label] = tenant
        with connection.cursor() as cur:
            cur.execute("SELECT md5('reg' || 3)::uuid")
            registration = str(cur.fetchone()[0])
        plan = queries()
        plan["registration"] = {"registration": registration}
        for label, size in (("10k", SMALL), ("1M", LARGE)):
            print(f"loading {size:,} statements into tenant {tenants[label].slug}", flush=True)
            load(tenants[label].pk, authorities[label], 0, size)
        results: dict[str, dict[str, tuple[float, int, float]]] = {}
        for name, params in plan.items():
            timed = measure(clients, params)
            results[name] = {label: (*timed[label], db_ms(clients[label], params)) for label in clients}
            if EXPLAIN:
                explain(clients["1M"], name, params)
        print()
        print(f"{'':32} {'request (ms)':^22}  {'database (ms)':^22}")
        print(f"{'filter':32} {'10k':>6} {'1M':>6} {'ratio':>6}  {'10k':>6} {'1M':>6} {'ratio':>6}  rows")
        worst = worst_db = 0.0
        for name, by_size in results.items():
            (small_ms, small_n, small_db), (large_ms, large_n, large_db) = by_size["10k"], by_size["1M"]
            ratio, ratio_db = large_ms / small_ms, large_db / small_db
            worst, worst_db = max(worst, ratio), max(worst_db, ratio_db)
            print(f"{name:32} {small_ms:6.1f} {large_ms:6.1f} {ratio:6.2f}  {small_db:6.2f} {large_db:6.2f} {ratio_db:6.2f}  {small_n}/{large_n}")
        print(f"\nworst ratio 1M/10k: request {worst:.2f}, database {worst_db:.2f} (goal ≤ 1.5)")
    finally:
        drop_database()
        print(f"dropped {BENCH_DB}")


if __name__ == "__main__":
    main()
