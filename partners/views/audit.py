"""Manage → Audit log (tenant admins): who changed what in this tenant; filter and export as CSV."""

from __future__ import annotations

import csv
import datetime as dt
import json

from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from partners.permissions import admin_required
from partners.selectors import audit_event_list

EXPORT_MAX_ROWS = 100_000


def _date(value: str | None):
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _filters(request) -> dict:
    g = request.GET
    return {
        "q": g.get("q", "").strip()[:200],
        "action": g.get("action", "").strip()[:64],
        "actor": g.get("actor", "").strip()[:254],
        "since": _date(g.get("since")),
        "until": _date(g.get("until")),
    }


class _Echo:
    def write(self, value):
        return value


def _csv_cell(value) -> str:
    """Values starting with a formula character are quoted for spreadsheets (CSV injection)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False) if value else ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@admin_required
@require_GET
def audit_log(request, tenant_slug: str):
    filters = _filters(request)
    events = audit_event_list(tenant=request.tenant, **filters)
    if request.GET.get("format") == "csv":
        writer = csv.writer(_Echo())
        header = ["time", "actor", "action", "target_type", "target_id", "target", "before", "after", "ip"]

        def rows():
            yield writer.writerow(header)
            for e in events[:EXPORT_MAX_ROWS].iterator(chunk_size=2000):
                yield writer.writerow([
                    timezone.localtime(e.created_at).isoformat(), _csv_cell(e.actor_label), e.action, e.target_type,
                    e.target_id, _csv_cell(e.target_label), _csv_cell(e.before), _csv_cell(e.after), e.ip or "",
                ])

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="audit-{request.tenant.slug}.csv"'
        return response
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("format", None)
    template = "partners/manage_audit.html"
    if request.htmx and not request.htmx.boosted:
        template += "#table"
    return render(request, template, {"page": page, "filters": filters, "query": query.urlencode()})
