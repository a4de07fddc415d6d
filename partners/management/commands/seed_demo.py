"""``manage.py seed_demo``: deterministic demo data. Re-running skips what exists.

Each app contributes one step, run in dependency order; a step is a module with
``seed(tenant, *, log)`` that checks for its own data first (so it is idempotent).
"""

import importlib
import time

from django.core.management.base import BaseCommand

from partners import demo as partners_demo
from partners.tenancy import tenant_scope

# (module, what it adds) — in the order imports flow: partners → enablement → kpis.
STEPS = [
    ("enablement.demo", "assets, learning paths, assignments, six months of activity"),
    ("kpis.demo_outcomes", "deals and the planted success pattern"),
    ("kpis.demo", "KPI definitions, rollup and KPI results"),
    ("kpis.demo_patterns", "success patterns and the suggested playbook"),
]


class Command(BaseCommand):
    help = "Create the demo tenants, users and six months of activity (idempotent)."

    def handle(self, *args, **options):
        started = time.monotonic()
        log = self.stdout.write
        log("Seeding tenants, partners and users…")
        results = partners_demo.seed(log=log)
        for module_name, what in STEPS:
            module = importlib.import_module(module_name)
            for tenant, _created in results:
                step_started = time.monotonic()
                with tenant_scope(tenant):
                    done = module.seed(tenant, log=log)
                if done:
                    log(f"  {tenant.slug}: {what} ({time.monotonic() - step_started:.1f}s)")
        log(self.style.SUCCESS(f"Demo ready in {time.monotonic() - started:.1f}s. Logins: see README.md (password {partners_demo.DEMO_PASSWORD})."))
