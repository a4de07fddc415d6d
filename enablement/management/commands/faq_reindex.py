"""``manage.py faq_reindex [--tenant SLUG]``: rebuild the FAQ search index (``FaqTerm``).

The index follows every saved FAQ by itself; run this after upgrading SudachiPy, its dictionary
or the analysis rules in ``enablement.search.analysis``.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from enablement.search.index import faq_reindex
from partners.models import Tenant
from partners.tenancy import scopes_disabled, tenant_scope


class Command(BaseCommand):
    help = "Rebuild the FAQ search index (analysed terms) of every tenant, or of one."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", help="Only this tenant (slug).")

    def handle(self, *args, **options):
        with scopes_disabled():
            tenants = list(Tenant.objects.order_by("slug"))
        if options["tenant"]:
            tenants = [t for t in tenants if t.slug == options["tenant"]]
            if not tenants:
                raise CommandError(f"No tenant {options['tenant']!r}")
        for tenant in tenants:
            with tenant_scope(tenant):
                rows = faq_reindex(tenant=tenant)
            self.stdout.write(f"{tenant.slug}: {rows} FAQ search terms")
