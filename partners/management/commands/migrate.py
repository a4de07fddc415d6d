"""``migrate`` with the tenant scopes disabled, so a data migration (``RunPython``) reads and writes
every tenant's rows.

On PostgreSQL the tenant policy is forced on the table owner too (``partners/tenancy/rls.py``), and
the connection tells the database the open django-scopes scope before each query: outside any scope
that is "no tenant", so a data migration run by plain ``migrate`` as the owner role would silently see
and change no rows. Disabling the scopes for the whole run tells the database ``app.all_tenants = on``
instead — the visible cross-tenant escape the beat fan-out uses too.
"""

from django.core.management.commands.migrate import Command as DjangoMigrate
from django_scopes import scopes_disabled


class Command(DjangoMigrate):
    def handle(self, *args, **options):
        with scopes_disabled():
            return super().handle(*args, **options)
