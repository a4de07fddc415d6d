"""CSV exports of the dashboard tables: UTF-8 with a BOM (Excel opens Japanese correctly),
an ASCII-safe filename plus an RFC 5987 ``filename*`` with the full name."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from urllib.parse import quote

from django.http import HttpResponse
from django.utils import timezone

BOM = "\ufeff"


def _ascii_filename(name: str) -> str:
    ascii_name = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    return ascii_name or "export"


def _cell(value):
    """Empty for None; text that a spreadsheet would run as a formula is quoted with a leading '."""
    if value is None:
        return ""
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
