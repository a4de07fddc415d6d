"""Benchmark: every dashboard page at vendor scale — 40 partners against 5,000 partners.

What it does (PostgreSQL, on the server of ``BENCH_PG_SERVER``, default
``postgres://postgres@127.0.0.1:5432``): one database of its OWN per size, ``shien_bench_scale_<N>``
(N partners). It never uses DATABASE_URL's database (it refuses to start when DATABASE_URL names one
of its own), and it never drops a database it did not create — it marks its own with a COMMENT and
refuses any other.

* Each database holds one tenant ``bench<N>`` of the same per-partner shape: N partners, 10 partner
  users each; 60 published assets, tier assignments (pairs due before the last 30 days frozen, as the
  nightly job does), two KPI definitions with 12 months of overall and per-partner results, partner
  asset states, support activities, won deals (the success-pattern cohorts) and one success-patterns
  run with the default parameters (as the nightly job leaves). Rollup facts for 90 days
  are generated in SQL (INSERT … SELECT over generate_series), the same density per partner at every
  size. Dashboards read facts and results only, never the raw log, so no raw events are generated.
* Each page (and its htmx fragment) is requested in-process with Django's test Client as a
  logged-in channel manager — the full response, every query committed (autocommit). The sizes take
  turns page by page in one process (the connection switches database): 1 warm-up, then the median
  of 5 timed runs; the query count and the ms spent executing those statements ("db", one more
  request: the rest of its time is Python); and the peak Python memory of one rendering (tracemalloc).
  Printed per page with the ratio largest/smallest and the 1-minute load before and after the page.

Run: ``.venv/bin/python bench/scale.py [--partners 40,5000] [--page overview --page content]``
(``--rebuild`` regenerates the data; ``--drop`` drops the benchmark's databases at the end;
``--list-pages`` names the pages; ``--live``: the overview and success-patterns pages also with an input marker
pending, computed live as before a KPI run (the patterns page then ranks the adoption table live); ``--summary-steps``:
time the KPI job's overview step rebuilding every partner's rows against one partner's, and the step after one
assignment edit — it adds one partner assignment to the database and moves it, and moves a tier assignment between
two tiers; ``--playbook``: before measuring, the suggested playbook of
the stored success-patterns run is created and assigned to every partner needing nurturing through the
app's own services — thousands of partners at 5,000; the assignment notices are not sent — and the assignment days are then spread over the
last 70 days (an UPDATE of ``created_at``: the benchmark's only write outside the services), so the
adoption table compares activity before and after instead of showing every row as still measuring;
``patterns-adoption-deep`` reads a deep page of that table).
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Another checkout may run this benchmark beside you: BENCH_SCALE_PREFIX gives its databases their own names.
DB_PREFIX = os.environ.get("BENCH_SCALE_PREFIX", "shien_bench_scale_")
if not DB_PREFIX.startswith("shien_bench_scale_"):
    sys.exit("BENCH_SCALE_PREFIX must start with shien_bench_scale_")
MARK = "created by bench/scale.py"
SERVER = os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432").rstrip("/")
_theirs = urlsplit(os.environ.get("DATABASE_URL", "")).path.lstrip("/")
if _theirs.startswith(DB_PREFIX) or _theirs == "shien_bench_scale":
    sys.exit(f"DATABASE_URL names {_theirs}: the benchmark keeps its databases apart from yours; unset it")
os.environ.pop("DATABASE_URL", None)  # set below to the benchmark's own database, never to yours
os.environ.pop("DATABASE_REPLICA_URL", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prm.settings")
os.environ.setdefault("DEBUG", "false")

DEFAULT_SIZES = (40, 5000)
USERS_PER_PARTNER = 10
ASSETS = 60
DAYS = 90
FACT_SHARE = 0.01  # of (day, partner, asset, verb) combinations that have a fact row
VERBS = ["training.started", "training.completed", "document.viewed", "document.downloaded"]
RUNS, WARMUP = 5, 1


def _admin():
    import psycopg

    return psycopg.connect(f"{SERVER}/postgres", autocommit=True)


def db_name(partners: int) -> str:
    return f"{DB_PREFIX}{int(partners)}"


def _ours(conn, name: str) -> bool | None:
    """None: no such database; True: made by this script; exits on a database of that name it did not make."""
    row = conn.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [name]
    ).fetchone()
    if row is not None and row[0] != MARK:
        sys.exit(f"database {name} exists but was not created by this benchmark: refusing to touch it")
    return None if row is None else True


def prepare_database(name: str, rebuild: bool) -> bool:
    """Create the benchmark's database (or keep it); True when it has to be built."""
    with _admin() as conn:
        exists = _ours(conn, name)
        if exists and not rebuild:
            return False
        if exists:
            conn.execute(f'DROP DATABASE "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
        conn.execute(f"COMMENT ON DATABASE \"{name}\" IS '{MARK}'")
        conn.execute(f'ALTER DATABASE "{name}" SET random_page_cost = 1.1')
    return True


def drop_database(name: str) -> None:
    with _admin() as conn:
        if _ours(conn, name):
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            print(f"dropped {name}")


def use_database(name: str) -> None:
    """Point Django's default connection at one of the benchmark's databases (closing the open one)."""
    from django.db import connections

    conn = connections["default"]
    if conn.settings_dict["NAME"] != name:
        conn.close()
        conn.settings_dict["NAME"] = name


def build_tenant(slug: str, partners_n: int) -> None:
    import datetime as dt
    from decimal import Decimal

    from django.db import connection
    from django.utils import timezone

    from enablement.models import Asset, Assignment, Team
    from kpis.models import KpiDefinition, KpiResult, PartnerAssetState, RollupState
    from kpis.periods import period_bounds
    from kpis.targeting import pairs_freeze, partners_snapshot
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
        # About FACT_SHARE of the (day, partner, asset, verb) combinations get a fact row: per (day,
        # partner) a few candidates drawn by hash, duplicates dropped — linear in partners × days.
        per_day_partner = round(FACT_SHARE * ASSETS * len(VERBS))
        with connection.cursor() as cur:
            cur.execute(
                """
                INSERT INTO kpis_dailyactivityfact (tenant_id, day, partner_id, asset_id, verb, event_count, user_count,
                                                    max_progress, negative_count)
                SELECT DISTINCT ON (day, p, a, v) %(tenant)s, day, p, a, v, 1 + (h %% 9), 1 + (h %% 3), NULL::float8, 0
                FROM (
                    SELECT %(today)s::date - d AS day, p, %(amin)s + (h %% %(assets)s) AS a,
                           (%(verbs)s::text[])[1 + (h / %(assets)s) %% %(nverbs)s] AS v, h
                    FROM generate_series(0, %(days)s - 1) d
                    CROSS JOIN generate_series(%(pmin)s, %(pmax)s) p
                    CROSS JOIN generate_series(1, %(k)s) k
                    CROSS JOIN LATERAL (SELECT abs(hashtext(d || ':' || (p - %(pmin)s) || ':' || k)) AS h) x
                ) c
                ORDER BY day, p, a, v
                """,
                {"tenant": tenant.pk, "today": today, "days": DAYS, "pmin": partners[0].pk, "pmax": partners[-1].pk,
                 "amin": assets[0].pk, "assets": ASSETS, "verbs": VERBS, "nverbs": len(VERBS), "k": per_day_partner},
            )
            cur.execute(
                """
                INSERT INTO kpis_faqsearchfact (tenant_id, day, partner_id, query, searches, zero_result_searches, unresolved_searches)
                SELECT %(tenant)s, %(today)s::date - d, p, 'keyword ' || (1 + h %% 20), 1 + (h %% 5), (h %% 2), (h %% 3)
                FROM generate_series(0, %(days)s - 1) d
                CROSS JOIN generate_series(%(pmin)s, %(pmax)s) p
                CROSS JOIN LATERAL (SELECT abs(hashtext(d || '/' || (p - %(pmin)s))) AS h) x
                WHERE (h / 20) %% 100 < %(share)s
                """,
                {"tenant": tenant.pk, "today": today, "days": DAYS, "pmin": partners[0].pk, "pmax": partners[-1].pk,
                 "share": round(FACT_SHARE * 3 * 20 * 100)},
            )
        # what the nightly job does: pairs due before the last 30 days are frozen (both branches read)
        pairs_freeze(tenant=tenant, through=today - dt.timedelta(days=30))
        partners_snapshot(tenant=tenant, through=today - dt.timedelta(days=30))
    mine_run(slug)


def mine_run(slug: str) -> float:
    """What the nightly patterns job does: one success-patterns run with the default parameters (the
    page opens on the latest run's parameters). Returns the seconds taken."""
    from kpis.patterns.mining import mine_patterns
    from partners.models import Tenant
    from partners.tenancy import tenant_scope

    tenant = Tenant.objects.get(slug=slug)
    t0 = time.perf_counter()
    with tenant_scope(tenant):
        mine_patterns(tenant=tenant)
    return time.perf_counter() - t0


def assign_playbook(slug: str) -> str:
    """``--playbook``: what a manager's two clicks do — the suggested playbook of the newest stored run
    (``playbook_create_from_run``), assigned to the stored nurturing cohort (``playbook_assign``, as the
    page's button) — unless a playbook is already assigned; then the assignment days spread over the
    last 70 days by partner (bench data only: the service stamps now). Returns what it did."""
    import datetime as dt
    from unittest import mock

    from django.db import connection, transaction
    from django.utils import timezone

    from enablement.models import Assignment
    from enablement.services.catalog import learning_path_create
    from kpis.patterns import selectors as sel
    from kpis.patterns import services as svc
    from partners.models import Tenant, User
    from partners.tenancy import tenant_scope

    tenant = Tenant.objects.get(slug=slug)
    actor = User.objects.get(email=f"manager@{slug}.bench")
    with tenant_scope(tenant):
        mine = Assignment.objects.filter(tenant=tenant, source=sel.PLAYBOOK_SOURCE)
        if mine.exists():
            return f"playbook already assigned ({mine.values('partner_id').distinct().count():,} partners)"
        run = sel.latest_run(tenant=tenant)
        stored = run and sel.stored_run([run], window_days=run.window_days, top_share=float(run.top_share), metric=run.metric)
        if stored is None:
            sys.exit(f"{slug}: no stored success-patterns run to take the playbook from")
        t0 = time.perf_counter()
        # The assignment notices are left out (280,000 e-mails at 5,000 partners; not what is measured here).
        with transaction.atomic(), mock.patch.object(svc, "assignments_notify", lambda **kw: []):
            path, how = svc.playbook_create_from_run(tenant=tenant, run=stored, actor=actor), "suggested"
            if path is None:  # no significant item (40 partners: 8 top partners): the run's first 8 assets by rank
                how = "no significant item: the run's first 8 assets by rank"
                assets = [i.asset for i in sel.lift_table(tenant=tenant, run=stored) if i.asset_id][:8]
                path = learning_path_create(tenant=tenant, actor=actor, title="Bench playbook", assets=assets,
                                            is_playbook=True)
            partners = sel.stored_cohort_partners(tenant=tenant, run=stored, cohort="nurture")
            created = svc.playbook_assign(tenant=tenant, path=path, partners=partners,
                                          due_on=timezone.localdate() + dt.timedelta(days=30), actor=actor)
        took = time.perf_counter() - t0
        with connection.cursor() as cur:
            cur.execute("UPDATE enablement_assignment SET created_at = now() - make_interval(days => (partner_id %% 70)::int,"
                        " hours => (partner_id %% 11)::int) WHERE tenant_id = %s AND source = %s",
                        [tenant.pk, sel.PLAYBOOK_SOURCE])
            cur.execute("ANALYZE enablement_assignment")
        return (f"playbook ({how}) of {path.items.count()} items assigned to {len(partners):,} partners needing nurturing: "
                f"{created:,} assignments in {took:.1f} s; assignment days spread over 70 days")


def overview_summary(slug: str) -> float:
    """What a KPI run does for the overview (``kpis.overview``; the benchmark does not run the KPI
    computation itself, which would refreeze its pairs and rewrite its results): write the summary
    for today and consume the pending input markers, in one transaction. Returns the seconds taken."""
    from django.db import transaction
    from django.utils import timezone

    from kpis.models import KpiInputChange
    from kpis.overview import refresh_overview_summary
    from partners.models import Tenant
    from partners.tenancy import tenant_scope

    tenant = Tenant.objects.get(slug=slug)
    t0 = time.perf_counter()
    with tenant_scope(tenant), transaction.atomic():
        KpiInputChange.objects.filter(tenant=tenant).delete()
        refresh_overview_summary(tenant, timezone.localdate(timezone=tenant.zoneinfo))
    return time.perf_counter() - t0


def adoption_order(slug: str) -> float:
    """What a KPI run does for the success-patterns page after consuming the markers
    (``kpis.scope.inputs_consumed`` → ``store_adoption``): store the adoption table's order. Returns
    the seconds taken."""
    from django.db import transaction

    try:
        from kpis.patterns.selectors import store_adoption
    except ImportError:  # a checkout from before the stored order (a "before" run): nothing to store
        return 0.0
    from partners.models import Tenant
    from partners.tenancy import tenant_scope

    tenant = Tenant.objects.get(slug=slug)
    t0 = time.perf_counter()
    with tenant_scope(tenant), transaction.atomic():
        store_adoption(tenant=tenant)
    return time.perf_counter() - t0


def overview_summary_steps(slug: str, rounds: int = 3) -> dict:
    """The KPI job's overview step (``refresh_overview_summary``) rebuilding every partner's rows
    against rewriting one partner's (what a run after that partner's events does) and against the
    step after one assignment edit (a partner's assignment moved to another partner; a tier
    assignment moved to another tier and back: the partners ``kpis.scope.overview_partners`` names,
    or every partner), taking turns ``rounds`` times, each in its own transaction (committed; the
    edit's markers consumed). The edit itself (the save, its marker) is timed apart. Returns the
    median seconds of each, the rows written and the partners each edit named (None: every one)."""
    from django.db import transaction
    from django.utils import timezone

    from enablement.models import Assignment
    from kpis.models import KpiInputChange, OverviewPairCount
    from kpis.overview import refresh_overview_summary
    from kpis.scope import overview_partners
    from partners.models import Partner, PartnerTier, Tenant
    from partners.tenancy import tenant_scope

    tenant = Tenant.objects.get(slug=slug)
    today = timezone.localdate(timezone=tenant.zoneinfo)
    out: dict = {"full": [], "one": [], "assignment": [], "tier": [], "edit": [], "named": {}}
    with tenant_scope(tenant):
        ids = list(Partner.objects.filter(tenant=tenant).order_by("pk").values_list("pk", flat=True)[:9])
        one, two = ids[7], ids[8]
        tiers = list(PartnerTier.objects.filter(tenant=tenant).order_by("rank").values_list("pk", flat=True))
        tiered = Assignment.objects.filter(tenant=tenant, target="tier").order_by("pk").first()
        with transaction.atomic():  # a partner's own assignment (the bench has tier ones only), due in a week
            moved = Assignment.objects.create(tenant=tenant, asset_id=tiered.asset_id, target="partner", partner_id=one,
                                              due_on=today + dt.timedelta(days=7))
            refresh_overview_summary(tenant, today, partner_ids=[one])
            KpiInputChange.objects.filter(tenant=tenant).delete()

        def after_edit(key: str, edit) -> None:
            with transaction.atomic():
                t0 = time.perf_counter()
                edit()
                out["edit"].append(time.perf_counter() - t0)
                pending = list(KpiInputChange.objects.filter(tenant=tenant).values_list("pk", flat=True))
                t0 = time.perf_counter()
                named = overview_partners(tenant, pending)
                refresh_overview_summary(tenant, today, partner_ids=named)
                KpiInputChange.objects.filter(tenant=tenant, pk__in=pending).delete()
                out[key].append(time.perf_counter() - t0)
            out["named"][key] = None if named is None else len(named)

        def move_partner() -> None:
            moved.partner_id = two if moved.partner_id == one else one
            moved.save()

        def move_tier() -> None:
            tiered.tier_id = tiers[1] if tiered.tier_id == tiers[0] else tiers[0]
            tiered.save()

        for _ in range(rounds):
            for key in ("full", "one", "assignment", "tier"):
                if key == "assignment":
                    after_edit(key, move_partner)
                    continue
                if key == "tier":
                    after_edit(key, move_tier)
                    continue
                t0 = time.perf_counter()
                with transaction.atomic():
                    refresh_overview_summary(tenant, today, partner_ids=None if key == "full" else [one])
                out[key].append(time.perf_counter() - t0)
        out["rows"] = OverviewPairCount.objects.filter(tenant=tenant).count()
        out["rows_one"] = OverviewPairCount.objects.filter(tenant=tenant, partner_id=one).count()
    return {key: statistics.median(out[key]) for key in ("full", "one", "assignment", "tier", "edit")} | {
        "rows": out["rows"], "rows_one": out["rows_one"], "named": out["named"]}


PAGES = ("overview", "overview-tier", "overview-segment", "overview-status", "partners", "partners-by-downloads", "scorecard",
         "content", "faq", "faq-keyword", "teams", "patterns", "patterns-paged", "patterns-adoption-deep")


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
        "overview-tier": url("manage-overview") + f"?tier={first.tier_id}",
        "overview-segment": url("manage-overview") + f"?segment={first.segment}",
        "overview-status": url("manage-overview") + f"?tier={first.tier_id}&status={first.status}",
        "partners": url("manage-partners"),
        "partners-by-downloads": url("manage-partners") + "?sort=-downloads&page=2",
        "scorecard": url("manage-partner", partner_id=first.pk),
        "content": url("manage-content"),
        "faq": url("manage-faq"),
        "faq-keyword": url("manage-faq-keyword") + "?keyword=keyword+3",
        "teams": url("manage-teams"),
        "patterns": url("manage-patterns"),
        "patterns-paged": url("manage-patterns") + "?nurture_page=3&others_page=3&excluded_page=2",
        "patterns-adoption-deep": url("manage-patterns") + "?adoption_page=60",  # out of range at 40: the last page
    }


