"""API key scopes over every endpoint: each request is allowed for exactly the scope it needs.

``read`` every GET; ``events:write`` activity events and xAPI statements only; ``partners:write``
partners; ``deals:write`` deals (entering as registered); ``deals:approve`` stage changes.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django_scopes import scope

from partners.deals.models import Deal, DealStage
from partners.models import ApiKeyScope
from partners.services import api_key_create
from tests import factories as f
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db

XAPI_HEADERS = {"HTTP_X_EXPERIENCE_API_VERSION": "1.0.3"}
ACT = quote("https://lms.example/assets/acme-video", safe="")
AGENT = quote('{"mbox": "mailto:taro@acme.example"}', safe="")
STATE_QS = f"activityId={ACT}&agent={AGENT}&stateId=s1"


def _statement():
    return {
        "id": str(uuid.uuid4()),
        "actor": {"objectType": "Agent", "mbox": "mailto:taro@acme.example"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"en-US": "completed"}},
        "object": {"objectType": "Activity", "id": "https://lms.example/assets/acme-video"},
        "timestamp": "2026-04-01T10:00:00+09:00",
    }


def _requests(w):
    """(name, method, path, body, needed scope) for every API endpoint."""
    with scope(tenant=w.tenant.pk):
        deal = f.DealFactory(tenant=w.tenant, partner=w.partner, external_id="deal-1")
        definition = f.KpiDefinitionFactory(tenant=w.tenant)
        result = f.KpiResultFactory(definition=definition)
        assignment = f.AssignmentFactory(tenant=w.tenant, asset=w.video, partner=w.partner)
        logged = f.ActivityEventFactory(tenant=w.tenant, partner=w.partner)
    event = {"event_id": "m-1", "verb": "training.started", "occurred_at": "2026-04-01T10:00:00Z",
             "partner": w.partner.external_id, "asset": w.video.external_id}
    deal_body = {"partner": w.partner.external_id, "customer": "Kobe", "amount": "10"}
    return [
        ("partners list", "get", "/api/v1/partners/", None, ApiKeyScope.READ),
        ("partner", "get", f"/api/v1/partners/{w.partner.external_id}/", None, ApiKeyScope.READ),
        ("partner upsert", "put", "/api/v1/partners/new-1/", {"name": "New One"}, ApiKeyScope.PARTNERS_WRITE),
        ("tiers list", "get", "/api/v1/tiers/", None, ApiKeyScope.READ),
        ("tier", "get", f"/api/v1/tiers/{w.tier.pk}/", None, ApiKeyScope.READ),
        ("deals list", "get", "/api/v1/deals/", None, ApiKeyScope.READ),
        ("deal", "get", f"/api/v1/deals/{deal.external_id}/", None, ApiKeyScope.READ),
        ("deal upsert", "put", "/api/v1/deals/deal-new/", deal_body, ApiKeyScope.DEALS_WRITE),
        ("assets list", "get", "/api/v1/assets/", None, ApiKeyScope.READ),
        ("asset", "get", f"/api/v1/assets/{w.video.pk}/", None, ApiKeyScope.READ),
        ("assignments list", "get", "/api/v1/assignments/", None, ApiKeyScope.READ),
        ("assignment", "get", f"/api/v1/assignments/{assignment.pk}/", None, ApiKeyScope.READ),
        ("events list", "get", "/api/v1/events/", None, ApiKeyScope.READ),
        ("event", "get", f"/api/v1/events/{logged.pk}/", None, ApiKeyScope.READ),
        ("events post", "post", "/api/v1/events/", {"events": [event]}, ApiKeyScope.EVENTS_WRITE),
        ("events export", "get", "/api/v1/events/export-xapi/", None, ApiKeyScope.READ),
        ("kpi definitions", "get", "/api/v1/kpi-definitions/", None, ApiKeyScope.READ),
        ("kpi definition", "get", f"/api/v1/kpi-definitions/{definition.pk}/", None, ApiKeyScope.READ),
        ("kpi results", "get", "/api/v1/kpi-results/", None, ApiKeyScope.READ),
        ("kpi result", "get", f"/api/v1/kpi-results/{result.pk}/", None, ApiKeyScope.READ),
        ("xapi statements get", "get", "/api/xapi/statements", None, ApiKeyScope.READ),
        ("xapi statements post", "post", "/api/xapi/statements", _statement, ApiKeyScope.EVENTS_WRITE),
        ("xapi unmapped", "get", "/api/xapi/unmapped", None, ApiKeyScope.READ),
        ("xapi state get", "get", f"/api/xapi/activities/state?{STATE_QS}", None, ApiKeyScope.READ),
        ("xapi state put", "put", f"/api/xapi/activities/state?{STATE_QS}", {"k": 1}, ApiKeyScope.EVENTS_WRITE),
        ("xapi activity profile get", "get", f"/api/xapi/activities/profile?activityId={ACT}", None, ApiKeyScope.READ),
        ("xapi activity profile put", "put", f"/api/xapi/activities/profile?activityId={ACT}&profileId=p1",
         {"k": 1}, ApiKeyScope.EVENTS_WRITE),
        ("xapi activities", "get", f"/api/xapi/activities?activityId={ACT}", None, ApiKeyScope.READ),
        ("xapi agents", "get", f"/api/xapi/agents?agent={AGENT}", None, ApiKeyScope.READ),
        ("xapi agent profile get", "get", f"/api/xapi/agents/profile?agent={AGENT}", None, ApiKeyScope.READ),
        ("xapi agent profile put", "put", f"/api/xapi/agents/profile?agent={AGENT}&profileId=p1", {"k": 1},
         ApiKeyScope.EVENTS_WRITE),
    ]


def _api_routes():
    """Every route under /api/v1/ and /api/xapi/ (except the public About resource)."""
    out = set()

    def walk(patterns, prefix):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern) and p.name:
                out.add((prefix + str(p.pattern), p.name))

    walk(get_resolver().url_patterns, "")
    public = {"xapi-about", "xapi-not-found"}  # no key needed; the catch-all JSON 404
    return {name for route, name in out if route.startswith(("api/v1/", "api/xapi/")) and name not in public}


COVERED_ROUTE_NAMES = {
    "api-partner-list", "api-partner-detail", "api-tier-list", "api-tier-detail", "api-deal-list",
    "api-deal-detail", "api-asset-list", "api-asset-detail", "api-assignment-list", "api-assignment-detail",
    "api-event-list", "api-event-detail", "api-event-export-xapi", "api-kpi-definition-list", "api-kpi-definition-detail",
    "api-kpi-result-list", "api-kpi-result-detail", "xapi-statements", "xapi-unmapped", "xapi-state",
    "xapi-activity-profile", "xapi-activities", "xapi-agents", "xapi-agent-profile",
}


def test_the_matrix_covers_every_api_route():
    assert _api_routes() == COVERED_ROUTE_NAMES


@pytest.fixture
def single_scope_keys(world_a):
    keys = {}
    with scope(tenant=world_a.tenant.pk):
        for s in ApiKeyScope.values:
            _key, raw = api_key_create(tenant=world_a.tenant, name=f"only {s}", scopes=[s], actor=None)
            keys[s] = raw
    return keys


def test_scope_matrix(world_a, single_scope_keys):
    failures = []
    for name, method, path, body, needed in _requests(world_a):
        for s, raw in single_scope_keys.items():
            c = client_for(raw)
            payload = body() if callable(body) else body
            kwargs = {"format": "json"} if payload is not None else {}
            if path.startswith("/api/xapi/"):
                kwargs.update(XAPI_HEADERS)
            response = getattr(c, method)(path, payload, **kwargs) if payload is not None else getattr(c, method)(path, **kwargs)
            allowed = response.status_code not in (401, 403)
            if allowed != (s == needed) or response.status_code >= 500:
                failures.append((name, s, response.status_code))
    assert not failures, failures


def test_events_key_cannot_touch_partners_or_deals(world_a):
    c = client_for(world_a.write_raw)  # events:write only
    assert c.put("/api/v1/partners/x-1/", {"name": "X"}, format="json").status_code == 403
    body = {"partner": world_a.partner.external_id, "customer": "K", "amount": "1", "stage": "won"}
    assert c.put("/api/v1/deals/d-1/", body, format="json").status_code == 403
    with scope(tenant=world_a.tenant.pk):
        assert not Deal.objects.filter(tenant=world_a.tenant, external_id="d-1").exists()


def test_deals_write_enters_registered_and_cannot_move_stages(world_a):
    with scope(tenant=world_a.tenant.pk):
        _k, raw = api_key_create(tenant=world_a.tenant, name="crm", scopes=["deals:write", "read"], actor=None)
    c = client_for(raw)
    base = {"partner": world_a.partner.external_id, "customer": "K", "amount": "1"}
    assert c.put("/api/v1/deals/d-2/", {**base, "stage": "won"}, format="json").status_code == 403
    r = c.put("/api/v1/deals/d-2/", base, format="json")
    assert r.status_code == 201 and r.json()["stage"] == DealStage.REGISTERED
    assert c.put("/api/v1/deals/d-2/", {**base, "stage": "approved"}, format="json").status_code == 403
    r = c.put("/api/v1/deals/d-2/", {**base, "amount": "5"}, format="json")  # data updates keep the stage
    assert r.status_code == 200 and r.json()["stage"] == "registered" and r.json()["amount"] == "5.00"


def test_deals_approve_follows_the_workflow_and_is_audited(world_a):
    from django_scopes import scopes_disabled

    from partners.models import AuditEvent

    with scope(tenant=world_a.tenant.pk):
        _k, raw = api_key_create(tenant=world_a.tenant, name="crm2", scopes=["deals:write", "deals:approve"], actor=None)
    c = client_for(raw)
    base = {"partner": world_a.partner.external_id, "customer": "K", "amount": "1"}
    assert c.put("/api/v1/deals/d-3/", base, format="json").status_code == 201
    assert c.put("/api/v1/deals/d-3/", {**base, "stage": "won"}, format="json").status_code == 400  # not from registered
    assert c.put("/api/v1/deals/d-3/", {**base, "stage": "approved"}, format="json").status_code == 200
    r = c.put("/api/v1/deals/d-3/", {**base, "stage": "won", "closed_on": "2026-03-31"}, format="json")
    assert r.status_code == 200 and r.json()["stage"] == "won" and r.json()["closed_on"] == "2026-03-31"
    with scopes_disabled():
        actions = list(AuditEvent.objects.filter(tenant=world_a.tenant, target_type="deals.deal")
                       .order_by("id").values_list("action", "actor_label"))
    assert [a for a, _ in actions] == ["deal.created", "deal.stage_changed", "deal.stage_changed"]
    assert all(label.startswith("api-key:") for _, label in actions)


def test_revoked_key_is_refused_everywhere(world_a):
    from partners.services import api_key_revoke

    c = client_for(world_a.raw)
    assert c.get("/api/v1/partners/").status_code == 200
    with scope(tenant=world_a.tenant.pk):
        api_key_revoke(tenant=world_a.tenant, key=world_a.key, actor=None)
    assert c.get("/api/v1/partners/").status_code == 401
    assert c.post("/api/v1/events/", {"events": []}, format="json").status_code == 401
