"""``manage.py seed_demo``: deterministic demo data. Re-running skips what exists.

The seed is composed here, at the top of the import graph, calling each context's ``demo`` module
downward in dependency order. A step is ``seed(tenant, *, log)`` that checks for its own data
first (so it is idempotent).
"""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from enablement import demo as enablement_demo
from enablement.assessments import demo as assessments_demo
from enablement.certifications import demo as certifications_demo
from enablement.packages import demo as packages_demo
from kpis import demo as kpis_demo
from kpis.patterns import demo as patterns_demo
from partners import demo as partners_demo
from partners.deals import demo as deals_demo
from partners.tenancy import tenant_scope

STEPS = [
    (enablement_demo.seed, "assets, learning paths, assignments, six months of activity"),
    (packages_demo.seed, "a packaged course (SCORM 2004)"),
    (certifications_demo.seed, "a certification, tier requirements and certificates in every state"),
    (assessments_demo.seed, "assessments, question banks and attempts"),
    (deals_demo.seed, "a year of deals"),
    (patterns_demo.plant, "the planted success pattern"),
    (kpis_demo.seed, "KPI definitions, rollup and KPI results"),
    (patterns_demo.mine, "success patterns and the suggested playbook"),
]


class Command(BaseCommand):
    help = "Create the demo tenants, users and six months of activity (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force-production",
            action="store_true",
            help="Seed even under production settings (creates a superuser with the published demo password).",
        )

    def handle(self, *args, force_production: bool = False, **options):
        if getattr(settings, "PRODUCTION", False) and not force_production:
            raise CommandError(
                "Refusing to seed demo data under production settings: it creates a superuser and "
                "accounts whose password is published in README.md. Pass --force-production if you really mean it."
            )
        started = time.monotonic()
        log = self.stdout.write
        log("Seeding tenants, partners and users…")
        results = partners_demo.seed(log=log)
        for step, what in STEPS:
            for tenant, _created in results:
                step_started = time.monotonic()
                with tenant_scope(tenant):
                    done = step(tenant, log=log)
                if done:
                    log(f"  {tenant.slug}: {what} ({time.monotonic() - step_started:.1f}s)")
        log(self.style.SUCCESS(f"Demo ready in {time.monotonic() - started:.1f}s. Logins: see README.md (password {partners_demo.DEMO_PASSWORD})."))
