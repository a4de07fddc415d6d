"""API keys (auth, scopes, revocation, throttling) and "two tenants, no leak" on every endpoint."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django_scopes import scope, scopes_disabled

from enablement.models import ActivityEvent
from kpis.models import KpiResult
from partners.deals.models import Deal
from partners.models import ApiKey, Partner
from partners.services import api_key_hash, api_key_revoke
from tests import factories as f
from tests.api.conftest import client_for

EVENT = {
    "event_id": "x-1",
    "verb": "training.started",
    "occurred_at": "2026-04-01T10:00:00Z",
    "partner": "acme-P1",
    "asset": "acme-video",
}


def test_key_is_hashed_and_only_the_prefix_is_kept(world_a):
    with scopes_disabled():
        key = ApiKey.objects.get(pk=world_a.key.pk)
    assert world_a.raw.startswith(f"shien_{key.prefix}_")
    assert key.hashed_key == api_key_hash(world_a.raw) and world_a.raw not in key.hashed_key


@pytest.mark.parametrize("header", [None, "Api-Key nonsense", "Api-Key shien_ffffffffffff_secret", "Bearer abc"])
def test_missing_or_unknown_key_is_401(world_a, client, header):
    kwargs = {"HTTP_AUTHORIZATION": header} if header else {}
    r = client.get("/api/v1/partners/", **kwargs)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Api-Key")


def test_wrong_secret_with_a_real_prefix_is_401(world_a):
    prefix = world_a.key.prefix
    assert client_for(f"shien_{prefix}_wrongsecret").get("/api/v1/partners/").status_code == 401


def test_revoked_key_is_401(world_a, api_a):
    assert api_a.get("/api/v1/partners/").status_code == 200
    with scope(tenant=world_a.tenant.pk):
        api_key_revoke(tenant=world_a.tenant, key=world_a.key, actor=None)
    r = api_a.get("/api/v1/partners/")
    assert r.status_code == 401 and "WWW-Authenticate" in r.headers


def test_key_of_an_inactive_tenant_is_401(world_a, api_a):
    world_a.tenant.is_active = False
    world_a.tenant.save()
    assert api_a.get("/api/v1/partners/").status_code == 401


def test_read_only_key_cannot_ingest_or_write(world_a):
    c = client_for(world_a.read_raw)
    assert c.get("/api/v1/events/").status_code == 200
    assert c.post("/api/v1/events/", {"events": [EVENT]}, format="json").status_code == 403
    assert c.put("/api/v1/partners/new-1/", {"name": "New"}, format="json").status_code == 403
    with scope(tenant=world_a.tenant.pk):
        assert not ActivityEvent.objects.exists()
        assert not Partner.objects.filter(external_id="new-1").exists()


def test_write_only_key_cannot_read(world_a):
    c = client_for(world_a.write_raw)
    assert c.get("/api/v1/partners/").status_code == 403
    assert c.post("/api/v1/events/", {"events": [EVENT]}, format="json").status_code == 200


def test_last_used_is_recorded_at_most_once_a_minute(world_a, api_a, django_assert_max_num_queries):
    api_a.get("/api/v1/tiers/")
    with scopes_disabled():
        first = ApiKey.objects.get(pk=world_a.key.pk).last_used_at
    assert first is not None
    api_a.get("/api/v1/tiers/")
    with scopes_disabled():
        assert ApiKey.objects.get(pk=world_a.key.pk).last_used_at == first


def test_throttling_answers_429_with_retry_after(world_a, api_a, settings):
    settings.API_THROTTLE_RATE = "3/min"
    codes = [api_a.get("/api/v1/tiers/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = api_a.get("/api/v1/tiers/")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    # per key: another key of the same tenant is not throttled
    assert client_for(world_a.read_raw).get("/api/v1/tiers/").status_code == 200


def test_throttle_state_lives_in_the_database(world_a, api_a, settings):
    from django.db import connection

    settings.API_THROTTLE_RATE = "5/min"
    api_a.get("/api/v1/tiers/")
    with connection.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM shien_api_throttle")
        assert cur.fetchone()[0] >= 1


def test_create_api_key_command_prints_the_key_once(tenant_a, capsys):
    call_command("create_api_key", "--tenant", "acme", "--name", "CRM", "--scopes", "read")
    out = capsys.readouterr().out
    raw = next(w for w in out.split() if w.startswith("shien_"))
    with scopes_disabled():
        key = ApiKey.objects.get(name="CRM")
    assert key.scopes == ["read"] and key.hashed_key == api_key_hash(raw)
    assert client_for(raw).get("/api/v1/tiers/").status_code == 200


# --- two tenants, no leak -------------------------------------------------------------------------
@pytest.fixture
def data_a(world_a):
    t = world_a.tenant
    with scope(tenant=t.pk):
        event = f.ActivityEventFactory(tenant=t, partner=world_a.partner, asset=world_a.video)
        assignment = f.AssignmentFactory(tenant=t, asset=world_a.video, partner=world_a.partner)
        deal = Deal.objects.create(tenant=t, partner=world_a.partner, external_id="deal-a", customer="C", amount=10)
        definition = f.KpiDefinitionFactory(tenant=t)
        result = KpiResult.objects.create(
            tenant=t, definition=definition, period_start=dt.date(2026, 3, 1), period_end=dt.date(2026, 3, 31), target=80
        )
    return {
        "partners": world_a.partner.external_id,
        "tiers": world_a.tier.pk,
        "assets": world_a.video.pk,
        "assignments": assignment.pk,
        "events": event.pk,
        "deals": deal.external_id,
        "kpi-definitions": definition.pk,
        "kpi-results": result.pk,
    }


@pytest.mark.parametrize("resource", ["partners", "tiers", "assets", "assignments", "events", "deals", "kpi-definitions", "kpi-results"])
def test_tenant_b_key_cannot_read_tenant_a_objects(resource, data_a, api_a, api_b):
    lookup = data_a[resource]
    assert api_a.get(f"/api/v1/{resource}/{lookup}/").status_code == 200
    assert api_b.get(f"/api/v1/{resource}/{lookup}/").status_code == 404
    listing = api_b.get(f"/api/v1/{resource}/").json()["results"]
    assert all(row.get("id") != (lookup if isinstance(lookup, int) else None) for row in listing)
    assert "acme" not in str(listing).lower()


def test_tenant_b_key_cannot_write_tenant_a_data(data_a, world_a, world_b, api_b):
    # PUT by A's external id creates the partner in B, never touches A
    r = api_b.put("/api/v1/partners/acme-P1/", {"name": "Hijack"}, format="json")
    assert r.status_code == 201
    with scope(tenant=world_a.tenant.pk):
        assert Partner.objects.get(tenant=world_a.tenant, external_id="acme-P1").name == "acme Partner"
        assert Partner.objects.filter(tenant=world_a.tenant).count() == 2
    # a deal naming A's partner: that external id now exists only as B's partner, A unchanged
    r = api_b.put("/api/v1/deals/deal-a/", {"partner": "acme-P2", "customer": "X", "amount": "1"}, format="json")
    assert r.status_code == 400
    with scope(tenant=world_a.tenant.pk):
        assert Deal.objects.get(tenant=world_a.tenant, external_id="deal-a").customer == "C"
    # events naming A's partner and asset are rejected; nothing stored in A
    r = api_b.post("/api/v1/events/", {"events": [EVENT]}, format="json")
    assert r.json()["results"][0]["status"] == "rejected"
    with scope(tenant=world_a.tenant.pk):
        assert ActivityEvent.objects.filter(tenant=world_a.tenant, source="api").count() == 0


def test_partner_and_deal_upsert(world_a, api_a):
    r = api_a.put("/api/v1/partners/crm-9/", {"name": "Nine", "tier": world_a.tier.pk, "segment": "SMB"}, format="json")
    assert r.status_code == 201 and r.json()["tier"] == world_a.tier.pk
    r = api_a.put("/api/v1/partners/crm-9/", {"name": "Nine KK", "status": "nurturing"}, format="json")
    assert r.status_code == 200 and r.json()["name"] == "Nine KK" and r.json()["status"] == "nurturing"
    # never straight to won: a new deal enters as registered and moves one approval step at a time
    r = api_a.put("/api/v1/deals/opp-1/", {"partner": "crm-9", "customer": "Kobe", "amount": "1000", "stage": "won"}, format="json")
    assert r.status_code == 400
    assert api_a.get("/api/v1/deals/opp-1/").status_code == 404  # nothing half-created
    r = api_a.put("/api/v1/deals/opp-1/", {"partner": "crm-9", "customer": "Kobe", "amount": "1000"}, format="json")
    assert r.status_code == 201 and r.json()["stage"] == "registered" and r.json()["source"] == "api"
    r = api_a.put("/api/v1/deals/opp-1/", {"partner": "crm-9", "customer": "Kobe", "amount": "1000", "stage": "approved"}, format="json")
    assert r.status_code == 200 and r.json()["stage"] == "approved"
    r = api_a.put("/api/v1/deals/opp-1/", {"partner": "crm-9", "customer": "Kobe", "amount": "1000", "stage": "won"}, format="json")
    assert r.status_code == 200 and r.json()["closed_on"] is not None
    r = api_a.put("/api/v1/deals/opp-1/", {"partner": "crm-9", "customer": "Kobe", "amount": "2000", "stage": "won"}, format="json")
    assert r.status_code == 200 and r.json()["amount"] == "2000.00" and r.json()["stage"] == "won"
    assert api_a.put("/api/v1/deals/opp-2/", {"partner": "nope", "customer": "K", "amount": "1"}, format="json").status_code == 400
    assert api_a.put("/api/v1/deals/opp-2/", {"partner": "crm-9", "customer": "K", "amount": "-1"}, format="json").status_code == 400
    assert api_a.get("/api/v1/deals/", {"partner": "crm-9"}).json()["count"] == 1


def test_events_list_filters_and_cursor(world_a, api_a):
    events = [
        {**EVENT, "event_id": f"f-{i}", "occurred_at": f"2026-04-0{i + 1}T10:00:00Z", "verb": "training.started" if i % 2 else "document.viewed", "asset": "acme-video" if i % 2 else "acme-doc"}
        for i in range(6)
    ]
    assert api_a.post("/api/v1/events/", {"events": events}, format="json").json()["accepted"] == 6
    assert len(api_a.get("/api/v1/events/", {"verb": "document.viewed"}).json()["results"]) == 3
    assert len(api_a.get("/api/v1/events/", {"asset": "acme-video"}).json()["results"]) == 3
    assert len(api_a.get("/api/v1/events/", {"since": "2026-04-03T00:00:00Z", "until": "2026-04-05T00:00:00Z"}).json()["results"]) == 2
    page = api_a.get("/api/v1/events/", {"page_size": 4}).json()
    assert len(page["results"]) == 4 and page["next"]
    rest = api_a.get(page["next"]).json()
    assert len(rest["results"]) == 2
    assert api_a.get("/api/v1/events/", {"since": "yesterday"}).status_code == 400


def test_export_xapi_streams_the_tenant_log_only(world_a, world_b, api_a, api_b):
    api_a.post("/api/v1/events/", {"events": [EVENT]}, format="json")
    r = api_a.get("/api/v1/events/export-xapi/")
    import json

    statements = json.loads(b"".join(r.streaming_content))
    assert len(statements) == 1 and statements[0]["verb"]["id"] == "http://adlnet.gov/expapi/verbs/launched"
    assert statements[0]["object"]["id"].endswith(f"/assets/{world_a.video.pk}")
    assert json.loads(b"".join(api_b.get("/api/v1/events/export-xapi/").streaming_content)) == []


def test_deal_upsert_domain_currency_and_history(world_a, api_a, world_b, api_b):
    from partners.deals.models import DealEvent

    api_a.put("/api/v1/partners/crm-9/", {"name": "Nine"}, format="json")
    r = api_a.put("/api/v1/deals/opp-7/", {"partner": "crm-9", "customer": "Kobe", "amount": "1",
                                           "customer_domain": "https://www.kobe.co.jp/"}, format="json")
    assert r.status_code == 201 and r.json()["customer_domain"] == "kobe.co.jp"
    assert r.json()["currency"] == world_a.tenant.currency  # the tenant's when omitted
    bad = {"partner": "crm-9", "customer": "Kobe", "amount": "1", "customer_domain": "not a domain"}
    assert api_a.put("/api/v1/deals/opp-8/", bad, format="json").status_code == 400
    api_a.put("/api/v1/deals/opp-7/", {"partner": "crm-9", "customer": "Kobe", "amount": "1", "stage": "approved"}, format="json")
    with scope(tenant=world_a.tenant.pk):
        assert list(DealEvent.objects.filter(deal__external_id="opp-7").values_list("from_stage", "to_stage")) == [
            ("", "registered"), ("registered", "approved")]
    assert api_b.get("/api/v1/deals/opp-7/").status_code == 404
