"""``manage.py create_api_key --tenant SLUG --name NAME [--scopes read,events:write] [--trusted-source]``:
prints the key once."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from partners.models import ApiKeyScope, Tenant
from partners.services import api_key_create
from partners.tenancy import tenant_scope


class Command(BaseCommand):
    help = "Create an API key for a tenant and print it (it is shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="Tenant slug.")
        parser.add_argument("--name", required=True, help="A name for the key (unique per tenant).")
        parser.add_argument(
            "--scopes",
            default=",".join([ApiKeyScope.READ, ApiKeyScope.EVENTS_WRITE]),
            help="Comma-separated: read, events:write, partners:write, deals:write, deals:approve (default: read,events:write).",
        )
        parser.add_argument(
            "--trusted-source",
            action="store_true",
            help="Completions sent with this key count toward completion KPIs (default: kept, not counted).",
        )

    def handle(self, *args, tenant: str, name: str, scopes: str, trusted_source: bool = False, **options):
        obj = Tenant.objects.filter(slug=tenant).first()
        if obj is None:
            raise CommandError(f"No tenant with slug {tenant!r}.")
        with tenant_scope(obj):
            try:
                key, raw = api_key_create(
                    tenant=obj,
                    name=name,
                    scopes=[s.strip() for s in scopes.split(",") if s.strip()],
                    actor=None,
                    trusted_source=trusted_source,
                )
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages)) from exc
        trust = "completions count" if key.trusted_source else "completions kept, not counted"
        self.stdout.write(f"API key {key.name!r} for tenant {obj.slug} (scopes: {', '.join(key.scopes)}; {trust}).")
        self.stdout.write("Store it now; it cannot be shown again:")
        self.stdout.write(raw)
