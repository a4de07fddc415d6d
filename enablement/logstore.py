"""How the activity log is stored: monthly partitions on PostgreSQL, and the two sanctioned ways
past its append-only guard (retention's DELETE, erasure's UPDATE of identity).

The schema lives in ``enablement/migrations/0019_activity_log_partitioned.py``; this module calls
its SQL functions (they run as the table owner, so the application role may call them) and gives
SQLite the same guard: the log's triggers ask ``shien_log_unlock()``, a function registered on
every SQLite connection that answers what ``log_unlocked`` currently allows.
"""

from __future__ import annotations

import contextvars
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection

TABLE = "enablement_activityevent"
MONTHS_AHEAD = 3
DEFINER_FUNCTIONS = (
    "shien_activity_partitions_ensure(date, integer)",
    "shien_activity_partitions_prune(date)",
    "shien_activity_archive_delete(bigint, timestamp with time zone, timestamp with time zone, bigint[])",
    "shien_activity_rewrite_identity(bigint, bigint[], text[], jsonb[])",
    "shien_audit_rewrite_identity(bigint[], text[], text[], jsonb[], jsonb[])",  # partners 0013
)

_unlock: contextvars.ContextVar[str] = contextvars.ContextVar("shien_log_unlock", default="")


@contextmanager
def log_unlocked(operation: str) -> Iterator[None]:
    """SQLite only: let the log's triggers pass ``archive`` (DELETE) or ``erase`` (UPDATE of
    ``actor_ref``/``extra``; in the audit log of its labels, ``before`` and ``after``) inside the
    block. PostgreSQL does the same inside its SQL functions."""
    if operation not in ("archive", "erase"):
        raise ValueError(operation)
    token = _unlock.set(operation)
    try:
        yield
    finally:
        _unlock.reset(token)


def register_sqlite_functions(sender, connection, **kwargs) -> None:
    """``connection_created`` receiver."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("shien_log_unlock", 0, lambda: _unlock.get() or None)


def is_partitioned() -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass(%s)", [TABLE])
        row = cursor.fetchone()
    return bool(row and row[0])


def partitions_ensure(months_ahead: int = MONTHS_AHEAD, *, today: dt.date | None = None) -> int:
    """Create the partitions of this month and the next ``months_ahead`` months that are missing
    (idempotent). Returns how many were created; 0 where the log is not partitioned."""
    if not is_partitioned():
        return 0
    first = (today or dt.datetime.now(dt.UTC).date()).replace(day=1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT shien_activity_partitions_ensure(%s, %s)", [first, months_ahead])
        return cursor.fetchone()[0]


def partitions_prune(*, before: dt.date) -> list[str]:
    """Drop the monthly partitions that end on or before ``before`` and hold no row of any tenant
    (retention archived them all). Returns the dropped partitions' names."""
    if not is_partitioned():
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT shien_activity_partitions_prune(%s)", [before])
        return list(cursor.fetchone()[0] or [])


def partitions() -> list[tuple[str, str]]:
    """``(name, bound)`` of every partition of the log, in name order (operations, tests)."""
    if not is_partitioned():
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass ORDER BY c.relname",
            [TABLE],
        )
        return cursor.fetchall()


def ensure_after_migrate(sender, using="default", **kwargs) -> None:
    """``post_migrate`` receiver: partitions ahead, every partition set up like its parent (the
    tenant policy that ``partners.tenancy.rls`` put on the parent, the TRUNCATE guard, no
    UPDATE/DELETE for the application role), and the owner-run functions callable only by the
    owner and the application role."""
    from django.db import connections

    conn = connections[using]
    if conn.vendor != "postgresql":
        return
    with conn.cursor() as cursor:
        cursor.execute("SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass(%s)", [TABLE])
        row = cursor.fetchone()
        if not (row and row[0]):
            return
        first = dt.datetime.now(dt.UTC).date().replace(day=1)
        cursor.execute("SELECT shien_activity_partitions_ensure(%s, %s)", [first, MONTHS_AHEAD])
        cursor.execute(
            "SELECT shien_activity_partition_setup(i.inhrelid::regclass) FROM pg_inherits i WHERE i.inhparent = %s::regclass",
            [TABLE],
        )
        app_role = getattr(settings, "DATABASE_APP_ROLE", "")
        for function in (*DEFINER_FUNCTIONS, "shien_activity_partition_setup(regclass)"):
            cursor.execute(f"REVOKE EXECUTE ON FUNCTION {function} FROM PUBLIC")
            if app_role and function in DEFINER_FUNCTIONS:
                cursor.execute(f"GRANT EXECUTE ON FUNCTION {function} TO {conn.ops.quote_name(app_role)}")
