"""Rollup benchmark (``make bench``; not part of the test suite). PostgreSQL only.

Generates >= 2,000,000 events for one tenant set-based (INSERT … SELECT generate_series), then
prints ratios measured in the same run:

(a) the rollup's daily-fact step (DELETE + INSERT … SELECT … GROUP BY) on the full history
    ÷ a hand-written ``INSERT … SELECT … GROUP BY … ON CONFLICT DO UPDATE`` of the same daily
    facts on the same data (goal <= 1.5); the whole full rollup (all four fact tables) is
    printed beside it for information;
(b) the incremental rollup of 1 new day (~20k events) on top of the 2M history ÷ the same
    incremental rollup of the same day on an empty history (goal <= 2).

DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/shien_bench; the database is
dropped and re-created on every run (the log is append-only, so this is how it is emptied).
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
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/shien_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prm.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

HISTORY_EVENTS = int(os.environ.get("BENCH_EVENTS", 2_000_000))
HISTORY_DAYS = 180
NEW_DAY_EVENTS = 20_000
PARTNERS = 1_000
USERS_PER_PARTNER = 3
ASSETS = 200
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def recreate_database() -> None:
    import psycopg

    url = urlparse(os.environ["DATABASE_URL"])
    name = url.path.lstrip("/")
    admin = url._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    recreate_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit("bench/rollup.py needs PostgreSQL (DATABASE_URL)")
    print("migrating…", flush=True)
    call_command("migrate", verbosity=0)

    from django_scopes import scope

    from kpis.models import DailyActivityFact, RollupState
    from kpis.rollup import rollup_tenant
    from partners.models import Tenant

    big = Tenant.objects.create(name="Bench history", slug="bench-history", time_zone="Asia/Tokyo")
    empty = Tenant.objects.create(name="Bench empty", slug="bench-empty", time_zone="Asia/Tokyo")
    for tenant in (big, empty):
        dimensions(connection, tenant.pk)

    t = time.perf_counter()
    generate(connection, big.pk, HISTORY_EVENTS, START, HISTORY_DAYS, "h")
    print(f"generated {HISTORY_EVENTS:,} history events in {time.perf_counter() - t:.1f}s", flush=True)
    with connection.cursor() as c:
        c.execute("ANALYZE")

    # (a) full rollup vs hand-written INSERT … ON CONFLICT of the same daily facts -------------------
    hand, ours, whole = [], [], []
    for _ in range(2):
        with scope(tenant=big.pk):
            DailyActivityFact.objects.filter(tenant=big).delete()
        hand.append(handwritten_daily(connection, big))
        with scope(tenant=big.pk):
            RollupState.objects.filter(tenant=big).delete()
            stats = rollup_tenant(big, full=True)
        ours.append(stats.seconds["daily facts"])
        whole.append(stats.total_seconds)
    with scope(tenant=big.pk):
        daily_rows = DailyActivityFact.objects.filter(tenant=big).count()
    a = min(ours) / min(hand)
    print(f"\n(a) daily facts: rollup {min(ours):.2f}s vs hand-written ON CONFLICT {min(hand):.2f}s "
          f"({daily_rows:,} fact rows) → ratio {a:.2f} (goal <= 1.5)")
    print(f"    whole full rollup (daily + FAQ + partner/user states) {min(whole):.2f}s "
          f"= {min(whole) / min(hand):.2f} × the hand-written daily facts")
    print("    steps of the last full run: " + ", ".join(f"{k} {v:.2f}s" for k, v in stats.seconds.items()))

    # (b) one new day on top of the history vs on an empty history ------------------------------------
    history_end = START + dt.timedelta(days=HISTORY_DAYS)
    with scope(tenant=empty.pk):  # the empty tenant has rolled up before (nothing): same incremental path
        RollupState.objects.update_or_create(tenant=empty, defaults={"watermark": history_end})
    for tenant, prefix in ((big, "n"), (empty, "n")):
        generate(connection, tenant.pk, NEW_DAY_EVENTS, history_end + dt.timedelta(hours=1), 1, prefix,
                 received_delay="2 hours")
    with connection.cursor() as c:
        c.execute("ANALYZE")
    results = {}
    for label, tenant in (("history", big), ("empty", empty)):
        with scope(tenant=tenant.pk):
            t = time.perf_counter()
            stats = rollup_tenant(tenant)
            results[label] = (time.perf_counter() - t, stats)
    (th, sh), (te, se) = results["history"], results["empty"]
    print(f"\n(b) incremental rollup of 1 new day ({NEW_DAY_EVENTS:,} events): on {HISTORY_EVENTS:,} history "
          f"{th:.3f}s ({sh.days} days) vs empty history {te:.3f}s ({se.days} days) → ratio {th / te:.2f} (goal <= 2)")
    print("    history steps: " + ", ".join(f"{k} {v:.3f}s" for k, v in sh.seconds.items()))
    print("    empty steps:   " + ", ".join(f"{k} {v:.3f}s" for k, v in se.seconds.items()))


def dimensions(connection, tenant_id: int) -> None:
    """Partners, users (with memberships), tiers and assets, set-based."""
    with connection.cursor() as c:
        c.execute(
            "INSERT INTO partners_partnertier (tenant_id, name, rank) SELECT %s, 'Tier ' || g, g FROM generate_series(1, 3) g",
            [tenant_id],
        )
        c.execute(
            "INSERT INTO partners_partner (tenant_id, name, external_id, segment, region, status, joined_on, "
            "cohort_override, created_at, tier_id) "
            "SELECT %s, 'Partner ' || g, '', 'SMB', 'Kanto', 'active', DATE '2025-06-01' + (g %% 200), '', now(), "
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
            "external_id, video_file, video_url, duration_seconds, completion_threshold, created_at, updated_at, published_at) "
            "SELECT %s, (ARRAY['training', 'document', 'faq'])[1 + g %% 3], 'Asset ' || g, '', '', 'ja', '', '', 'published', "
            "'', '', '', 600, 90, now(), now(), now() FROM generate_series(1, %s) g",
            [tenant_id, ASSETS],
        )


def generate(connection, tenant_id: int, n: int, start: dt.datetime, days: int, prefix: str,
             received_delay: str = "30 seconds") -> None:
    """n events spread evenly over ``days`` days from ``start``, set-based."""
    span = days * 86400
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
                CASE WHEN g.i %% 10 = 0 OR g.i %% 50 = 1 THEN NULL ELSE s.id END,
                CASE WHEN g.i %% 10 = 0 THEN 'portal.login' WHEN g.i %% 50 = 1 THEN 'faq.searched'
                     WHEN s.kind = 'training' THEN (ARRAY['training.started', 'training.progressed',
                          'training.progressed', 'training.completed'])[1 + g.i %% 4]
                     WHEN s.kind = 'document' THEN (ARRAY['document.viewed', 'document.downloaded'])[1 + g.i %% 2]
                     ELSE (ARRAY['faq.viewed', 'faq.feedback'])[1 + g.i %% 2] END,
                g.at, g.at + interval '{received_delay}',
                CASE WHEN s.kind = 'training' THEN (g.i %% 101)::float8 END,
                CASE WHEN s.kind = 'training' THEN (g.i %% 300)::float8 END,
                NULL, NULL,
                CASE WHEN g.i %% 50 = 1 THEN (ARRAY['vpn', 'VPN setup', '料金 プラン', 'api key'])[1 + g.i %% 4] ELSE '' END,
                CASE WHEN g.i %% 50 = 1 THEN g.i %% 3 END,
                CASE WHEN g.i %% 10 <> 0 AND g.i %% 50 <> 1 AND s.kind = 'faq' AND g.i %% 2 = 1 THEN g.i %% 4 > 0 END,
                'import', %(prefix)s || g.i, '', '{{}}'::jsonb
            FROM g JOIN p ON p.n = g.pi JOIN u ON u.n = g.pi * {USERS_PER_PARTNER} + g.i %% {USERS_PER_PARTNER}
            JOIN s ON s.n = g.ai
            """,
            {"t": tenant_id, "start": start, "span": span, "n": n, "prefix": f"{prefix}{start:%Y%m%d}-"},
        )


