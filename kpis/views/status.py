""""Refresh now", the freshness line (an HTMX partial the dashboards include) and the
measurement-health page."""

from __future__ import annotations

from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from kpis.health import measurement_health
from kpis.selectors import kpi_freshness
from kpis.services import kpis_refresh_request
from partners.permissions import manager_required

STOP_POLLING = 286  # htmx stops an "every 2s" poll on this status


def _partial(request, *, polling: bool):
    freshness = kpi_freshness(tenant=request.tenant)
    response = render(request, "kpis/_freshness.html", {"freshness": freshness})
    if polling and request.htmx and not freshness.pending:
        response.status_code = STOP_POLLING
    return response


@manager_required
@require_POST
def refresh(request, tenant_slug: str):
    kpis_refresh_request(tenant=request.tenant, actor=request.user)
    if not request.htmx:
        return redirect("manage-overview", tenant_slug=request.tenant.slug)
    return _partial(request, polling=False)


@manager_required
@require_GET
def freshness(request, tenant_slug: str):
    return _partial(request, polling=True)


@manager_required
@require_GET
def health(request, tenant_slug: str):
    """Measurement health: what is not measured or looks wrong (kpis.health)."""
    data = measurement_health(tenant=request.tenant)
    return render(request, "kpis/health.html", {"tenant": request.tenant, "health": data})
