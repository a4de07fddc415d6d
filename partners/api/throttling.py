"""Per-key throttling with its state in the database (works while Redis is down).

The rate is ``settings.API_THROTTLE_RATE``, else the environment variable of that name (default
``600/min``; ``off`` disables it); the counters live in a
Django ``DatabaseCache`` table created by migration ``partners.0002_api_throttle_table``.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.core.cache.backends.db import DatabaseCache
from rest_framework.throttling import SimpleRateThrottle

THROTTLE_TABLE = "shien_api_throttle"
DEFAULT_RATE = "600/min"

throttle_cache = DatabaseCache(THROTTLE_TABLE, {"MAX_ENTRIES": 100_000, "CULL_FREQUENCY": 10})


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"
    cache = throttle_cache

    def get_rate(self) -> str | None:
        rate = getattr(settings, "API_THROTTLE_RATE", None) or os.environ.get("API_THROTTLE_RATE") or DEFAULT_RATE
        return None if rate == "off" else rate

    def get_cache_key(self, request, view) -> str | None:
        key = request.auth
        if key is None or not getattr(key, "pk", None):
            return None
        return f"throttle:api_key:{key.pk}"
