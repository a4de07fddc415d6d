"""PostgreSQL row-level security: the second wall behind the scoped manager.

Every tenant-owned table gets a policy that shows and accepts only the rows of the tenant(s) the
current django-scopes scope names; ``FORCE ROW LEVEL SECURITY`` applies it to the table owner too,
so only a superuser (or a ``BYPASSRLS`` role) goes around it. The application therefore connects
as an ordinary role; ``docs/operations.md`` shows the two-role set-up.

How the database learns the scope: the same mechanism that opens it. A connection wrapper reads
django-scopes' state before each query and, when it differs from what the session was last told,
sends it as two settings first:

* ``app.tenant_ids`` — the tenant id(s) of the scope (``scope(tenant=…)``: an id, a Tenant or a
  list); empty outside any scope, so a forgotten filter finds nothing;
* ``app.all_tenants`` — ``on`` inside ``scopes_disabled()``, the visible cross-tenant escape
  (the beat fan-out, the platform operator's admin).

The settings are session-level. One told outside a transaction is remembered; one told inside a
transaction could be undone by a rollback, so inside ``atomic`` blocks it is told again before
every query, and the memory is cleared. Raw SQL (the rollup) is covered the same way.

``ensure_row_level_security`` (run after every ``migrate``) enables the policy on every table
with a ``tenant_id`` column that lacks it, refuses ``TRUNCATE`` on the append-only tables, and —
when ``DATABASE_APP_ROLE`` names the application's role — grants that role only ``SELECT`` and
``INSERT`` on them.
"""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django_scopes import get_scope
from psycopg import pq

POLICY = "shien_tenant_isolation"
TRUNCATE_TRIGGER = "shien_refuse_truncate"
# Append-only tables: no UPDATE/DELETE for the application role, no TRUNCATE for anyone.
APPEND_ONLY_TABLES = ("enablement_activityevent", "enablement_activityeventkey", "partners_auditevent", "deals_dealevent")

_INERROR = pq.TransactionStatus.INERROR
_TXN_CONTROL = ("SAVEPOINT", "RELEASE S", "ROLLBACK ", "ROLLBACK")

_CONDITION = (
    "current_setting('app.all_tenants', true) = 'on' OR tenant_id = ANY "
    "(string_to_array(NULLIF(current_setting('app.tenant_ids', true), ''), ',')::bigint[])"
)


def _wanted() -> tuple[str, str]:
    """(tenant_ids, all_tenants) for the current django-scopes state."""
    state = get_scope()
    if not state:
        return "", "off"
    if not state.get("_enabled", True):
        return "", "on"
    value = state.get("tenant")
    values = value if isinstance(value, list | tuple | set) else [value] if value is not None else []
    ids = sorted({int(getattr(v, "pk", v)) for v in values if v is not None})
    return ",".join(str(i) for i in ids), "off"


def _tell(connection, wanted: tuple[str, str]) -> None:
    with connection.connection.cursor() as cursor:  # the driver's own cursor: not logged, not wrapped
        cursor.execute(
            "SELECT set_config('app.tenant_ids', %s, false), set_config('app.all_tenants', %s, false)", list(wanted)
        )


def rls_execute_wrapper(execute, sql, params, many, context):
    connection = context["connection"]
    if connection.connection.info.transaction_status == _INERROR or sql.lstrip()[:9].upper() in _TXN_CONTROL:
        return execute(sql, params, many, context)  # transaction control (e.g. rollback after an error)
    wanted = _wanted()
    if connection.in_atomic_block:
        _tell(connection, wanted)
        connection._shien_rls = None
    elif getattr(connection, "_shien_rls", None) != (id(connection.connection), wanted):
        _tell(connection, wanted)
        connection._shien_rls = (id(connection.connection), wanted)
    return execute(sql, params, many, context)


def install(sender, connection, **kwargs) -> None:
    """``connection_created`` receiver: every PostgreSQL connection follows the scope."""
    if connection.vendor == "postgresql" and rls_execute_wrapper not in connection.execute_wrappers:
        connection.execute_wrappers.append(rls_execute_wrapper)
        connection._shien_rls = None


def tenant_tables() -> list[str]:
    from partners.tenancy import TenantOwnedModel

    return sorted(
        {
            m._meta.db_table
            for m in apps.get_models()
            if issubclass(m, TenantOwnedModel) and not m._meta.proxy and m._meta.managed
        }
    )


def ensure_row_level_security(using: str = "default") -> list[str]:
    """Idempotent: enable RLS (forced) with the tenant policy on every tenant-owned table that
    lacks it; returns the tables changed. A no-op on other databases."""
    from django.db import connections

    connection = connections[using]
    if connection.vendor != "postgresql":
        return []
    changed = []
    app_role = getattr(settings, "DATABASE_APP_ROLE", "")
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        existing = {row[0] for row in cursor.fetchall()}
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_policy p ON p.polrelid = c.oid WHERE p.polname = %s", [POLICY]
        )
        with_policy = {row[0] for row in cursor.fetchall()}
        for table in tenant_tables():
            if table not in existing or table in with_policy:
                continue
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"ALTER TABLE {quoted} ENABLE ROW LEVEL SECURITY")
            cursor.execute(f"ALTER TABLE {quoted} FORCE ROW LEVEL SECURITY")
            cursor.execute(f"CREATE POLICY {POLICY} ON {quoted} USING ({_CONDITION}) WITH CHECK ({_CONDITION})")
            changed.append(table)
        cursor.execute(
            "CREATE OR REPLACE FUNCTION shien_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only: TRUNCATE is refused', TG_TABLE_NAME; END $$"
        )
        for table in APPEND_ONLY_TABLES:
            if table not in existing:
                continue
            quoted = connection.ops.quote_name(table)
            cursor.execute("SELECT 1 FROM pg_trigger WHERE tgname = %s AND tgrelid = %s::regclass", [TRUNCATE_TRIGGER, table])
            if cursor.fetchone() is None:
                cursor.execute(
                    f"CREATE TRIGGER {TRUNCATE_TRIGGER} BEFORE TRUNCATE ON {quoted} "
                    "FOR EACH STATEMENT EXECUTE FUNCTION shien_refuse_truncate()"
                )
            if app_role:
                role = connection.ops.quote_name(app_role)
                cursor.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {quoted} FROM {role}")
                cursor.execute(f"GRANT SELECT, INSERT ON {quoted} TO {role}")
    return changed


def ensure_after_migrate(sender, using="default", **kwargs) -> None:
    """``post_migrate`` receiver (sent for every app after the whole migration run; idempotent)."""
    ensure_row_level_security(using)


def drop_row_level_security(using: str = "default") -> None:
    """Remove the policies and the TRUNCATE guard (a schema change that must drop a ``tenant_id``
    column, or rewinding migrations in a test); the next ``migrate`` puts them back."""
    from django.db import connections

    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_policy p ON p.polrelid = c.oid WHERE p.polname = %s", [POLICY]
        )
        for (table,) in cursor.fetchall():
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"DROP POLICY {POLICY} ON {quoted}")
            cursor.execute(f"ALTER TABLE {quoted} NO FORCE ROW LEVEL SECURITY")
            cursor.execute(f"ALTER TABLE {quoted} DISABLE ROW LEVEL SECURITY")
