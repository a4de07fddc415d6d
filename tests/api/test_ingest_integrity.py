"""Ingestion refuses, per row and with a reason, what cannot have happened as told; completions
carry their source and count only when their API key is a trusted source."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_scopes import scope

from enablement.lrs.models import XapiStatement
from enablement.models import ActivityEvent, IngestRefusal
from kpis.models import DailyActivityFact, DailySourceFact, PartnerAssetState
from kpis.rollup import rollup_tenant
from partners.services import api_key_create
from tests.api.conftest import basic_client, client_for
from tests.api.test_ingest import URL, ev, stored

pytestmark = pytest.mark.django_db


def refusals(tenant):
    with scope(tenant=tenant.pk):
        return {(r.source, r.reason): r.count for r in IngestRefusal.objects.filter(tenant=tenant)}


def test_rows_are_refused_with_a_reason(api_a, world_a):
    now = timezone.now()
    events = [
        ev(0),
        ev(1, verb="document.viewed", asset="acme-video", progress=None, seconds=None, played_segments=None),
        ev(2, occurred_at="1900-01-01T00:00:00Z"),
        ev(3, occurred_at="2024-12-31T23:00:00Z"),  # the tenant exists since 2025-01-01
        ev(4, occurred_at=(now + dt.timedelta(minutes=30)).isoformat()),
        ev(5, occurred_at=(now + dt.timedelta(minutes=2)).isoformat()),  # within the clock skew
        ev(6, partner="nobody"),
        ev(7, verb="training.completed", asset="acme-doc"),
    ]
    body = api_a.post(URL, {"events": events}, format="json").json()
    statuses = [(r["status"], r.get("reason")) for r in body["results"]]
    assert statuses == [
        ("accepted", None),
        ("rejected", "verb_kind"),
        ("rejected", "before_tenant"),
        ("rejected", "before_tenant"),
        ("rejected", "future"),
        ("accepted", None),
        ("rejected", "unknown_partner"),
        ("rejected", "verb_kind"),
    ]
    assert "verb" in body["results"][1]["errors"] and "occurred_at" in body["results"][4]["errors"]
    assert sorted(e.event_id for e in stored(world_a.tenant)) == ["ev-0", "ev-5"]
    assert refusals(world_a.tenant) == {
        ("api", "verb_kind"): 2,
        ("api", "before_tenant"): 2,
        ("api", "future"): 1,
        ("api", "unknown_partner"): 1,
    }
    # Counters add up across batches.
    api_a.post(URL, {"events": [ev(9, occurred_at="1900-01-01T00:00:00Z")]}, format="json")
    assert refusals(world_a.tenant)[("api", "before_tenant")] == 3


def test_event_before_the_asset_existed_is_refused(api_a, world_a):
    with scope(tenant=world_a.tenant.pk):
        type(world_a.doc).objects.filter(pk=world_a.doc.pk).update(created_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC))
    events = [
        ev(1, verb="document.viewed", asset="acme-doc", occurred_at="2026-02-01T00:00:00Z", progress=None, seconds=None, played_segments=None),
        ev(2, verb="document.viewed", asset="acme-doc", occurred_at="2026-03-02T00:00:00Z", progress=None, seconds=None, played_segments=None),
    ]
    results = api_a.post(URL, {"events": events}, format="json").json()["results"]
    assert [(r["status"], r.get("reason")) for r in results] == [("rejected", "before_asset"), ("accepted", None)]


def test_refusal_counters_do_not_leak_between_tenants(api_a, api_b, world_a, world_b):
    api_a.post(URL, {"events": [ev(1, occurred_at="1900-01-01T00:00:00Z")]}, format="json")
    assert refusals(world_b.tenant) == {}
    assert refusals(world_a.tenant) == {("api", "before_tenant"): 1}


def _completion(i, **kw):
    return ev(i, verb="training.completed", progress=100, seconds=600, played_segments=[[0, 600]], **kw)


def test_completions_count_only_from_a_trusted_source(world_a):
    with scope(tenant=world_a.tenant.pk):
        _key, raw = api_key_create(tenant=world_a.tenant, name="Unvetted LMS", scopes=["events:write"], actor=None)
    untrusted = client_for(raw)
    assert untrusted.post(URL, {"events": [_completion(1)]}, format="json").json()["accepted"] == 1
    (event,) = stored(world_a.tenant)
    assert (event.source, event.trusted) == ("api", False)
    with scope(tenant=world_a.tenant.pk):
        rollup_tenant(world_a.tenant, full=True)
    with scope(tenant=world_a.tenant.pk):
        state = PartnerAssetState.objects.get(tenant=world_a.tenant, partner=world_a.partner, asset=world_a.video)
    assert state.first_completed_at is None and state.completed_users == 0
    with scope(tenant=world_a.tenant.pk):  # nor does it enter the daily facts (downloads, funnels)
        assert not DailyActivityFact.objects.filter(tenant=world_a.tenant).exists()
        assert DailySourceFact.objects.get(tenant=world_a.tenant, source="api").untrusted_count == 1
    # The same completion from the trusted LMS key counts.
    trusted = client_for(world_a.raw)
    assert trusted.post(URL, {"events": [_completion(2)]}, format="json").json()["accepted"] == 1
    with scope(tenant=world_a.tenant.pk):
        rollup_tenant(world_a.tenant, full=True)
    with scope(tenant=world_a.tenant.pk):
        state = PartnerAssetState.objects.get(tenant=world_a.tenant, partner=world_a.partner, asset=world_a.video)
        assert ActivityEvent.objects.get(event_id="ev-2").trusted is True
    assert state.first_completed_at is not None and state.completed_users == 1


def test_xapi_completions_carry_source_and_trust_and_refusals_are_counted(world_a):
    from tests.lrs.test_statements_legacy import URL as XAPI_URL
    from tests.lrs.test_statements_legacy import stmt

    with scope(tenant=world_a.tenant.pk):
        _key, raw = api_key_create(tenant=world_a.tenant, name="xAPI vendor", scopes=["events:write", "read"], actor=None)
    client = basic_client(raw)
    ok = stmt()
    early = stmt(timestamp="1999-01-01T00:00:00Z")
    response = client.post(XAPI_URL, [ok, early], format="json")
    assert response.status_code == 200, response.content
    with scope(tenant=world_a.tenant.pk):
        (event,) = ActivityEvent.objects.filter(tenant=world_a.tenant)
        assert (event.source, event.verb, event.trusted) == ("xapi", "training.completed", False)
        unmapped = XapiStatement.objects.get(tenant=world_a.tenant, unmapped=True)
        assert unmapped.unmapped_reason.startswith("refused (before_tenant)")
    assert refusals(world_a.tenant) == {("xapi", "before_tenant"): 1}
