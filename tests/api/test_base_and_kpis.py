"""The API base view seals the tenant scope; KPI endpoints filter and never leak."""

from __future__ import annotations

import datetime as dt

import pytest
from django_scopes import scope
from django_scopes.exceptions import ScopeError

from kpis.models import KpiResult
from partners.api.base import TenantReadOnlyViewSet
from partners.models import Partner
from tests import factories as f


@pytest.mark.parametrize("name", ["initial", "dispatch", "finalize_response", "get_queryset"])
def test_subclasses_cannot_override_the_scope_handling(name):
    with pytest.raises(TypeError, match=name):
        type("Bad", (TenantReadOnlyViewSet,), {name: lambda self, *a, **k: None})


def test_the_scope_is_closed_after_the_request(api_a, world_a):
    assert api_a.get("/api/v1/partners/").status_code == 200
    with pytest.raises(ScopeError):
        list(Partner.objects.all())


def test_kpi_results_filters(world_a, api_a, api_b):
    t = world_a.tenant
    with scope(tenant=t.pk):
        d1 = f.KpiDefinitionFactory(tenant=t)
        d2 = f.KpiDefinitionFactory(tenant=t, metric="active_partner_rate")
        for d in (d1, d2):
            for month in (2, 3):
                KpiResult.objects.create(
                    tenant=t, definition=d, period_start=dt.date(2026, month, 1), period_end=dt.date(2026, month, 28), target=80
                )
            KpiResult.objects.create(
                tenant=t, definition=d, partner=world_a.partner, period_start=dt.date(2026, 3, 1), period_end=dt.date(2026, 3, 28), target=80
            )
    get = lambda **p: api_a.get("/api/v1/kpi-results/", p).json()  # noqa: E731
    assert get()["count"] == 6
    assert get(definition=d1.pk)["count"] == 3
    assert get(period="2026-03-15")["count"] == 4
    assert get(partner="overall")["count"] == 4
    assert get(partner=world_a.partner.pk, definition=d2.pk)["count"] == 1
    assert api_a.get("/api/v1/kpi-results/", {"period": "March"}).status_code == 400
    assert api_a.get("/api/v1/kpi-definitions/").json()["count"] == 2
    assert api_b.get("/api/v1/kpi-results/").json()["count"] == 0
    assert api_b.get("/api/v1/kpi-definitions/").json()["count"] == 0
