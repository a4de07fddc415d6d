"""Per-user rate limit of the portal endpoints that write to the activity log.

DRF's ``SimpleRateThrottle`` (already a dependency) with its history in the same database cache
table as the API throttle (``partners.0002_api_throttle_table``): it holds across several web
processes and needs no Redis in the request path. Over the limit the endpoint answers 429 with
``Retry-After`` *before* writing anything, so an event is either stored (and answered 2xx) or
refused as a whole; the player keeps a refused heartbeat and sends it again with the same id.

The rate is ``settings.PORTAL_LOG_RATE`` (default ``120/min`` per user and tenant; ``off``
disables it). The player sends one heartbeat every 10 seconds. The cmi5 endpoints, which a
course calls with its launch token instead of a session, count against the same per-person rate.
"""

from __future__ import annotations

import functools
import math

from django.conf import settings
from django.http import HttpResponse
from django.utils.translation import gettext as _
from rest_framework.throttling import SimpleRateThrottle

from partners.api.throttling import throttle_cache

DEFAULT_RATE = "120/min"


class PortalLogThrottle(SimpleRateThrottle):
    scope = "portal_log"
    cache = throttle_cache

    def get_rate(self) -> str | None:
        rate = getattr(settings, "PORTAL_LOG_RATE", None) or DEFAULT_RATE
        return None if rate == "off" else rate

    def __init__(self, *, tenant_id: int | None = None, user_id: int | None = None):
        super().__init__()
        self.ids = (tenant_id, user_id)  # for callers that know the person without a session (cmi5)

    def get_cache_key(self, request, view) -> str | None:
        tenant_id, user_id = self.ids
        if user_id is None:
            user = getattr(request, "user", None)
            tenant = getattr(request, "tenant", None)
            if user is None or not user.is_authenticated or tenant is None:
                return None
            tenant_id, user_id = tenant.pk, user.pk
        return f"throttle:portal_log:{tenant_id}:{user_id}"


def portal_log_wait(request, *, tenant_id: int | None = None, user_id: int | None = None) -> int | None:
    """Seconds to wait when the person is over the rate (the request is then counted nowhere),
    ``None`` when the request may write."""
    throttle = PortalLogThrottle(tenant_id=tenant_id, user_id=user_id)
    if throttle.allow_request(request, None):
        return None
    return max(1, math.ceil(throttle.wait() or 1))


def portal_log_throttled(view):
    """Decorator for a portal view that logs: 429 + Retry-After over the user's rate."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        wait = portal_log_wait(request)
        if wait is not None:
            response = HttpResponse(
                _("Too many requests. Please try again shortly."), status=429, content_type="text/plain; charset=utf-8"
            )
            response["Retry-After"] = str(wait)
            return response
        return view(request, *args, **kwargs)

    return wrapper
