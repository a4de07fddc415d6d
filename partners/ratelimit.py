"""A small fixed-window rate limit for sending things (invitations, password-reset e-mails).

State lives in the database cache table the API throttle already uses (no Redis in the request
path). Usage::

    if not rate_limit_allow("password-reset:ip", client_ip(request), limit=5, window=3600):
        ...refuse, with the wait time...

``rate_limit_allow`` counts the call and answers whether it is within ``limit`` per ``window``
seconds; limits come from ``settings.SHIEN_RATE_LIMITS`` (``{"name": (limit, window)}``) when
the caller passes only a name.
"""

from __future__ import annotations

import hashlib
import time

from django.conf import settings

DEFAULTS: dict[str, tuple[int, int]] = {
    "invite:tenant": (50, 3600),  # invitations (and resends) per tenant per hour
    "invite:email": (3, 3600),  # per invited address per hour, per tenant
    "password-reset:ip": (10, 3600),
    "password-reset:email": (3, 3600),
}


def _cache():
    from partners.api.throttling import throttle_cache

    return throttle_cache


def _limits(name: str) -> tuple[int, int]:
    return {**DEFAULTS, **getattr(settings, "SHIEN_RATE_LIMITS", {})}[name]


def _key(name: str, ident: str, window: int) -> tuple[str, int]:
    bucket = int(time.time() // window)
    digest = hashlib.sha256(f"{name}|{ident}".encode()).hexdigest()[:32]
    return f"rl:{digest}:{bucket}", (bucket + 1) * window - int(time.time())


def rate_limit_allow(name: str, ident: str | None, *, limit: int | None = None, window: int | None = None) -> bool:
    """Count one use of ``name`` by ``ident``; False when over the limit."""
    if ident is None:
        ident = "-"
    if limit is None or window is None:
        limit, window = _limits(name)
    key, remaining = _key(name, str(ident).lower(), window)
    cache = _cache()
    cache.add(key, 0, timeout=remaining + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=remaining + 1)
        count = 1
    return count <= limit


def rate_limit_retry_after(name: str, *, window: int | None = None) -> int:
    """Seconds until the current window of ``name`` ends (for the "try again in …" message)."""
    if window is None:
        window = _limits(name)[1]
    return window - int(time.time()) % window
