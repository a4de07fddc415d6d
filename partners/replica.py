"""Dashboard reads on a streaming replica; everything else on the primary.

With ``DATABASE_REPLICA_URL`` set (settings add the ``replica`` alias), a view wrapped in
``replica_reads`` (the channel managers' dashboards and the success-patterns page) reads from the
replica. Everything else reads from the primary, and so does a dashboard request that
- has written anything itself (read-your-writes inside the request), or
- comes within ``DATABASE_REPLICA_PIN_SECONDS`` after a write request of the same browser (a POST
  that redirects to a dashboard, e.g. "Refresh now" or assigning a playbook, must see its own write
  although the replica may lag): ``PinToPrimaryMiddleware`` marks such browsers with a cookie.
Writes always go to the primary. Without a replica, nothing changes (one database, alias "default").
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS

REPLICA = "replica"
PIN_COOKIE = "shien_primary_until"

# None: not a replica-read context; False: replica reads allowed; True: pinned to the primary.
_state: ContextVar[bool | None] = ContextVar("shien_replica_reads", default=None)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


@contextmanager
def use_replica(*, pinned: bool = False):
    """Reads inside go to the replica (when configured), until the first write pins them back."""
    token = _state.set(pinned)
    try:
        yield
    finally:
        _state.reset(token)


def replica_reads(view):
    """Decorator for read-only views whose reads may lag the primary by a little (dashboards)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method not in ("GET", "HEAD") or not replica_configured():
            return view(request, *args, **kwargs)
        with use_replica(pinned=_recently_wrote(request)):
            return view(request, *args, **kwargs)

    return wrapped


def _recently_wrote(request) -> bool:
    try:
        return float(request.COOKIES.get(PIN_COOKIE, "0")) > time.time()
    except ValueError:
        return False


class PinToPrimaryMiddleware:
    """After a write request (any method but GET/HEAD/OPTIONS), the same browser's next requests
    read from the primary for DATABASE_REPLICA_PIN_SECONDS, longer than the replica's normal lag."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if replica_configured() and request.method not in ("GET", "HEAD", "OPTIONS"):
            seconds = settings.DATABASE_REPLICA_PIN_SECONDS
            response.set_cookie(
                PIN_COOKIE, f"{time.time() + seconds:.0f}", max_age=seconds, httponly=True, samesite="Lax",
                secure=request.is_secure(),
            )
        return response


class ReplicaRouter:
    """``DATABASE_ROUTERS`` entry: replica for reads in a ``use_replica`` context, the primary otherwise."""

    def db_for_read(self, model, **hints):
        if _state.get() is False and replica_configured():
            return REPLICA
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints):
        if _state.get() is False:
            _state.set(True)  # read-your-writes: the rest of this request reads the primary
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the replica is a copy of the primary: the same rows

    def allow_migrate(self, db, app_label, **hints):
        return db == DEFAULT_DB_ALIAS
