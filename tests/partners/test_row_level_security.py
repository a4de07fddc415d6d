"""PostgreSQL row-level security, the second wall behind the scoped manager: a raw query with no
tenant filter sees only the current scope's tenant, a query with no scope sees nothing, a row of
another tenant cannot be written, the activity log refuses TRUNCATE, and every tenant-owned table
carries the forced policy. Checked as an ordinary role (a superuser would bypass RLS)."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from django.db import DatabaseError, connection, transaction
from django_scopes import scope, scopes_disabled

from partners.tenancy.rls import POLICY, tenant_tables
from tests import factories as f

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]
PROBE = "shien_rls_probe"


@contextmanager
def as_ordinary_role():
    """Run as a non-superuser: the connection's own role when it is one (CI runs the suite so),
    else a probe role with plain table rights."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        (is_super,) = cursor.fetchone()
        if is_super:
            cursor.execute(f"SELECT 1 FROM pg_roles WHERE rolname = '{PROBE}'")
            if cursor.fetchone() is None:
                cursor.execute(f"CREATE ROLE {PROBE} NOLOGIN")
            cursor.execute(f"GRANT USAGE ON SCHEMA public TO {PROBE}")
            cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA public TO {PROBE}")
            cursor.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {PROBE}")
            cursor.execute(f"SET ROLE {PROBE}")
    try:
        yield
    finally:
        if is_super:
            with connection.cursor() as cursor:
                cursor.execute("RESET ROLE")


@pytest.fixture
def two_tenants(tenant_a, tenant_b):
    with scope(tenant=tenant_a.pk):
        a = [f.PartnerFactory(tenant=tenant_a, name=f"A{i}") for i in range(3)]
    with scope(tenant=tenant_b.pk):
        b = [f.PartnerFactory(tenant=tenant_b, name=f"B{i}") for i in range(2)]
    return a, b


def _raw_partner_tenants() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tenant_id FROM partners_partner")  # no tenant filter on purpose
        return sorted({row[0] for row in cursor.fetchall()})


def test_a_raw_query_sees_only_the_scope_tenant(two_tenants, tenant_a, tenant_b):
    with as_ordinary_role():
        with scope(tenant=tenant_a.pk):
            assert _raw_partner_tenants() == [tenant_a.pk]
        with scope(tenant=tenant_b.pk):
            assert _raw_partner_tenants() == [tenant_b.pk]
        with scope(tenant=[tenant_a.pk, tenant_b.pk]):
            assert _raw_partner_tenants() == sorted([tenant_a.pk, tenant_b.pk])


def test_no_scope_sees_nothing_and_scopes_disabled_is_the_visible_escape(two_tenants, tenant_a, tenant_b):
    with as_ordinary_role():
        assert _raw_partner_tenants() == []
        with scope(tenant=[]):
            assert _raw_partner_tenants() == []
        with scopes_disabled():
            assert _raw_partner_tenants() == sorted([tenant_a.pk, tenant_b.pk])


def test_a_row_of_another_tenant_cannot_be_written(two_tenants, tenant_a, tenant_b):
    with as_ordinary_role(), scope(tenant=tenant_a.pk):
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO partners_partner (tenant_id, name, external_id, segment, region, status, cohort_override, "
                "joined_on, created_at) VALUES (%s, 'smuggled', '', '', '', 'active', '', now(), now())",
                [tenant_b.pk],
            )
        with connection.cursor() as cursor:
            cursor.execute("UPDATE partners_partner SET name = 'renamed' WHERE tenant_id = %s", [tenant_b.pk])
            assert cursor.rowcount == 0
    with scope(tenant=tenant_b.pk):
        assert sorted(p.name for p in f.PartnerFactory._meta.model.objects.filter(tenant=tenant_b)) == ["B0", "B1"]


def test_the_activity_log_refuses_truncate(tenant_a):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE enablement_activityevent CASCADE")


def test_every_tenant_owned_table_has_the_forced_policy():
    tables = tenant_tables()
    assert "enablement_activityevent" in tables and "partners_partner" in tables
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_policy p ON p.polrelid = c.oid "
            "WHERE p.polname = %s AND c.relrowsecurity AND c.relforcerowsecurity",
            [POLICY],
        )
        protected = {row[0] for row in cursor.fetchall()}
    assert set(tables) - protected == set()


def test_a_data_migration_sees_every_tenant(two_tenants, monkeypatch):
    """``manage.py migrate`` runs with the scopes disabled (partners/management/commands/migrate.py):
    a RunPython step counts every tenant's rows. Plain Django ``migrate`` would run it outside any scope,
    where the forced policy shows the owner no rows, and the data migration would silently do nothing."""
    from django.core.management import call_command
    from django.core.management.commands.migrate import Command as DjangoMigrate

    seen = {}

    def data_migration(self, *args, **options):  # stands in for the migration run
        seen["scoped"] = _raw_partner_tenants()

    monkeypatch.setattr(DjangoMigrate, "handle", data_migration)
    with as_ordinary_role():
        assert _raw_partner_tenants() == []  # what plain migrate's data migrations saw
        call_command("migrate", verbosity=0)
    a, b = two_tenants
    assert seen["scoped"] == sorted({a[0].tenant_id, b[0].tenant_id})
