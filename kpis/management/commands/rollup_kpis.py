"""``manage.py rollup_kpis [--tenant SLUG] [--since DATE] [--full] [--periods N]``.

Runs the same work as the Celery task ``kpis.tasks.rollup_tenant`` by hand: the incremental
rollup, then the KPI results — of every period and partner (the task computes what changed). ``--since`` recomputes every day from DATE (tenant-local) on,
whatever the watermark. A progress bar on a terminal, one line per step otherwise.
"""

from __future__ import annotations

import datetime as dt
import time

from django.core.management.base import BaseCommand, CommandError

from kpis.metrics import RECENT_PERIODS_BACK
from kpis.services import kpis_refresh_now
from partners.models import Tenant
from partners.tenancy import scopes_disabled, tenant_scope

STEPS = ["scan", "daily facts", "FAQ search facts", "partner states", "user states", "KPI results"]


class Command(BaseCommand):
    help = "Roll the activity log up into KPI facts and compute the KPI results now."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="Only this tenant (slug). Default: every active tenant.")
        parser.add_argument("--since", help="Recompute every day from this date (YYYY-MM-DD, tenant-local).")
        parser.add_argument("--full", action="store_true", help="Recompute every day and pair.")
        parser.add_argument(
            "--periods", type=int, default=RECENT_PERIODS_BACK, help="How many past periods to (re)compute besides the current one."
        )

    def handle(self, *args, **options):
        since = None
        if options["since"]:
            try:
                since = dt.date.fromisoformat(options["since"])
            except ValueError as exc:
                raise CommandError(f"--since must be a date (YYYY-MM-DD), not {options['since']!r}") from exc
        with scopes_disabled():
            tenants = Tenant.objects.filter(is_active=True).order_by("slug")
            if options["tenant"]:
                tenants = tenants.filter(slug=options["tenant"])
            tenants = list(tenants)
        if not tenants:
            raise CommandError("No such active tenant." if options["tenant"] else "No active tenant.")
        tty = self.stdout.isatty()
        total = len(tenants) * len(STEPS)
        done = 0
        for tenant in tenants:
            started = time.monotonic()

            def progress(step: str, tenant=tenant) -> None:
                nonlocal done
                done += 1
                if tty:
                    width = 30
                    filled = int(width * done / total)
                    self.stdout._out.write(
                        f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {tenant.slug}: {step:<20}"
                    )
                    self.stdout._out.flush()
                else:
                    self.stdout.write(f"{tenant.slug}: {step}…")

            with tenant_scope(tenant):
                result = kpis_refresh_now(
                    tenant=tenant, since=since, full=options["full"], periods_back=options["periods"], progress=progress,
                    scoped=False,  # by hand: every period and partner (changes made around the application too)
                )
            done = (tenants.index(tenant) + 1) * len(STEPS)
            if tty:
                self.stdout._out.write("\n")
            stats = result.stats
            self.stdout.write(
                self.style.SUCCESS(
                    f"{tenant.slug}: {stats.mode}, {stats.days} days, {stats.daily_rows} daily facts, "
                    f"{stats.faq_rows} FAQ facts, {stats.partner_pairs} partner/asset and {stats.user_pairs} "
                    f"user/asset states, {result.results} KPI results in {time.monotonic() - started:.1f}s"
                )
            )
