"""Benchmark: every dashboard page at vendor scale — 40 partners against 5,000 partners.

What it does (PostgreSQL, its OWN database ``shien_bench_scale`` on the server of ``BENCH_PG_SERVER``,
default ``postgres://postgres@127.0.0.1:5432``; it never uses DATABASE_URL's database and never drops
a database it did not create — it marks its own with a COMMENT and refuses any other):

* Two tenants with the same per-partner shape: ``small`` (40 partners, 400 partner users) and
  ``vendor`` (5,000 partners, 50,000 partner users); 60 published assets, tier assignments, two KPI
  definitions with 12 months of overall and per-partner results, partner asset states, support
  activities, won deals (the success-pattern cohorts). Rollup facts for 90 days are generated in
  SQL (INSERT … SELECT over generate_series), the same density per partner in both tenants.
  Dashboards read facts and results only, never the raw log, so no raw events are generated here.
* Each page (and its htmx fragment) is requested in-process with Django's test Client as a
  logged-in channel manager — the full response, every query committed (autocommit): 1 warm-up,
  then the median of 5 timed runs; the query count; and the peak Python memory of one rendering
  (tracemalloc). Printed as ratios vendor/small.

Run: ``.venv/bin/python bench/scale.py`` (``--rebuild`` regenerates the data).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_NAME = "shien_bench_scale"
MARK = "created by bench/scale.py"
SERVER = os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432").rstrip("/")
_theirs = urlsplit(os.environ.get("DATABASE_URL", "")).path.lstrip("/")
if _theirs == DB_NAME:
    sys.exit(f"DATABASE_URL names {DB_NAME}: the benchmark keeps its database apart from yours; unset it")
os.environ["DATABASE_URL"] = f"{SERVER}/{DB_NAME}"
os.environ.pop("DATABASE_REPLICA_URL", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prm.settings")
os.environ.setdefault("DEBUG", "false")

SIZES = {"small": 40, "vendor": 5000}
USERS_PER_PARTNER = 10
ASSETS = 60
DAYS = 90
FACT_SHARE = 0.01  # of (day, partner, asset, verb) combinations that have a fact row
VERBS = ["training.started", "training.completed", "document.viewed", "document.downloaded"]
RUNS, WARMUP = 5, 1


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


def build_tenant(slug: str, partners_n: int) -> None:
    import datetime as dt
    from decimal import Decimal

    from django.db import connection
    from django.utils import timezone

    from enablement.models import Asset, Assignment, Team
    from kpis.models import KpiDefinition, KpiResult, PartnerAssetState, RollupState
    from kpis.periods import period_bounds
    from partners.deals.models import Deal
    from partners.models import Membership, Partner, PartnerTier, Role, SupportActivity, Tenant, User
    from partners.tenancy import tenant_scope

    tenant = Tenant.objects.create(slug=slug, name=f"Bench {slug}", default_language="ja")
    today = timezone.localdate()
    with tenant_scope(tenant):
        manager = User.objects.create(email=f"manager@{slug}.bench", name="Bench Manager")
        Membership.objects.create(tenant=tenant, user=manager, role=Role.CHANNEL_MANAGER)
        tiers = [PartnerTier.objects.create(tenant=tenant, name=n, rank=i + 1) for i, n in enumerate(["Gold", "Silver", "Bronze"])]
        teams = [Team.objects.create(tenant=tenant, name=n) for n in ["Sales", "Marketing", "Education"]]
        partners = Partner.objects.bulk_create(
            [Partner(tenant=tenant, name=f"Partner {i:05d}", tier=tiers[i % 3], segment=["SMB", "Enterprise"][i % 2],
                     status=["active", "nurturing", "onboarding", "dormant"][i % 4], manager=manager,
                     joined_on=today - dt.timedelta(days=400)) for i in range(partners_n)],
            batch_size=5000,
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
            [User(email=f"u{p.pk}-{k}@{slug}.bench", name=f"User {p.pk}-{k}") for p in partners for k in range(USERS_PER_PARTNER)],
            batch_size=5000,
        )
        Membership.objects.bulk_create(
            [Membership(tenant=tenant, user=u, role=Role.PARTNER_USER, partner=partners[i // USERS_PER_PARTNER])
             for i, u in enumerate(users)],
            batch_size=5000,
        )
        PartnerAssetState.objects.bulk_create(
            [PartnerAssetState(tenant=tenant, partner=p, asset=a, completed_users=(p.pk + a.pk) % 3, active_users=1,
                               first_completed_at=timezone.now() if (p.pk + a.pk) % 3 else None,
                               last_activity_at=timezone.now() - dt.timedelta(days=(p.pk + a.pk) % 60))
             for p in partners for a in assets[:30]],
            batch_size=5000,
        )
        SupportActivity.objects.bulk_create(
            [SupportActivity(tenant=tenant, partner=p, manager=manager, kind="meeting",
                             occurred_on=today - dt.timedelta(days=p.pk % 60)) for p in partners],
            batch_size=5000,
        )
        Deal.objects.bulk_create(
            [Deal(tenant=tenant, partner=p, customer=f"Customer {p.pk}", amount=Decimal(1000 + p.pk % 977), stage="won",
                  closed_on=today - dt.timedelta(days=p.pk % 300)) for p in partners[::3]],
            batch_size=5000,
        )
        definitions = [
            KpiDefinition.objects.create(tenant=tenant, name_ja="支援消化率", name_en="Enablement completion rate",
                                         metric="enablement_completion_rate", period="month", target=Decimal("80")),
            KpiDefinition.objects.create(tenant=tenant, name_ja="資料ダウンロード数", name_en="Document downloads",
                                         metric="document_downloads", period="month", target=Decimal("500")),
        ]
        results, start = [], today.replace(day=1)
        for _month in range(12):
            s, e = period_bounds("month", start)
            for d in definitions:
                results.append(KpiResult(tenant=tenant, definition=d, period_start=s, period_end=e, value=Decimal("61.5"),
                                         numerator=Decimal("615"), denominator=Decimal("1000"), target=d.target, status="at_risk"))
                results += [KpiResult(tenant=tenant, definition=d, partner=p, period_start=s, period_end=e,
                                      value=Decimal((p.pk * 7) % 100), target=d.target, status="at_risk") for p in partners]
            start = (s - dt.timedelta(days=1)).replace(day=1)
        KpiResult.objects.bulk_create(results, batch_size=5000)
        RollupState.objects.create(tenant=tenant, status="idle", finished_at=timezone.now(), kpis_computed_at=timezone.now())
        threshold = int(FACT_SHARE * 100_000)
        with connection.cursor() as cur:
            cur.execute(
                """
                INSERT INTO kpis_dailyactivityfact (tenant_id, day, partner_id, asset_id, verb, event_count, user_count, max_progress)
                SELECT %(tenant)s, %(today)s::date - d, p, a, v, 1 + (h %% 9), 1 + (h %% 3), NULL
                FROM generate_series(0, %(days)s - 1) d
                CROSS JOIN generate_series(%(pmin)s, %(pmax)s) p
                CROSS JOIN generate_series(%(amin)s, %(amax)s) a
                CROSS JOIN unnest(%(verbs)s::text[]) v
                CROSS JOIN LATERAL (SELECT abs(hashtext(d || ':' || (p - %(pmin)s) || ':' || (a - %(amin)s) || ':' || v)) AS h) x
                WHERE h %% 100000 < %(threshold)s
                """,
                {"tenant": tenant.pk, "today": today, "days": DAYS, "pmin": partners[0].pk, "pmax": partners[-1].pk,
                 "amin": assets[0].pk, "amax": assets[-1].pk, "verbs": VERBS, "threshold": threshold},
            )
            cur.execute(
                """
                INSERT INTO kpis_faqsearchfact (tenant_id, day, partner_id, query, searches, zero_result_searches, unresolved_searches)
                SELECT %(tenant)s, %(today)s::date - d, p, 'keyword ' || k, 1 + (h %% 5), (h %% 2), (h %% 3)
                FROM generate_series(0, %(days)s - 1) d
                CROSS JOIN generate_series(%(pmin)s, %(pmax)s) p
                CROSS JOIN generate_series(1, 20) k
                CROSS JOIN LATERAL (SELECT abs(hashtext(d || '/' || (p - %(pmin)s) || '/' || k)) AS h) x
                WHERE h %% 100000 < %(threshold)s
                """,
                {"tenant": tenant.pk, "today": today, "days": DAYS, "pmin": partners[0].pk, "pmax": partners[-1].pk,
                 "threshold": threshold * 3},
            )


def pages(slug: str) -> dict[str, str]:
    from django.urls import reverse

    from partners.models import Partner, Tenant
    from partners.tenancy import tenant_scope

    tenant = Tenant.objects.get(slug=slug)
    with tenant_scope(tenant):
        first = Partner.objects.filter(tenant=tenant).order_by("pk").first()

    def url(name, **kw):
        return reverse(name, kwargs={"tenant_slug": slug, **kw})

    return {
        "overview": url("manage-overview"),
        "partners": url("manage-partners"),
        "partners by downloads, page 2": url("manage-partners") + "?sort=-downloads&page=2",
        "partner scorecard": url("manage-partner", partner_id=first.pk),
        "content": url("manage-content"),
        "faq": url("manage-faq"),
        "faq keyword": url("manage-faq-keyword") + "?keyword=keyword+3",
        "teams": url("manage-teams"),
        "success patterns": url("manage-patterns"),
    }


class QueryCounter:
    """An execute wrapper counting the statements of one request (kept across the connection's close)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def measure(slug: str) -> dict[str, dict]:
    from django.db import connection
    from django.test import Client

    from partners.models import User

    client = Client()
    client.force_login(User.objects.get(email=f"manager@{slug}.bench"))
    out = {}
    for name, page_url in pages(slug).items():
        for variant, headers in (("page", {}), ("htmx", {"HTTP_HX_REQUEST": "true"})):
            for _ in range(WARMUP):
                assert client.get(page_url, **headers).status_code == 200, (slug, name)
            times = []
            for _ in range(RUNS):
                t0 = time.perf_counter()
                response = client.get(page_url, **headers)
                times.append(time.perf_counter() - t0)
            executed = QueryCounter()
            with connection.execute_wrapper(executed):
                client.get(page_url, **headers)
            tracemalloc.start()
            client.get(page_url, **headers)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            out[f"{name} ({variant})"] = {
                "ms": 1000 * statistics.median(times), "queries": executed.count,
                "kb": len(response.content) / 1024, "peak_mb": peak / 2**20,
            }
    return out


def main() -> None:
    import django

    rebuild = prepare_database("--rebuild" in sys.argv)
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if rebuild:
        t0 = time.perf_counter()
        call_command("migrate", verbosity=0)
        for slug, n in SIZES.items():
            build_tenant(slug, n)
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
        print(f"built in {time.perf_counter() - t0:.0f} s")
    with connection.cursor() as cur:
        cur.execute(
            "SELECT t.slug, (SELECT count(*) FROM partners_partner p WHERE p.tenant_id = t.id),"
            " (SELECT count(*) FROM partners_membership m WHERE m.tenant_id = t.id),"
            " (SELECT count(*) FROM kpis_dailyactivityfact f WHERE f.tenant_id = t.id) FROM partners_tenant t ORDER BY 2"
        )
        for slug, partners, members, facts in cur.fetchall():
            print(f"{slug}: {partners:,} partners, {members:,} memberships, {facts:,} daily fact rows")
    small, vendor = measure("small"), measure("vendor")
    print(f"\n{'page':<42} {'ms 40':>8} {'ms 5000':>8} {'ratio':>6} {'q 40':>5} {'q 5000':>6} "
          f"{'KB 40':>7} {'KB 5000':>8} {'MB 40':>6} {'MB 5000':>8}")
    for key in small:
        s, v = small[key], vendor[key]
        print(f"{key:<42} {s['ms']:>8.1f} {v['ms']:>8.1f} {v['ms'] / s['ms']:>6.2f} {s['queries']:>5} {v['queries']:>6} "
              f"{s['kb']:>7.1f} {v['kb']:>8.1f} {s['peak_mb']:>6.1f} {v['peak_mb']:>8.1f}")


if __name__ == "__main__":
    main()
