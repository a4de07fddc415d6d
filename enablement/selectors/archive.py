"""Reads about the archived part of the activity log (``enablement.services.retention``)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Max

from enablement.models import ActivityArchive
from partners.models import Tenant


def archived_before(tenant: Tenant) -> dt.date | None:
    """The first tenant-local day whose events are all still in the log, when retention has
    archived anything (every day before it is archived, whole months at a time); else None."""
    last = ActivityArchive.objects.filter(tenant=tenant).aggregate(m=Max("month"))["m"]
    if last is None:
        return None
    index = last.year * 12 + last.month  # the month after the last archived one
    return dt.date(index // 12, index % 12 + 1, 1)