def handwritten_daily(connection, tenant) -> float:
    """The reference: one INSERT … SELECT … GROUP BY … ON CONFLICT per unique index of the daily facts."""
    tz = tenant.time_zone
    select = (
        "SELECT e.tenant_id, (e.occurred_at AT TIME ZONE %s)::date, e.partner_id, e.asset_id, e.verb, COUNT(*), "
        "COUNT(DISTINCT e.user_id), COALESCE(SUM(e.seconds), 0), MAX(e.progress) "
        "FROM enablement_activityevent e WHERE e.tenant_id = %s AND e.asset_id IS {null} GROUP BY 1, 2, 3, 4, 5 "
    )
    update = (
        "DO UPDATE SET event_count = EXCLUDED.event_count, user_count = EXCLUDED.user_count, "
        "seconds = EXCLUDED.seconds, max_progress = EXCLUDED.max_progress"
    )
    cols = "(tenant_id, day, partner_id, asset_id, verb, event_count, user_count, seconds, max_progress)"
    t = time.perf_counter()
    with connection.cursor() as c:
        c.execute(
            f"INSERT INTO kpis_dailyactivityfact {cols} {select.format(null='NOT NULL')}"
            f"ON CONFLICT (tenant_id, day, partner_id, asset_id, verb) WHERE asset_id IS NOT NULL {update}",
            [tz, tenant.pk],
        )
        c.execute(
            f"INSERT INTO kpis_dailyactivityfact {cols} {select.format(null='NULL')}"
            f"ON CONFLICT (tenant_id, day, partner_id, verb) WHERE asset_id IS NULL {update}",
            [tz, tenant.pk],
        )
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
