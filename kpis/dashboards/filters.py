"""Period and filter parsing for the manager dashboards.

Every dashboard URL is shareable: the state lives in the query string. Unknown or invalid
values never raise — they fall back to the default and leave a notice that the page shows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from kpis.periods import period_bounds, previous_bounds
from partners.models import PartnerStatus

PERIODS = ("week", "month", "quarter", "custom")
DEFAULT_PERIOD = "month"
MAX_CUSTOM_DAYS = 731


def _parse_date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value.strip())
    except (ValueError, AttributeError):
        return None


def _parse_int(value: str | None) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if 0 < number < 2**62 else None


@dataclass
class DashboardFilters:
    """What the period selector and the filter form asked for, validated."""

    period: str
    start: dt.date
    end: dt.date
    prev_start: dt.date
    prev_end: dt.date
    today: dt.date
    date_from: str = ""
    date_to: str = ""
    tier_id: int | None = None
    segment: str = ""
    manager_id: int | None = None
    status: str = ""
    q: str = ""
    notices: list[str] = field(default_factory=list)

    @property
    def has_partner_filters(self) -> bool:
        return bool(self.tier_id or self.segment or self.manager_id or self.status or self.q)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def has_people_filters(self) -> bool:
        """Filters on who the partner is now (manager, status, name), not on its tier or segment."""
        return bool(self.manager_id or self.status or self.q)

    def partner_q(self, prefix: str = "", *, dims: bool = True) -> Q:
        """The partner filters as a Q, on Partner (prefix "") or through a FK (prefix "partner__").
        ``dims=False`` leaves out tier and segment (the completion rate filters its pairs by the
        tier and segment they were targeted with instead)."""
        cond = Q()
        if self.tier_id and dims:
            cond &= Q(**{f"{prefix}tier_id": self.tier_id})
        if self.segment and dims:
            cond &= Q(**{f"{prefix}segment": self.segment})
        if self.manager_id:
            cond &= Q(**{f"{prefix}manager_id": self.manager_id})
        if self.status:
            cond &= Q(**{f"{prefix}status": self.status})
        if self.q:
            cond &= Q(**{f"{prefix}name__icontains": self.q})
        return cond

    def params(self, **overrides) -> dict[str, str]:
        values = {
            "period": self.period,
            "from": self.date_from if self.period == "custom" else "",
            "to": self.date_to if self.period == "custom" else "",
            "tier": str(self.tier_id or ""),
            "segment": self.segment,
            "manager": str(self.manager_id or ""),
            "status": self.status,
            "q": self.q,
        }
        values.update({k: ("" if v is None else str(v)) for k, v in overrides.items()})
        return {k: v for k, v in values.items() if v}

    def querystring(self, **overrides) -> str:
        return urlencode(self.params(**overrides))


def parse_filters(
    data,
    *,
    tier_ids: set[int] | frozenset[int] = frozenset(),
    segments: set[str] | frozenset[str] = frozenset(),
    manager_ids: set[int] | frozenset[int] = frozenset(),
    today: dt.date | None = None,
) -> DashboardFilters:
    """Parse ``request.GET``. Allowed tiers/segments/managers come from the tenant's dimension tables."""
    today = today or timezone.localdate()
    notices: list[str] = []
    period = (data.get("period") or DEFAULT_PERIOD).strip()
    date_from = (data.get("from") or "").strip()
    date_to = (data.get("to") or "").strip()
    if period not in PERIODS:
        notices.append(_("Unknown period “%(value)s”: showing this month instead.") % {"value": period[:40]})
        period = DEFAULT_PERIOD
    start = end = None
    if period == "custom":
        start, end = _parse_date(date_from), _parse_date(date_to)
        if start is None or end is None or end < start or (end - start).days > MAX_CUSTOM_DAYS:
            notices.append(
                _("The custom range must be two valid dates (from ≤ to, at most two years): showing this month instead.")
            )
            period, start, end = DEFAULT_PERIOD, None, None
    if start is None or end is None:
        start, end = period_bounds(period, today)
        date_from, date_to = "", ""
    length = (end - start).days + 1
    if period in ("week", "custom"):
        prev_end = start - dt.timedelta(days=1)
        prev_start = prev_end - dt.timedelta(days=length - 1)
    else:
        prev_start, prev_end = previous_bounds(period, start)

    def checked(name: str, value, allowed, label: str):
        if value in (None, ""):
            return None
        if value not in allowed:
            notices.append(_("Unknown %(filter)s filter: showing all instead.") % {"filter": label})
            return None
        return value

    raw_tier = data.get("tier") or ""
    tier_id = checked("tier", _parse_int(raw_tier) if raw_tier else None, tier_ids, _("tier"))
    if raw_tier and _parse_int(raw_tier) is None:
        notices.append(_("Unknown %(filter)s filter: showing all instead.") % {"filter": _("tier")})
    raw_manager = data.get("manager") or ""
    manager_id = checked("manager", _parse_int(raw_manager) if raw_manager else None, manager_ids, _("channel manager"))
    if raw_manager and _parse_int(raw_manager) is None:
        notices.append(_("Unknown %(filter)s filter: showing all instead.") % {"filter": _("channel manager")})
    segment = checked("segment", (data.get("segment") or "").strip(), segments, _("segment")) or ""
    status = checked("status", (data.get("status") or "").strip(), set(PartnerStatus.values), _("status")) or ""
    q = (data.get("q") or "").strip()[:100]
    return DashboardFilters(
        period=period,
        start=start,
        end=end,
        prev_start=prev_start,
        prev_end=prev_end,
        today=today,
        date_from=date_from if period == "custom" else "",
        date_to=date_to if period == "custom" else "",
        tier_id=tier_id,
        segment=segment,
        manager_id=manager_id,
        status=status,
        q=q,
        notices=notices,
    )


def parse_choice(data, name: str, allowed, default, notices: list[str]):
    """A whitelisted single value (sort key, page size, …); unknown values fall back with a notice."""
    value = (data.get(name) or "").strip()
    if not value:
        return default
    if value not in allowed:
        notices.append(_("Unknown value for “%(name)s”: using the default.") % {"name": name})
        return default
    return value


def parse_positive_int(data, name: str, default: int, notices: list[str], *, maximum: int = 10_000) -> int:
    raw = (data.get(name) or "").strip()
    if not raw:
        return default
    value = _parse_int(raw)
    if value is None or value > maximum:
        notices.append(_("Unknown value for “%(name)s”: using the default.") % {"name": name})
        return default
    return value
