"""Health endpoints for load balancers and orchestrators.

* ``/healthz`` (liveness): the process answers; touches nothing else.
* ``/readyz`` (readiness): the database answers and every migration is applied (503 otherwise);
  the broker's state is reported but never fails readiness (Redis is not in the request path:
  requests still succeed with the broker down, DESIGN.md "Runtime").

``HealthMiddleware`` (first in MIDDLEWARE) answers both paths before host validation, HTTPS
redirects, sessions and tenancy, so a probe works with the default settings whatever ``Host``
header it sends (``127.0.0.1:8000`` inside a container is not in ``ALLOWED_HOSTS``).
"""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpResponse, JsonResponse

_migrations_ok = False  # once applied, they stay applied for the life of the process


def healthz(request) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


def _database() -> tuple[bool, str]:
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure means "not ready", with the reason
        return False, f"{type(exc).__name__}: {exc}"[:300]
    return True, "ok"


def _migrations() -> tuple[bool, str]:
    global _migrations_ok
    if _migrations_ok:
        return True, "ok"
    try:
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"[:300]
    if pending:
        return False, f"{len(pending)} migrations not applied"
    _migrations_ok = True
    return True, "ok"


def _broker() -> str:
    """``eager`` (no broker configured), ``ok`` or ``unreachable`` (a TCP connect, one second)."""
    url = getattr(settings, "CELERY_BROKER_URL", "")
    if not url:
        return "eager"
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "localhost", parts.port or 6379), timeout=1.0):
            return "ok"
    except OSError:
        return "unreachable"


def readyz(request) -> JsonResponse:
    started = time.monotonic()
    db_ok, db = _database()
    mig_ok, mig = _migrations() if db_ok else (False, "database unreachable")
    body = {
        "status": "ready" if db_ok and mig_ok else "not ready",
        "database": db,
        "migrations": mig,
        "broker": _broker(),
        "seconds": round(time.monotonic() - started, 3),
    }
    return JsonResponse(body, status=200 if db_ok and mig_ok else 503)


PATHS = {"/healthz": healthz, "/readyz": readyz}


class HealthMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        view = PATHS.get(request.path_info.rstrip("/") or "/")
        if view is not None and request.method in ("GET", "HEAD"):
            return view(request)
        return self.get_response(request)
