"""``document.read`` (a document read for its minimum time) is recorded by this server alone, from
the reading time it measured: the events API and the xAPI mapping refuse it per row with the reason
``server_only`` and count the refusal; the log exports it as an xAPI ``read`` statement."""

from __future__ import annotations

import datetime as dt

import pytest
from django_scopes import scope

from enablement.lrs.mapping import event_to_statement, export_rows
from enablement.models import ActivityEvent, Asset, IngestRefusal, RefusalReason
from kpis.models import PartnerAssetState
from kpis.rollup import rollup_tenant
from tests.api.conftest import basic_client
from tests.api.test_ingest import URL, ev
from tests.lrs.test_statements_legacy import URL as XAPI_URL
from tests.lrs.test_statements_legacy import stmt

pytestmark = pytest.mark.django_db

READ = "http://activitystrea.ms/schema/1.0/read"


@pytest.fixture
def timed_doc(world_a):
    """The world's document, completed by 2 minutes of reading."""
    with scope(tenant=world_a.tenant.pk):
        Asset.objects.filter(pk=world_a.doc.pk).update(completion_requires="time", completion_min_seconds=120)
    return world_a.doc


def _events(tenant, **kw):
    with scope(tenant=tenant.pk):
        return list(ActivityEvent.objects.filter(tenant=tenant, **kw))


def _refused(tenant, source):
    with scope(tenant=tenant.pk):
        return {r.reason: r.count for r in IngestRefusal.objects.filter(tenant=tenant, source=source)}


def test_the_api_refuses_document_read_per_row_with_its_reason(api_a, world_a, timed_doc):
    body = {"events": [
        ev(1, verb="document.read", asset="acme-doc", progress=None, played_segments=None, seconds=120),
        ev(2, verb="document.viewed", asset="acme-doc", progress=None, played_segments=None, seconds=None),
        ev(3, verb="document.read", asset="acme-doc", partner="nobody", progress=None, played_segments=None),
        ev(4, verb="document.read", asset=None, progress=None, played_segments=None),
    ]}
    r = api_a.post(URL, body, format="json")
    assert r.status_code == 200
    results = r.json()["results"]
    assert [x["status"] for x in results] == ["rejected", "accepted", "rejected", "rejected"]
    assert results[0]["reason"] == results[2]["reason"] == results[3]["reason"] == RefusalReason.SERVER_ONLY
    assert "verb" in results[0]["errors"]
    assert [e.verb for e in _events(world_a.tenant)] == ["document.viewed"]
    assert _refused(world_a.tenant, "api") == {RefusalReason.SERVER_ONLY: 3}
    # the view the API may send does not complete a document that needs reading time
    with scope(tenant=world_a.tenant.pk):
        rollup_tenant(world_a.tenant)
        state = PartnerAssetState.objects.get(tenant=world_a.tenant, asset=timed_doc)
    assert state.first_completed_at is None and state.completed_users == 0


def test_xapi_read_statements_are_kept_unmapped_and_counted_as_refused(world_a, timed_doc):
    lrs = basic_client(world_a.raw)
    r = lrs.post(XAPI_URL, [stmt(READ, activity="acme-doc"), stmt(READ, activity="acme-video")], format="json")
    assert r.status_code == 200 and r.headers["X-Shien-Unmapped"] == "2"
    assert _events(world_a.tenant, source="xapi") == []
    from enablement.lrs.models import XapiStatement

    with scope(tenant=world_a.tenant.pk):
        reasons = sorted(XapiStatement.objects.filter(tenant=world_a.tenant).values_list("unmapped_reason", flat=True))
    assert reasons[0].startswith("refused (server_only)")
    assert reasons[1] == "unknown verb for this kind of asset"
    assert _refused(world_a.tenant, "xapi") == {RefusalReason.SERVER_ONLY: 1, RefusalReason.VERB_KIND: 1}


def test_a_portal_read_exports_as_an_xapi_read_statement(world_a, timed_doc):
    from enablement.services.log import activity_record

    with scope(tenant=world_a.tenant.pk):
        activity_record(tenant=world_a.tenant, partner=world_a.partner, user=world_a.member.user, asset=timed_doc,
                        verb="document.read", occurred_at=dt.datetime(2026, 4, 1, tzinfo=dt.UTC), seconds=120)
        rows = list(export_rows(ActivityEvent.objects.filter(tenant=world_a.tenant)))
    (statement,) = [event_to_statement(r, base="https://shien.example") for r in rows]
    assert statement["verb"]["id"] == READ
