"""Benchmark: the periodic KPI job at 4,000 partners — everything every run vs what changed.

What it does (PostgreSQL, its OWN database ``shien_bench_kpijob`` on the server of
``BENCH_PG_SERVER``, default ``postgres://shien_kpijob@127.0.0.1:5432``; it refuses to run with
``DATABASE_URL`` set, and never drops a database it did not create — it marks its own with a
COMMENT and refuses any other):

* One tenant with 4,000 partners (two users each), 60 published assets, 20 tier assignments, one
  monthly KPI definition per metric plus weekly enablement and active-partner rates (14
  definitions), 90 days of daily facts and FAQ facts generated in SQL (432,673 daily fact rows),
  partner asset states with first completions, a support activity per partner. The rollup's
  watermark is set to now, so runs are incremental over the log.
* Three cases of the 5-minute job (``kpis_refresh_now``: rollup + KPI computation, periods_back=1,
  every COMMIT included), each timed *before* (``touched=None``: every period and partner computed,
  what each run did before the job was scoped) and *after* (the rollup's touched partners and days):
  no new events; 20 new events of one partner (a fresh batch per run); and a full run (the first run
  of a day, the nightly safety net). Interleaved, 3 rounds, the median; printed as ratios to the full run.
* Then one more one-partner scoped run with every SELECT on the daily facts timed: those restricted
  to the touched partner's ids, and each one over more partners (with its time and text).

Run: ``.venv/bin/python bench/kpi_job.py`` (``--rebuild`` regenerates the data; ``BENCH_KPIJOB_ROUNDS``
sets the number of rounds, 3 by default).
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_NAME = os.environ.get("BENCH_KPIJOB_DB", "shien_bench_kpijob")
if not DB_NAME.startswith("shien_bench_kpijob"):
    sys.exit("BENCH_KPIJOB_DB must start with shien_bench_kpijob")
MARK = "created by bench/kpi_job.py"
SERVER = os.environ.get("BENCH_PG_SERVER", "postgres://shien_kpijob@127.0.0.1:5432").rstrip("/")
if os.environ.get("DATABASE_URL"):
    sys.exit(f"DATABASE_URL is set: this benchmark uses its own database only ({DB_NAME}); unset it")
os.environ["DATABASE_URL"] = f"{SERVER}/{DB_NAME}"
os.environ.pop("DATABASE_REPLICA_URL", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prm.settings")
os.environ.setdefault("DEBUG", "false")

PARTNERS = 4000
USERS_PER_PARTNER = 2
ASSETS = 60
DAYS = 90
FACT_SHARE = 0.005  # of (day, partner, asset, verb) combinations that have a fact row
VERBS = ["training.started", "training.completed", "document.viewed", "document.downloaded"]
ROUNDS = int(os.environ.get("BENCH_KPIJOB_ROUNDS", "3"))
SLUG = "kpijob"


def _admin():
    import psycopg

    return psycopg.connect(f"{SERVER}/postgres", autocommit=True)


def prepare_database(rebuild: bool) -> bool:
    """Create the benchmark's database (or keep it); True when it has to be built."""
    with _admin() as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [DB_NAME]
        ).fetchone()
        if row is not None and row[0] != MARK:
            sys.exit(f"database {DB_NAME} exists but was not created by this benchmark: refusing to touch it")
        if row is not None and not rebuild:
            return False
        if row is not None:
            conn.execute(f'DROP DATABASE "{DB_NAME}"')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
        conn.execute(f"COMMENT ON DATABASE \"{DB_NAME}\" IS '{MARK}'")
        conn.execute(f'ALTER DATABASE "{DB_NAME}" SET random_page_cost = 1.1')
    return True


