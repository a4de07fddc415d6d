"""Shared fixtures. Tests run inside an explicit tenant scope only where they ask for one."""

from __future__ import annotations

import importlib
import os

import django.db.backends.sqlite3.base  # noqa: F401  (loads the backend first: importing operations alone is circular)
import pytest
from django.db.backends.sqlite3.operations import DatabaseOperations as SQLiteOps
from django_scopes import scope, scopes_disabled

from tests import factories as f

# --- The append-only log vs. test flushes ----------------------------------------------------------
# Transactional tests (live_server) empty the database between tests with DELETE on SQLite, which
# the log's triggers refuse. Only in tests, flushing drops and re-creates the triggers around it.
_original_sql_flush = SQLiteOps.sql_flush


def _sql_flush_keeping_triggers(self, style, tables, *, reset_sequences=False, allow_cascade=False):
    statements = _original_sql_flush(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
    for table, module in (
        ("enablement_activityevent", "enablement.migrations.0019_activity_log_partitioned"),
        ("deals_dealevent", "partners.deals.migrations.0003_deal_keys_and_history_append_only"),
        ("partners_auditevent", "partners.migrations.0009_audit_log_append_only"),
    ):
        if table in tables:
            mig = importlib.import_module(module)
            statements = [*mig.SQLITE_BACKWARD, *statements, *mig.SQLITE_FORWARD]
    return statements


SQLiteOps.sql_flush = _sql_flush_keeping_triggers


def _pg_sql_flush_keeping_guards(self, style, tables, *, reset_sequences=False, allow_cascade=False):
    """PostgreSQL: the append-only tables refuse TRUNCATE (partners/tenancy/rls.py); only test
    flushes lift that guard around their TRUNCATE (the table owner may)."""
    from partners.tenancy.rls import APPEND_ONLY_TABLES, TRUNCATE_TRIGGER

    statements = _original_pg_sql_flush(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
    guarded = [t for t in APPEND_ONLY_TABLES if t in tables]
    if not statements or not guarded:
        return statements
    # every table carrying the guard: the append-only tables and the log's partitions (a TRUNCATE of
    # a partitioned table fires its partitions' TRUNCATE triggers too)
    toggle = (
        "DO $$ DECLARE r record; BEGIN FOR r IN SELECT tgrelid::regclass AS t FROM pg_trigger "
        f"WHERE tgname = '{TRUNCATE_TRIGGER}' LOOP "
        f"EXECUTE format('ALTER TABLE %s {{}} TRIGGER {TRUNCATE_TRIGGER}', r.t); END LOOP; END $$"
    )
    return [toggle.format("DISABLE"), *statements, toggle.format("ENABLE")]


try:
    from django.db.backends.postgresql.operations import DatabaseOperations as PostgresOps
except ImportError:  # pragma: no cover - psycopg is a dependency
    PostgresOps = None
if PostgresOps is not None:
    _original_pg_sql_flush = PostgresOps.sql_flush
    PostgresOps.sql_flush = _pg_sql_flush_keeping_guards


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    # Password hashing is deliberately slow in production; tests only need it to be correct.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    """allauth keeps its rate limits (e.g. 30 logins a minute per address) and used TOTP codes in the
    cache: each test starts from an empty one, as if the suite were not one fast client."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _mfa_enforcement(request, settings):
    """The second-factor requirement is exercised by the tests marked ``mfa``; elsewhere sessions of
    tenant admins stand in for ones that passed it."""
    settings.MFA_ENFORCED = request.node.get_closest_marker("mfa") is not None


@pytest.fixture(autouse=True)
def _eager_celery(request):
    """Tasks run in-process in every test, even when CI configures a broker for the suite;
    only tests marked ``celery_worker`` talk to the real broker and worker."""
    from prm.celery import app

    if request.node.get_closest_marker("celery_worker"):
        yield
        return
    old = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = old


@pytest.fixture
def no_scope():
    """For fixtures that create rows in several tenants at once."""
    with scopes_disabled():
        yield


@pytest.fixture
def tenant_a(db):
    return f.TenantFactory(name="Acme Japan", slug="acme", default_language="ja")


@pytest.fixture
def tenant_b(db):
    return f.TenantFactory(name="Globex", slug="globex", default_language="en")


def _member(tenant, role, **kwargs):
    with scope(tenant=tenant.pk):
        if role == "partner_user":
            return f.PartnerUserMembershipFactory(tenant=tenant, **kwargs)
        return f.MembershipFactory(tenant=tenant, role=role, **kwargs)


@pytest.fixture
def make_member():
    return _member


@pytest.fixture
def admin_a(tenant_a):
    return _member(tenant_a, "tenant_admin", user=f.UserFactory(is_staff=True, email="admin@acme.test"))


@pytest.fixture
def manager_a(tenant_a):
    return _member(tenant_a, "channel_manager", user=f.UserFactory(email="manager@acme.test"))


@pytest.fixture
def partner_user_a(tenant_a):
    return _member(tenant_a, "partner_user", user=f.UserFactory(email="partner@acme.test"))


@pytest.fixture
def admin_b(tenant_b):
    return _member(tenant_b, "tenant_admin", user=f.UserFactory(is_staff=True, email="admin@globex.test"))


@pytest.fixture
def manager_b(tenant_b):
    return _member(tenant_b, "channel_manager", user=f.UserFactory(email="manager@globex.test"))


@pytest.fixture
def partner_user_b(tenant_b):
    return _member(tenant_b, "partner_user", user=f.UserFactory(email="partner@globex.test"))


@pytest.fixture
def scope_a(tenant_a):
    with scope(tenant=tenant_a.pk):
        yield tenant_a


@pytest.fixture
def scope_b(tenant_b):
    with scope(tenant=tenant_b.pk):
        yield tenant_b


@pytest.fixture
def login(client):
    """``login(membership)`` logs the membership's user into the test client."""

    def _login(membership, c=None):
        c = c or client
        c.force_login(membership.user)
        return c

    return _login


def _remove_sqlite_side_files():
    """Remove the SQLite test database's WAL side files that outlive the destroyed database."""
    import contextlib
    from pathlib import Path

    from django.conf import settings

    name = settings.DATABASES["default"].get("TEST", {}).get("NAME")
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3") and name:
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(OSError):
                Path(f"{name}{suffix}").unlink()


# --- Tests that need something outside Python ----------------------------------------------------------
# Deselected (and named in the summary) when their prerequisite is missing, never silently skipped;
# under CI a missing browser is an error. .ci/run provides both: Chromium for the SQLite pass, and
# PostgreSQL + a Redis broker for the second pass, where the real-worker test runs.
_DESELECTED: list[str] = []


def _missing_prerequisite(item) -> str | None:
    from pathlib import Path

    from django.conf import settings

    on_postgres = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    if item.get_closest_marker("celery_worker") and not (settings.CELERY_BROKER_URL and on_postgres):
        return "needs CELERY_BROKER_URL and PostgreSQL (a worker process must reach the test database)"
    if item.get_closest_marker("replica") and not ("replica" in settings.DATABASES and on_postgres):
        return "needs a streaming replica (DATABASE_REPLICA_URL); .ci/replica-drill makes one and runs these"
    if item.get_closest_marker("postgres") and not on_postgres:
        return "needs PostgreSQL (row-level security, advisory locks); .ci/run runs it in its PostgreSQL pass"
    if item.get_closest_marker("e2e") and not Path("/usr/bin/chromium").exists():
        if os.environ.get("CI"):
            raise pytest.UsageError("browser tests need Debian's chromium at /usr/bin/chromium")
        return "needs Debian's chromium (apt-get install chromium)"
    return None


def pytest_collection_modifyitems(config, items):
    keep, drop = [], []
    for item in items:
        reason = _missing_prerequisite(item)
        if reason:
            drop.append(item)
            _DESELECTED.append(f"{item.nodeid}: {reason}")
        else:
            keep.append(item)
            if item.get_closest_marker("celery_worker"):
                # Under pytest-xdist (`make test` runs the suite in parallel) the tests that start a
                # real Celery worker share one broker: they run one after another in one process.
                item.add_marker(pytest.mark.xdist_group("celery_worker"))
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_sessionfinish(session, exitstatus):
    """Clean up; under xdist a worker hands its deselected list to the controller."""
    _remove_sqlite_side_files()
    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["deselected"] = list(_DESELECTED)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """xdist controller: each worker collected (and deselected) on its own; the summary names each
    deselected test once."""
    for line in getattr(node, "workeroutput", {}).get("deselected", []):
        if line not in _DESELECTED:
            _DESELECTED.append(line)


def pytest_terminal_summary(terminalreporter):
    if _DESELECTED:
        terminalreporter.section("deselected: prerequisite missing")
        for line in _DESELECTED:
            terminalreporter.write_line(line)