def pending_marker(slug: str, remove: int | None = None) -> int | None:
    """Write a pending ``KpiInputChange`` (the overview computes live while one is pending), or
    delete the one written."""
    from kpis.models import KpiInputChange
    from partners.models import Tenant
    from partners.tenancy import tenant_scope

    tenant = Tenant.objects.get(slug=slug)
    with tenant_scope(tenant):
        if remove is not None:
            KpiInputChange.objects.filter(pk=remove).delete()
            return None
        return KpiInputChange.objects.create(tenant=tenant, source="bench", everything=True).pk


class QueryCounter:
    """An execute wrapper counting the statements of one request (kept across the connection's close)
    and the time spent in them (the database's and the driver's; client-side cursors fetch every row
    while executing), so a page's time splits into database and Python."""

    def __init__(self):
        self.count, self.seconds = 0, 0.0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - t0


class Site:
    """One size: its database, a logged-in client and the page URLs."""

    def __init__(self, partners: int):
        from django.test import Client

        from partners.models import User

        self.partners, self.db, self.slug = partners, db_name(partners), f"bench{partners}"
        use_database(self.db)
        self.client = Client()
        self.client.force_login(User.objects.get(email=f"manager@{self.slug}.bench"))
        self.urls = pages(self.slug)

    def measure(self, page: str, headers: dict, live: bool = False) -> dict:
        from django.db import connection

        use_database(self.db)
        if live:
            marker = pending_marker(self.slug)
            try:
                return self.measure(page, headers)
            finally:
                use_database(self.db)
                pending_marker(self.slug, marker)
        page_url = self.urls[page]
        for _ in range(WARMUP):
            assert self.client.get(page_url, **headers).status_code == 200, (self.slug, page)
        times = []
        for _ in range(RUNS):
            t0 = time.perf_counter()
            response = self.client.get(page_url, **headers)
            times.append(time.perf_counter() - t0)
        executed = QueryCounter()
        with connection.execute_wrapper(executed):
            self.client.get(page_url, **headers)
        tracemalloc.start()
        self.client.get(page_url, **headers)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return {"ms": 1000 * statistics.median(times), "queries": executed.count, "db_ms": 1000 * executed.seconds,
                "kb": len(response.content) / 1024, "peak_mb": peak / 2**20}


