"""Benchmark: server time of the manager overview and partners pages as the activity log grows.

What it does (PostgreSQL; ``DATABASE_URL`` or a local database ``shien_bench_dashboard``):

* Three tenants with the same dimensions — 500 partners (3 tiers, 5 users each), 60 published
  assets, tier assignments, 2 KPI definitions with 12 months of overall and per-partner results,
  partner/user asset states and support activities.
* Their rollup facts are generated directly in SQL (INSERT … SELECT over generate_series), not by
  rolling up raw events: generating and rolling up 20M raw events takes far longer than the
  benchmark is meant to. ``small`` gets ≈400k DailyActivityFact rows whose event_count sums to
  ≈2M events over the last 365 days. ``large`` (the headline ratio) is the same activity per day
  for ten years: ≈4M rows, ≈20M events, 120 months of KPI results — the log grown with time.
  ``dense`` puts ten times the activity into the same year (≈4M rows, ≈20M events): period
  aggregates then read ten times more fact rows, so it shows the cost of denser activity rather
  than of a longer history. FaqSearchFact grows the same way (≈50k vs ≈500k rows).
* Each page is requested in-process with Django's test Client as a logged-in channel manager:
  2 warm-up runs, then the median of 9 timed runs. The ratio large/small is printed (goal ≤ 1.3).

Run: ``.venv/bin/python bench/dashboard.py`` (``--rebuild`` regenerates the data).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres:///shien_bench_dashboard")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prm.settings")
os.environ.setdefault("DEBUG", "false")

PARTNERS = 500
ASSETS = 60
USERS_PER_PARTNER = 5
DAYS = 365
VERBS = ["training.started", "training.completed", "document.viewed", "document.downloaded"]
# small: one year of activity (~2M events). large: the same activity per day for ten years (~20M
# events: the log grows with time — the headline ratio). dense: ten times the activity per day in
# one year (~20M events crammed into the same days — reported too, see docs/benchmarks.md).
SETS = {
    "small": {"fact_share": 0.0092, "events": 2_000_000, "years": 1},
    "large": {"fact_share": 0.0092, "events": 2_000_000, "years": 10},
    "dense": {"fact_share": 0.092, "events": 20_000_000, "years": 1},
}
RUNS, WARMUP = 9, 2


def ensure_database() -> None:
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    if "postgresql" not in db["ENGINE"]:
        sys.exit("bench/dashboard.py needs PostgreSQL (set DATABASE_URL=postgres://...)")
    params = {k: v for k, v in {"host": db.get("HOST"), "port": db.get("PORT"), "user": db.get("USER"),
                                "password": db.get("PASSWORD")}.items() if v}
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{db["NAME"]}"')
        # The usual SSD setting (the default 4.0 models spinning disks): with it the planner reads a
        # period through the (tenant, day) index instead of walking the tenant's whole history.
        conn.execute(f'ALTER DATABASE "{db["NAME"]}" SET random_page_cost = 1.1')


def build_tenant(slug: str, spec: dict) -> None:
    import datetime as dt
    from decimal import Decimal

    from django.db import connection
    from django.utils import timezone

    from enablement.models import Asset, Assignment, Team
    from kpis.models import KpiDefinition, KpiResult, PartnerAssetState, RollupState
    from kpis.periods import period_bounds
    from partners.models import Membership, Partner, PartnerTier, Role, SupportActivity, Tenant, User
    from partners.tenancy import tenant_scope

    tenant, _ = Tenant.objects.get_or_create(slug=slug, defaults={"name": f"Bench {slug}", "default_language": "ja"})
    today = timezone.localdate()
    with tenant_scope(tenant):
        manager_user, _ = User.objects.get_or_create(email=f"manager@{slug}.bench", defaults={"name": "Bench Manager"})
        Membership.objects.get_or_create(tenant=tenant, user=manager_user, defaults={"role": Role.CHANNEL_MANAGER})
        tiers = [PartnerTier.objects.create(tenant=tenant, name=n, rank=i + 1) for i, n in enumerate(["Gold", "Silver", "Bronze"])]
        teams = [Team.objects.create(tenant=tenant, name=n) for n in ["Sales", "Marketing", "Education"]]
        partners = Partner.objects.bulk_create(
            [Partner(tenant=tenant, name=f"Partner {i:04d}", tier=tiers[i % 3], segment=["SMB", "Enterprise"][i % 2],
                     status=["active", "nurturing", "onboarding", "dormant"][i % 4], manager=manager_user,
                     joined_on=today - dt.timedelta(days=400)) for i in range(PARTNERS)]
        )
        assets = Asset.objects.bulk_create(
            [Asset(tenant=tenant, kind=["training", "document", "faq"][i % 3], title=f"Asset {i:03d}", status="published",
                   team=teams[i % 3], duration_seconds=600, published_at=timezone.now()) for i in range(ASSETS)]
        )
        Assignment.objects.bulk_create(
            [Assignment(tenant=tenant, asset=assets[i], target="tier", tier=tiers[i % 3],
                        due_on=today - dt.timedelta(days=10 * i)) for i in range(0, ASSETS, 3)]
        )
        users = User.objects.bulk_create(
            [User(email=f"u{p.pk}-{k}@{slug}.bench", name=f"User {p.pk}-{k}") for p in partners for k in range(USERS_PER_PARTNER)]
        )
        Membership.objects.bulk_create(
            [Membership(tenant=tenant, user=u, role=Role.PARTNER_USER, partner=partners[i // USERS_PER_PARTNER])
             for i, u in enumerate(users)]
        )
        PartnerAssetState.objects.bulk_create(
            [PartnerAssetState(tenant=tenant, partner=p, asset=a, completed_users=(p.pk + a.pk) % 3, active_users=1,
                               first_completed_at=timezone.now() if (p.pk + a.pk) % 3 else None)
             for p in partners for a in assets[:30]],
            batch_size=5000,
        )
        SupportActivity.objects.bulk_create(
            [SupportActivity(tenant=tenant, partner=p, manager=manager_user, kind="meeting",
                             occurred_on=today - dt.timedelta(days=p.pk % 60)) for p in partners]
        )
        definitions = [
            KpiDefinition.objects.create(tenant=tenant, name_ja="支援消化率", name_en="Enablement completion rate",
                                         metric="enablement_completion_rate", period="month", target=Decimal("80")),
            KpiDefinition.objects.create(tenant=tenant, name_ja="資料ダウンロード数", name_en="Document downloads",
                                         metric="document_downloads", period="month", target=Decimal("500")),
        ]
        results = []
        start = today.replace(day=1)
        for _month in range(12 * spec["years"]):
            s, e = period_bounds("month", start)
            for d in definitions:
                results.append(KpiResult(tenant=tenant, definition=d, period_start=s, period_end=e, value=Decimal("61.5"),
                                         numerator=Decimal("615"), denominator=Decimal("1000"), target=d.target, status="at_risk"))
                results += [KpiResult(tenant=tenant, definition=d, partner=p, period_start=s, period_end=e,
                                      value=Decimal((p.pk * 7) % 100), target=d.target, status="at_risk") for p in partners]
            start = s - dt.timedelta(days=1)
            start = start.replace(day=1)
        KpiResult.objects.bulk_create(results, batch_size=5000)
        RollupState.objects.create(tenant=tenant, status="idle", finished_at=timezone.now(), kpis_computed_at=timezone.now())
        pmin, pmax = partners[0].pk, partners[-1].pk
        amin, amax = assets[0].pk, assets[-1].pk
        threshold = int(spec["fact_share"] * 100_000)
        combos = DAYS * PARTNERS * ASSETS * len(VERBS)
        target_rows = combos * spec["fact_share"]
        mean_events = max(1, round(spec["events"] / target_rows))
        with connection.cursor() as cur:
            cur.execute(
                """
                INSERT INTO kpis_dailyactivityfact (tenant_id, day, partner_id, asset_id, verb, event_count, user_count, max_progress)
                SELECT %(tenant)s, %(today)s::date - d, p, a, v, 1 + (h %% (2 * %(mean)s - 1)), 1 + (h %% 3), NULL
                FROM generate_series(0, %(days)s - 1) d
                CROSS JOIN generate_series(%(pmin)s, %(pmax)s) p
                CROSS JOIN generate_series(%(amin)s, %(amax)s) a
                CROSS JOIN unnest(%(verbs)s::text[]) v
                CROSS JOIN LATERAL (SELECT abs(hashtext(d || ':' || p || ':' || a || ':' || v)) AS h) x
                WHERE h %% 100000 < %(threshold)s
                """,
                {"tenant": tenant.pk, "today": today, "days": DAYS, "pmin": pmin, "pmax": pmax, "amin": amin,
                 "amax": amax, "verbs": VERBS, "threshold": threshold, "mean": mean_events},
            )
            cur.execute(
                """
                INSERT INTO kpis_faqsearchfact (tenant_id, day, partner_id, query, searches, zero_result_searches, unresolved_searches)
                SELECT %(tenant)s, %(today)s::date - d, p, 'keyword ' || k, 1 + (h %% 5), (h %% 2), (h %% 3)
                FROM generate_series(0, %(days)s - 1) d
                CROSS JOIN generate_series(%(pmin)s, %(pmax)s) p
                CROSS JOIN generate_series(1, 20) k
                CROSS JOIN LATERAL (SELECT abs(hashtext(d || '/' || p || '/' || k)) AS h) x
                WHERE h %% 100000 < %(threshold)s
                """,
                {"tenant": tenant.pk, "today": today, "days": DAYS, "pmin": pmin, "pmax": pmax, "threshold": threshold * 1.4},
            )
            if spec["years"] > 1:  # the same year of activity repeated further back in time
                for table, columns in (
                    ("kpis_dailyactivityfact", "partner_id, asset_id, verb, event_count, user_count, max_progress"),
                    ("kpis_faqsearchfact", "partner_id, query, searches, zero_result_searches, unresolved_searches"),
                ):
                    cur.execute(
                        f"INSERT INTO {table} (tenant_id, day, {columns}) "  # noqa: S608
                        f"SELECT tenant_id, day - 365 * k, {columns} FROM {table} "
                        "CROSS JOIN generate_series(1, %s) k WHERE tenant_id = %s",
                        [spec["years"] - 1, tenant.pk],
                    )
            cur.execute("ANALYZE")


def fact_summary(slug: str) -> tuple[int, int]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*), coalesce(sum(event_count), 0) FROM kpis_dailyactivityfact f "
            "JOIN partners_tenant t ON t.id = f.tenant_id WHERE t.slug = %s",
            [slug],
        )
        return cur.fetchone()


def main() -> None:
    import django

    django.setup()
    ensure_database()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django_scopes import scopes_disabled

    from partners.models import Tenant, User

    call_command("migrate", verbosity=0, interactive=False)
    rebuild = "--rebuild" in sys.argv
    built = False
    with scopes_disabled():
        for slug, spec in SETS.items():
            bench_slug = f"bench-{slug}"
            existing = Tenant.objects.filter(slug=bench_slug).first()
            if existing and rebuild:
                with connection.cursor() as cur:  # facts first: the log's append-only triggers do not apply here
                    for table in ("kpis_dailyactivityfact", "kpis_faqsearchfact", "kpis_kpiresult", "kpis_partnerassetstate"):
                        cur.execute(f"DELETE FROM {table} WHERE tenant_id = %s", [existing.pk])  # noqa: S608
                User.objects.filter(email__endswith=f"@{bench_slug}.bench").delete()
                existing.delete()
                existing = None
            if existing is None:
                started = time.perf_counter()
                build_tenant(bench_slug, spec)
                print(f"built {bench_slug} in {time.perf_counter() - started:.0f}s")
                built = True
    if built:
        # A rollup appends facts day by day, so on disk they follow (tenant, day). The generator
        # inserts them in another order; CLUSTER restores the layout a real tenant's table has.
        with connection.cursor() as cur:
            cur.execute("CLUSTER kpis_dailyactivityfact USING daily_fact_tenant_day")
            cur.execute("CLUSTER kpis_faqsearchfact USING faq_fact_tenant_day")
            cur.execute("ANALYZE")
    # Runs are interleaved across the data sets (set A, B, C, A, B, C, …) so that load from
    # anything else on the machine falls on all of them alike.
    clients, results = {}, {}
    for slug in SETS:
        bench_slug = f"bench-{slug}"
        rows, events = fact_summary(bench_slug)
        client = Client()
        with scopes_disabled():
            client.force_login(User.objects.get(email=f"manager@{bench_slug}.bench"))
        clients[slug] = client
        results[slug] = {"facts": rows, "events": events}
    pages = {"overview": "", "partners": "partners/", "partners_sorted": "partners/?sort=-downloads"}
    for page, suffix in pages.items():
        samples = {slug: [] for slug in SETS}
        for run in range(WARMUP + RUNS):
            for slug in SETS:
                url = f"/t/bench-{slug}/manage/{suffix}"
                start = time.perf_counter()
                response = clients[slug].get(url)
                elapsed = time.perf_counter() - start
                assert response.status_code == 200, url
                if run >= WARMUP:
                    samples[slug].append(elapsed)
        for slug in SETS:
            results[slug][page] = statistics.median(samples[slug])
    print(f"\nDashboards on PostgreSQL ({connection.vendor}), median of {RUNS} runs after {WARMUP} warm-ups:")
    print(f"{'page':<18}{'small (ms)':>12}{'large (ms)':>12}{'ratio':>8}{'dense (ms)':>12}{'ratio':>8}")
    for page in ("overview", "partners", "partners_sorted"):
        small, large, dense = (results[k][page] * 1000 for k in ("small", "large", "dense"))
        print(f"{page:<18}{small:>12.1f}{large:>12.1f}{large / small:>8.2f}{dense:>12.1f}{dense / small:>8.2f}")
    for slug in SETS:
        print(f"{slug}: {results[slug]['facts']:,} daily fact rows, {results[slug]['events']:,} events rolled up")


if __name__ == "__main__":
    main()