def build_tenant() -> None:
    import datetime as dt
    from decimal import Decimal

    from django.db import connection
    from django.utils import timezone

    from enablement.models import Asset, Assignment
    from kpis.models import KpiDefinition, Metric, RollupState
    from partners.models import Membership, Partner, PartnerTier, Role, SupportActivity, Tenant, User
    from partners.tenancy import tenant_scope

    tenant = Tenant.objects.create(slug=SLUG, name="Bench KPI job", default_language="ja")
    today = timezone.localdate(timezone=tenant.zoneinfo)
    with tenant_scope(tenant):
        manager = User.objects.create(email=f"manager@{SLUG}.bench", name="Bench Manager")
        Membership.objects.create(tenant=tenant, user=manager, role=Role.CHANNEL_MANAGER)
        tiers = [PartnerTier.objects.create(tenant=tenant, name=n, rank=i + 1) for i, n in enumerate(["Gold", "Silver", "Bronze"])]
        partners = Partner.objects.bulk_create(
            [Partner(tenant=tenant, name=f"Partner {i:05d}", tier=tiers[i % 3], segment=["SMB", "Enterprise"][i % 2],
                     status=["active", "nurturing", "onboarding", "dormant"][i % 4], manager=manager,
                     joined_on=today - dt.timedelta(days=400 - i % 300)) for i in range(PARTNERS)],
            batch_size=5000,
        )
        assets = Asset.objects.bulk_create(
            [Asset(tenant=tenant, kind=["training", "document", "faq"][i % 3], title=f"Asset {i:03d}", status="published",
                   duration_seconds=600, published_at=timezone.now() - dt.timedelta(days=200)) for i in range(ASSETS)]
        )
        Assignment.objects.bulk_create(
            [Assignment(tenant=tenant, asset=assets[i], target="tier", tier=tiers[i % 3],
                        due_on=today - dt.timedelta(days=3 * i)) for i in range(0, ASSETS, 3)]
        )
        users = User.objects.bulk_create(
            [User(email=f"u{p.pk}-{k}@{SLUG}.bench", name=f"User {p.pk}-{k}") for p in partners for k in range(USERS_PER_PARTNER)],
            batch_size=5000,
        )
        Membership.objects.bulk_create(
            [Membership(tenant=tenant, user=u, role=Role.PARTNER_USER, partner=partners[i // USERS_PER_PARTNER])
             for i, u in enumerate(users)],
            batch_size=5000,
        )
        SupportActivity.objects.bulk_create(
            [SupportActivity(tenant=tenant, partner=p, manager=manager, kind="meeting",
                             occurred_on=today - dt.timedelta(days=p.pk % 60)) for p in partners],
            batch_size=5000,
        )
        for metric in Metric.values:
            KpiDefinition.objects.create(tenant=tenant, name_ja=metric, name_en=metric, metric=metric, period="month",
                                         target=Decimal("50"))
        for metric in ("enablement_completion_rate", "active_partner_rate"):
            KpiDefinition.objects.create(tenant=tenant, name_ja=metric, name_en=metric, metric=metric, period="week",
                                         target=Decimal("50"))
        threshold = int(FACT_SHARE * 100_000)
        params = {"tenant": tenant.pk, "today": today, "days": DAYS, "pmin": partners[0].pk, "pmax": partners[-1].pk,
                  "amin": assets[0].pk, "amax": assets[-1].pk, "verbs": VERBS, "threshold": threshold}
        with connection.cursor() as cur:
            cur.execute(
                """
                INSERT INTO kpis_dailyactivityfact (tenant_id, day, partner_id, asset_id, verb, event_count, user_count, max_progress)
                SELECT %(tenant)s, %(today)s::date - d, p, a, v, 1 + (h %% 9), 1 + (h %% 2), NULL
                FROM generate_series(1, %(days)s) d
                CROSS JOIN generate_series(%(pmin)s, %(pmax)s) p
                CROSS JOIN generate_series(%(amin)s, %(amax)s) a
                CROSS JOIN unnest(%(verbs)s::text[]) v
                CROSS JOIN LATERAL (SELECT abs(hashtext(d || ':' || (p - %(pmin)s) || ':' || (a - %(amin)s) || ':' || v)) AS h) x
                WHERE h %% 100000 < %(threshold)s
                """,
                params,
            )
            cur.execute(
                """
                INSERT INTO kpis_faqsearchfact (tenant_id, day, partner_id, query, searches, zero_result_searches, unresolved_searches)
                SELECT %(tenant)s, %(today)s::date - d, p, 'keyword ' || k, 1 + (h %% 5), (h %% 2), (h %% 3)
                FROM generate_series(1, %(days)s) d
                CROSS JOIN generate_series(%(pmin)s, %(pmax)s) p
                CROSS JOIN generate_series(1, 10) k
                CROSS JOIN LATERAL (SELECT abs(hashtext(d || '/' || (p - %(pmin)s) || '/' || k)) AS h) x
                WHERE h %% 100000 < %(threshold)s * 3
                """,
                params,
            )
            cur.execute(
                """
                INSERT INTO kpis_partnerassetstate (tenant_id, partner_id, asset_id, first_activity_at, last_activity_at,
                    first_completed_at, completed_users, active_users, max_progress)
                SELECT %(tenant)s, p, a, now() - (h %% 80) * interval '1 day', now() - (h %% 5) * interval '1 day',
                    CASE WHEN h %% 3 = 0 THEN now() - (h %% 70) * interval '1 day' END, CASE WHEN h %% 3 = 0 THEN 1 ELSE 0 END, 1, NULL
                FROM generate_series(%(pmin)s, %(pmax)s) p
                CROSS JOIN generate_series(%(amin)s, %(amax)s) a
                CROSS JOIN LATERAL (SELECT abs(hashtext(p || '~' || a)) AS h) x
                WHERE h %% 4 = 0
                """,
                params,
            )
            cur.execute("SELECT statement_timestamp()")
            now = cur.fetchone()[0]
        RollupState.objects.create(tenant=tenant, status="idle", watermark=now, overlap_events=0)


def one_partner_batch(tenant, n: int):
    """20 events of one partner (one of its users), received now."""
    import datetime as dt

    from django.utils import timezone

    from enablement.models import ActivityEvent, Asset
    from enablement.services.log import activity_record_many
    from partners.models import Membership, Role

    member = Membership.objects.filter(tenant=tenant, role=Role.PARTNER_USER).order_by("pk").first()
    asset = Asset.objects.filter(tenant=tenant, kind="document").order_by("pk").first()
    now = timezone.now()
    events = [
        ActivityEvent(tenant=tenant, partner_id=member.partner_id, user_id=member.user_id, asset=asset,
                      verb="document.downloaded", occurred_at=now - dt.timedelta(minutes=30 - i), source="api",
                      event_id=f"bench-{n}-{i}")
        for i in range(20)
    ]
    activity_record_many(tenant=tenant, events=events)


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    import django

    rebuild = prepare_database("--rebuild" in sys.argv)
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from kpis.metrics import compute_kpis
    from kpis.rollup import rollup_tenant
    from kpis.services import kpis_refresh_now
    from partners.models import Tenant
    from partners.tenancy import tenant_scope

    if rebuild:
        t0 = time.perf_counter()
        call_command("migrate", verbosity=0)
        build_tenant()
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
        print(f"built in {time.perf_counter() - t0:.0f} s")
    tenant = Tenant.objects.get(slug=SLUG)
    with tenant_scope(tenant), connection.cursor() as cur:
        cur.execute(
            "SELECT (SELECT count(*) FROM partners_partner WHERE tenant_id = %s),"
            " (SELECT count(*) FROM kpis_dailyactivityfact WHERE tenant_id = %s),"
            " (SELECT count(*) FROM kpis_kpidefinition WHERE tenant_id = %s AND is_active)",
            [tenant.pk] * 3,
        )
        partners, facts, defs = cur.fetchone()
    print(f"{partners:,} partners, {facts:,} daily fact rows, {defs} KPI definitions")

    def before() -> dict:
        """The job as it was: the rollup, then every period and partner computed."""
        report: dict = {}
        rollup_tenant(tenant)
        report["results"] = compute_kpis(tenant, periods_back=1, report=report)
        return report

    def after() -> dict:
        result = kpis_refresh_now(tenant=tenant, periods_back=1)
        return {"results": result.results, "written": result.written, "scope": result.scope}

    times: dict[str, list[float]] = {k: [] for k in ("full", "idle before", "idle after", "one before", "one after")}
    info: dict[str, dict] = {}
    batch = int(time.time())
    with tenant_scope(tenant):
        before()  # warm-up: snapshots, frozen pairs, stored results; sets the day's full computation
        for _round in range(ROUNDS):
            for key, fn, events in (
                ("full", before, False),
                ("idle before", before, False),
                ("idle after", after, False),
                ("one before", before, True),
                ("one after", after, True),
            ):
                if events:
                    batch += 1
                    one_partner_batch(tenant, batch)
                out: dict = {}
                times[key].append(timed(lambda fn=fn, out=out: out.update(fn())))
                info[key] = out
        # where one partner's scoped run reads the daily facts: each SELECT on them, restricted to
        # the touched partner's ids or over every partner (the job's other statements not listed)
        batch += 1
        one_partner_batch(tenant, batch)
        fact_reads: list[tuple[float, bool, str]] = []

        def reads(execute, sql, params, many, context):
            t0 = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                if "kpis_dailyactivityfact" in sql and sql.lstrip().upper().startswith(("SELECT", "WITH")):
                    narrow = bool(re.search(r'"kpis_dailyactivityfact"\."partner_id" IN \(%s(, %s){0,9}\)', sql))
                    fact_reads.append((time.perf_counter() - t0, narrow, " ".join(sql.split())[:110]))

        with connection.execute_wrapper(reads):
            profiled = timed(after)
    full = statistics.median(times["full"])
    narrow_s = sum(t for t, n, _ in fact_reads if n)
    wide = [(t, sql) for t, n, sql in fact_reads if not n]
    print(f"\none partner's scoped run, profiled: {profiled:.2f} s; SELECTs on the daily facts: "
          f"{len(fact_reads) - len(wide)} restricted to <= 10 partners ({narrow_s:.3f} s), "
          f"{len(wide)} over more partners ({sum(t for t, _ in wide):.3f} s)")
    for t, sql in wide:
        print(f"  {t:7.3f} s  {sql}")
    print(f"\n{'case':<34} {'median s':>9} {'runs (s)':>26} {'÷ full':>7}  results computed / written")
    for key, label in (
        ("full", "full run (every period, partner)"),
        ("idle before", "no new events, before"),
        ("idle after", "no new events, after"),
        ("one before", "1 partner's events, before"),
        ("one after", "1 partner's events, after"),
    ):
        med = statistics.median(times[key])
        runs = ", ".join(f"{t:.2f}" for t in times[key])
        i = info[key]
        print(f"{label:<34} {med:>9.3f} {runs:>26} {med / full:>7.3f}  {i.get('results')} / {i.get('written')}"
              f" {i.get('scope', 'full')}")


if __name__ == "__main__":
    main()