def _arg_values(flag: str) -> list[str]:
    args, out = sys.argv[1:], []
    for i, a in enumerate(args):
        if a == flag and i + 1 < len(args):
            out += [v for v in args[i + 1].split(",") if v]
        elif a.startswith(flag + "="):
            out += [v for v in a.split("=", 1)[1].split(",") if v]
    return out


KNOWN_FLAGS = ("--partners", "--page", "--rebuild", "--drop", "--build-only", "--list-pages", "--live", "--summary-steps",
               "--playbook", "--help", "-h")


def main() -> None:
    if "--help" in sys.argv or "-h" in sys.argv:
        print(__doc__)
        return
    stray = [a for a in sys.argv[1:] if a.startswith("-") and a.split("=", 1)[0] not in KNOWN_FLAGS]
    if stray:
        sys.exit(f"unknown option {stray[0]} (--help)")
    if "--list-pages" in sys.argv:
        print("\n".join(PAGES))
        return
    sizes = sorted({int(n) for n in _arg_values("--partners")} or set(DEFAULT_SIZES))
    chosen = _arg_values("--page") or list(PAGES)
    unknown = [p for p in chosen if p not in PAGES]
    if unknown or any(n < 1 for n in sizes):
        sys.exit(f"unknown page {unknown} (--list-pages) or partners < 1")
    built = {n: prepare_database(db_name(n), "--rebuild" in sys.argv) for n in sizes}
    os.environ["DATABASE_URL"] = f"{SERVER}/{db_name(sizes[0])}"

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    for n in sizes:
        use_database(db_name(n))
        if built[n]:
            t0 = time.perf_counter()
            call_command("migrate", verbosity=0)
            build_tenant(f"bench{n}", n)
            with connection.cursor() as cur:
                cur.execute("ANALYZE")
            print(f"{db_name(n)} built in {time.perf_counter() - t0:.0f} s")
        else:
            call_command("migrate", verbosity=0)  # a database built by an older checkout
        if "--playbook" in sys.argv:  # before the summary: the assignment's input marker is consumed there
            print(f"bench{n}: {assign_playbook(f'bench{n}')}", flush=True)
        print(f"bench{n}: the KPI job's overview summary written in {overview_summary(f'bench{n}'):.2f} s", flush=True)
        print(f"bench{n}: the KPI job's adoption order stored in {adoption_order(f'bench{n}'):.2f} s", flush=True)
        if "--summary-steps" in sys.argv:
            with connection.cursor() as cur:
                cur.execute("SELECT 1")
            steps = overview_summary_steps(f"bench{n}")
            print(f"bench{n}: overview step, every partner {steps['full']:.3f} s ({steps['rows']:,} rows), one partner "
                  f"{steps['one']:.3f} s ({steps['rows_one']} rows): ratio {steps['one'] / steps['full']:.4f} "
                  f"(load {os.getloadavg()[0]:.1f})", flush=True)
            named = {k: "every" if v is None else v for k, v in steps["named"].items()}
            print(f"bench{n}: after one assignment edit (the edit's save {steps['edit'] * 1000:.1f} ms): a partner's "
                  f"assignment moved, {named['assignment']} partners, {steps['assignment']:.3f} s, ratio "
                  f"{steps['assignment'] / steps['full']:.4f}; a tier assignment moved, {named['tier']} partners, "
                  f"{steps['tier']:.3f} s, ratio {steps['tier'] / steps['full']:.4f} (load {os.getloadavg()[0]:.1f})",
                  flush=True)
        with connection.cursor() as cur:
            cur.execute(
                "SELECT t.slug, (SELECT count(*) FROM partners_partner p WHERE p.tenant_id = t.id),"
                " (SELECT count(*) FROM partners_membership m WHERE m.tenant_id = t.id),"
                " (SELECT count(*) FROM kpis_dailyactivityfact f WHERE f.tenant_id = t.id),"
                " (SELECT count(*) FROM kpis_frozenpair f WHERE f.tenant_id = t.id) FROM partners_tenant t"
            )
            for slug, partners, members, facts, frozen in cur.fetchall():
                print(f"{slug}: {partners:,} partners, {members:,} memberships, {facts:,} daily fact rows, "
                      f"{frozen:,} frozen pairs")
    if "--build-only" not in sys.argv:
        sites = [Site(n) for n in sizes]
        lo, hi = sizes[0], sizes[-1]
        print(f"\n{'page':<32} {f'ms {lo}':>9} {f'ms {hi}':>9} {'ratio':>6} {f'q {lo}':>6} {f'q {hi}':>6} "
              f"{f'KB {lo}':>8} {f'KB {hi}':>8} {f'MB {lo}':>7} {f'MB {hi}':>7} {f'db {lo}':>7} {f'db {hi}':>7} "
              f"{'load':>9}", flush=True)
        for page in chosen:  # the sizes take turns, page by page
            variants = [("page", {}, False), ("htmx", {"HTTP_HX_REQUEST": "true"}, False)]
            if page.startswith(("overview", "patterns")) and "--live" in sys.argv:  # a marker pending: computed live
                variants += [("page, live", {}, True), ("htmx, live", {"HTTP_HX_REQUEST": "true"}, True)]
            for variant, headers, live in variants:
                before = os.getloadavg()[0]
                got = {site.partners: site.measure(page, headers, live=live) for site in sites}
                s, v = got[lo], got[hi]
                # db: ms spent executing the statements of one more request (the rest of its time is Python);
                # load: the 1-minute load average before and after the page's requests at both sizes
                print(f"{page + ' (' + variant + ')':<32} {s['ms']:>9.1f} {v['ms']:>9.1f} {v['ms'] / s['ms']:>6.2f} "
                      f"{s['queries']:>6} {v['queries']:>6} {s['kb']:>8.1f} {v['kb']:>8.1f} {s['peak_mb']:>7.2f} "
                      f"{v['peak_mb']:>7.2f} {s['db_ms']:>7.1f} {v['db_ms']:>7.1f} "
                      f"{f'{before:.1f}/{os.getloadavg()[0]:.1f}':>9}", flush=True)
    connection.close()
    if "--drop" in sys.argv:
        for n in sizes:
            drop_database(db_name(n))


if __name__ == "__main__":
    main()
