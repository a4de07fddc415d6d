"""POST /api/v1/events/: idempotent batch ingestion with per-event statuses."""

from __future__ import annotations

import json

import pytest
from django_scopes import scope

from enablement.models import ActivityEvent

URL = "/api/v1/events/"


def ev(i, **kw):
    base = {
        "event_id": f"ev-{i}",
        "verb": "training.progressed",
        "occurred_at": "2026-04-01T10:00:00+09:00",
        "partner": "acme-P1",
        "user": "taro@acme.example",
        "asset": "acme-video",
        "progress": 40,
        "seconds": 120,
        "played_segments": [[0, 120]],
    }
    base.update(kw)
    return base


def stored(tenant, **filters):
    with scope(tenant=tenant.pk):
        return list(ActivityEvent.objects.filter(tenant=tenant, **filters).order_by("id"))


def test_accepted_event_is_stored_with_resolved_names(api_a, world_a):
    r = api_a.post(URL, {"events": [ev(1)]}, format="json")
    assert r.status_code == 200
    assert r.json() == {"accepted": 1, "duplicates": 0, "rejected": 0, "results": [{"index": 0, "event_id": "ev-1", "status": "accepted"}]}
    (e,) = stored(world_a.tenant)
    assert (e.partner_id, e.user_id, e.asset_id, e.source) == (world_a.partner.pk, world_a.member.user_id, world_a.video.pk, "api")
    assert e.progress == 40 and e.played_segments == [[0, 120]]


def test_partner_by_user_email_and_asset_by_id_and_external_actor(api_a, world_a):
    r = api_a.post(
        URL,
        {
            "events": [
                ev(1, partner="taro@acme.example", user=None, asset=world_a.doc.pk, verb="document.downloaded"),
                ev(2, user="lms-user-77"),
                ev(3, verb="faq.searched", asset=None, query="見積", result_count=0, resolved=False),
            ]
        },
        format="json",
    )
    assert [x["status"] for x in r.json()["results"]] == ["accepted"] * 3
    e1, e2, e3 = stored(world_a.tenant)
    assert e1.partner_id == world_a.partner.pk and e1.user_id == world_a.member.user_id and e1.asset_id == world_a.doc.pk
    assert e2.user_id is None and e2.actor_ref == "lms-user-77"
    assert e3.query == "見積" and e3.result_count == 0 and e3.resolved is False and e3.asset_id is None


def test_duplicates_inside_a_batch_and_across_batches_are_stored_once(api_a, world_a):
    r = api_a.post(URL, {"events": [ev(1), ev(2), ev(1)]}, format="json")
    assert [x["status"] for x in r.json()["results"]] == ["accepted", "accepted", "duplicate"]
    r = api_a.post(URL, {"events": [ev(2), ev(3)]}, format="json")
    assert [x["status"] for x in r.json()["results"]] == ["duplicate", "accepted"]
    assert r.json()["duplicates"] == 1
    assert sorted(e.event_id for e in stored(world_a.tenant)) == ["ev-1", "ev-2", "ev-3"]


def test_mixed_batch_stores_exactly_the_valid_events_with_the_right_indexes(api_a, world_a):
    events = [
        ev(0),
        ev(1, verb="nope"),
        ev(2, partner="unknown-partner"),
        ev(3, asset="no-such-asset"),
        ev(4, progress=150),
        ev(5, occurred_at="2026-04-01T10:00:00"),
        "not an object",
        ev(7, played_segments=[[5, 1]]),
        ev(8, verb="faq.searched", asset=None, query=""),
        ev(9, unexpected=1),
        ev(10, verb="document.viewed", asset="acme-doc"),
        ev(11, asset=None),
        ev(12, event_id=""),
    ]
    r = api_a.post(URL, {"events": events}, format="json")
    body = r.json()
    assert r.status_code == 200
    statuses = {x["index"]: x["status"] for x in body["results"]}
    assert [i for i, s in statuses.items() if s == "accepted"] == [0, 10]
    assert body["accepted"] == 2 and body["rejected"] == 11
    errors = {x["index"]: x.get("errors", {}) for x in body["results"]}
    assert "verb" in errors[1]
    assert "partner" in errors[2]
    assert "asset" in errors[3]
    assert "progress" in errors[4]
    assert "occurred_at" in errors[5]
    assert "non_field_errors" in errors[6]
    assert "played_segments" in errors[7]
    assert "query" in errors[8]
    assert "non_field_errors" in errors[9]
    assert "asset" in errors[11]
    assert "event_id" in errors[12]
    assert sorted(e.event_id for e in stored(world_a.tenant)) == ["ev-0", "ev-10"]


def test_more_than_500_events_is_413_and_nothing_is_stored(api_a, world_a):
    r = api_a.post(URL, {"events": [ev(i) for i in range(501)]}, format="json")
    assert r.status_code == 413
    assert "500" in r.json()["detail"] and "1 MB" in r.json()["detail"]
    assert stored(world_a.tenant) == []


def test_more_than_1_mb_is_413_and_nothing_is_stored(api_a, world_a):
    padding = "x" * 250
    events = [ev(i, query=padding, extra={"pad": "y" * 2000}) for i in range(450)]
    body = json.dumps({"events": events})
    assert len(body) > 1024 * 1024
    r = api_a.post(URL, body, content_type="application/json")
    assert r.status_code == 413
    assert "1 MB" in r.json()["detail"]
    assert stored(world_a.tenant) == []


def test_malformed_body_is_400(api_a, world_a):
    assert api_a.post(URL, "{", content_type="application/json").status_code == 400
    assert api_a.post(URL, {"events": "x"}, format="json").status_code == 400
    assert api_a.post(URL, [1], format="json").status_code == 400


@pytest.mark.parametrize("size", [10, 500])
def test_ingestion_uses_a_bounded_number_of_queries(api_a, world_a, django_assert_max_num_queries, size):
    events = [ev(i, user="taro@acme.example" if i % 2 else f"ext-{i}", asset="acme-video" if i % 3 else world_a.doc.pk) for i in range(size)]
    for i, e in enumerate(events):
        if not i % 3:
            e["verb"] = "document.viewed"
    # 18: the same ceiling for 10 and 500 events (+2 for the audience check: partners, audience rules)
    with django_assert_max_num_queries(18):
        r = api_a.post(URL, {"events": events}, format="json")
    assert r.json()["accepted"] == size


def test_an_event_outside_the_assets_audience_is_refused_with_its_reason(api_a, world_a):
    """Audiences hold on the API too: a partner that may not see an asset cannot have used it."""
    from enablement.services.catalog import audience_set
    from enablement.validation import RefusalReason
    from tests import factories as f

    tenant = world_a.tenant
    with scope(tenant=tenant.pk):
        other = f.PartnerFactory(tenant=tenant, segment="Enterprise")
        audience_set(tenant=tenant, actor=None, asset=world_a.video, partners=[other])
    r = api_a.post(URL, {"events": [ev(1), ev(2, asset=world_a.video.pk, user=None)]}, format="json")
    assert r.status_code == 200
    body = r.json()
    assert body["accepted"] == 0 and body["rejected"] == 2
    assert {x["reason"] for x in body["results"]} == {RefusalReason.OUTSIDE_AUDIENCE}
    assert stored(tenant) == []
    with scope(tenant=tenant.pk):
        audience_set(tenant=tenant, actor=None, asset=world_a.video, partners=[other, world_a.partner])
    assert api_a.post(URL, {"events": [ev(3)]}, format="json").json()["accepted"] == 1
