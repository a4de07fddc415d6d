"""CSV exports of the dashboard tables: UTF-8 with a BOM (Excel opens Japanese correctly),
an ASCII-safe filename plus an RFC 5987 ``filename*`` with the full name."""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterable, Sequence
from urllib.parse import quote

from django.http import HttpResponse
from django.utils import formats, timezone

BOM = "\ufeff"


def _ascii_filename(name: str) -> str:
    ascii_name = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    return ascii_name or "export"


def _cell(value):
    """Empty for None; dates and times as on the pages; text that a spreadsheet would run as a formula is quoted with a leading '."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):  # the tenant's time zone (activated per request), the language's format
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return formats.date_format(value, "SHORT_DATETIME_FORMAT")
    if isinstance(value, dt.date):
        return formats.date_format(value, "SHORT_DATE_FORMAT")
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_response(basename: str, headers: Sequence[str], rows: Iterable[Sequence]) -> HttpResponse:
    """``basename`` without extension; today's date and .csv are added."""
    filename = f"{basename}-{timezone.localdate():%Y%m%d}.csv"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f"attachment; filename=\"{_ascii_filename(filename)}\"; filename*=UTF-8''{quote(filename)}"
    )
    response.write(BOM)
    writer = csv.writer(response)
    writer.writerow([str(h) for h in headers])
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return response
