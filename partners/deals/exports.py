"""CSV export of the deals list: UTF-8 with a BOM (Excel opens Japanese correctly), times in the
tenant's time zone, one date format per language."""

from __future__ import annotations

import csv
from collections.abc import Iterable

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from partners.deals.models import Deal
from partners.models import Tenant

# One date (and date-time) format per language.
DATE_FORMATS = {"ja": ("%Y/%m/%d", "%Y/%m/%d %H:%M"), "en": ("%Y-%m-%d", "%Y-%m-%d %H:%M")}


def _formats() -> tuple[str, str]:
    return DATE_FORMATS.get((get_language() or "en")[:2], DATE_FORMATS["en"])


def _cell(value) -> str:
    """Text that a spreadsheet would run as a formula is quoted with a leading '."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def deals_csv(*, tenant: Tenant, deals: Iterable[Deal]) -> HttpResponse:
    date_fmt, datetime_fmt = _formats()
    zone = tenant.zoneinfo

    def day(value):
        return value.strftime(date_fmt) if value else ""

    response = HttpResponse(content_type="text/csv; charset=utf-8")
    filename = f"deals-{timezone.localtime(timezone=zone):%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.write("\ufeff")
    writer = csv.writer(response)
    writer.writerow([
        _("Partner"), _("Customer"), _("Customer domain"), _("Product"), _("Amount"), _("Currency"), _("Stage"),
        _("Conflict"), _("Expected close date"), _("Closed on"), _("Registration expires on"), _("Source"),
        _("Registered"), _("Updated"),
    ])
    for deal in deals:
        writer.writerow([_cell(v) for v in (
            deal.partner.name, deal.customer, deal.customer_domain, deal.product, f"{deal.amount:f}", deal.currency,
            deal.get_stage_display(), _("yes") if getattr(deal, "has_conflict", False) else "",
            day(deal.expected_close_on), day(deal.closed_on), day(deal.expires_on), deal.get_source_display(),
            timezone.localtime(deal.created_at, zone).strftime(datetime_fmt),
            timezone.localtime(deal.updated_at, zone).strftime(datetime_fmt),
        )])
    return response
