"""Per-key token bucket for the LRS: a sustained rate plus a burst, so an LMS catching up is not cut off.

Settings (or the environment variable of the same name for the default):

* ``LRS_RATE_LIMIT`` — ``"<requests per second>/s"`` with an optional ``" burst <n>"``; default
  ``"100/s burst 2000"``; ``"off"`` disables the limit.
* ``LRS_RATE_LIMITS`` — per key: ``{"<key prefix>": "<same syntax>"}``.

A refused request is answered 429 with ``Retry-After`` (whole seconds until one token is back).
The bucket lives in the same database cache table as the API throttle (works while Redis is down).
"""

from __future__ import annotations

import math
import os
import re
import time

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from partners.api.throttling import throttle_cache

DEFAULT = "100/s burst 2000"
SPEC_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*s(?:ec(?:ond)?)?\s*(?:burst\s*(\d+))?\s*$")


def parse_limit(spec: str) -> tuple[float, float] | None:
    """``"100/s burst 2000"`` → ``(100.0, 2000.0)``; ``"off"`` → None. The burst defaults to the rate."""
    if spec.strip().lower() == "off":
        return None
    m = SPEC_RE.match(spec)
    if not m:
        raise ValueError(f"LRS rate limit {spec!r}: expected '<n>/s' or '<n>/s burst <m>' or 'off'")
    rate = float(m.group(1))
    burst = float(m.group(2)) if m.group(2) else max(rate, 1.0)
    return rate, burst


def limit_for(prefix: str) -> tuple[float, float] | None:
    per_key = getattr(settings, "LRS_RATE_LIMITS", None) or {}
    spec = (
        per_key.get(prefix)
        or getattr(settings, "LRS_RATE_LIMIT", None)
        or os.environ.get("LRS_RATE_LIMIT")
        or DEFAULT
    )
    return parse_limit(spec)


class TokenBucketThrottle(BaseThrottle):
    def allow_request(self, request, view) -> bool:
        key = request.auth
        if key is None or not getattr(key, "pk", None):
            return True
        limit = limit_for(key.prefix)
        if limit is None:
            return True
        rate, burst = limit
        cache_key = f"lrs:bucket:{key.pk}"
        now = time.time()
        tokens, last = throttle_cache.get(cache_key) or (burst, now)
        tokens = min(burst, tokens + max(0.0, now - last) * rate)
        if tokens < 1:
            self._wait = (1 - tokens) / rate if rate > 0 else 3600
            throttle_cache.set(cache_key, (tokens, now), timeout=max(60, int(burst / max(rate, 0.001)) + 60))
            return False
        throttle_cache.set(cache_key, (tokens - 1, now), timeout=max(60, int(burst / max(rate, 0.001)) + 60))
        return True

    def wait(self) -> float | None:
        return max(1, math.ceil(getattr(self, "_wait", 1)))
