"""``manage.py archive_activity_log [--tenant SLUG]``: apply the tenants' retention policies now.

The same work as the nightly beat task: every tenant with ``log_retention_months`` set has its
older months archived to the media storage (``activity-archive/t<id>/<YYYY-MM>.jsonl.gz`` + a
manifest), verified, and removed from the log; empty past partitions are dropped (PostgreSQL).
``--partitions`` only makes sure the coming months' partitions exist.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from enablement.logstore import partitions_ensure
from enablement.services.retention import log_archive_tenant
from partners.models import Tenant
from partners.tenancy import scopes_disabled, tenant_scope


class Command(BaseCommand):
    help = "Archive and remove activity-log months older than each tenant's retention policy."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="Only this tenant (slug).")
        parser.add_argument("--partitions", action="store_true", help="Only create the coming months' partitions.")

    def handle(self, *args, **options):
        with scopes_disabled():
            created = partitions_ensure()
            self.stdout.write(f"partitions created: {created}")
            if options["partitions"]:
                return
            tenants = list(Tenant.objects.order_by("slug"))
        if options["tenant"]:
            tenants = [t for t in tenants if t.slug == options["tenant"]]
            if not tenants:
                raise CommandError(f"No tenant {options['tenant']!r}")
        for tenant in tenants:
            if not tenant.log_retention_months:
                self.stdout.write(f"{tenant.slug}: no retention policy (the log is kept)")
                continue
            with tenant_scope(tenant):
                stats = log_archive_tenant(tenant=tenant)
            self.stdout.write(
                f"{tenant.slug}: kept from {stats.cutoff}; archived {stats.rows} events in {len(stats.months)} "
                f"month(s) {', '.join(stats.months) or '-'}; partitions dropped: {', '.join(stats.dropped_partitions) or '-'}"
            )
