"""Communication 2.3 State, 2.6 Agent Profile, 2.7 Activity Profile and 3.1 Concurrency."""

from __future__ import annotations

import json

import pytest

from tests.lrs.helpers import ACTIVITY, AGENT, q

STATE = {"activityId": ACTIVITY, "agent": AGENT}


def put(c, url, body, content_type="application/json", **headers):
    data = json.dumps(body) if not isinstance(body, bytes) else body
    return c.generic("PUT", url, data, content_type=content_type, **headers)


def post(c, url, body, content_type="application/json", **headers):
    data = json.dumps(body) if not isinstance(body, bytes) else body
    return c.generic("POST", url, data, content_type=content_type, **headers)


@pytest.mark.django_db
def test_state_put_then_get_returns_the_document_with_its_content_type_and_etag(lrs_a):
    url = q("activities/state", stateId="bookmark", **STATE)
    assert put(lrs_a, url, b"slide-7", content_type="text/plain").status_code == 204
    r = lrs_a.get(url)
    assert r.status_code == 200
    assert r.content == b"slide-7"
    assert r["Content-Type"] == "text/plain"
    assert r["ETag"].startswith('"') and r["Last-Modified"]


@pytest.mark.django_db
def test_state_post_merges_json_objects_top_level(lrs_a):
    url = q("activities/state", stateId="suspend", **STATE)
    assert post(lrs_a, url, {"a": 1, "b": 1}).status_code == 204
    assert post(lrs_a, url, {"b": 2, "c": 3}).status_code == 204
    assert json.loads(lrs_a.get(url).content) == {"a": 1, "b": 2, "c": 3}


@pytest.mark.django_db
def test_state_post_merge_onto_a_non_json_document_is_400(lrs_a):
    url = q("activities/state", stateId="raw", **STATE)
    put(lrs_a, url, b"plain", content_type="text/plain")
    assert post(lrs_a, url, {"a": 1}).status_code == 400
    assert post(lrs_a, q("activities/state", stateId="new", **STATE), b"x", content_type="text/plain").status_code == 400


@pytest.mark.django_db
def test_state_get_without_state_id_lists_ids_and_since_filters(lrs_a):
    put(lrs_a, q("activities/state", stateId="one", **STATE), {"x": 1})
    put(lrs_a, q("activities/state", stateId="two", **STATE), {"x": 2})
    r = lrs_a.get(q("activities/state", **STATE))
    assert r.status_code == 200 and r.json() == ["one", "two"]
    assert lrs_a.get(q("activities/state", since="2999-01-01T00:00:00Z", **STATE)).json() == []


@pytest.mark.django_db
def test_state_registration_separates_documents(lrs_a):
    reg = "0b4d2bd5-2f7c-4c3e-9d2c-7f5d3b2a1a11"
    put(lrs_a, q("activities/state", stateId="s", registration=reg, **STATE), {"r": 1})
    assert lrs_a.get(q("activities/state", stateId="s", **STATE)).status_code == 404
    assert lrs_a.get(q("activities/state", stateId="s", registration=reg, **STATE)).json() == {"r": 1}


@pytest.mark.django_db
def test_state_delete_one_and_delete_all(lrs_a):
    for sid in ("a", "b", "c"):
        put(lrs_a, q("activities/state", stateId=sid, **STATE), {"s": sid})
    assert lrs_a.delete(q("activities/state", stateId="a", **STATE)).status_code == 204
    assert lrs_a.get(q("activities/state", **STATE)).json() == ["b", "c"]
    assert lrs_a.delete(q("activities/state", **STATE)).status_code == 204
    assert lrs_a.get(q("activities/state", **STATE)).json() == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [
        {"agent": AGENT, "stateId": "x"},  # no activityId
        {"activityId": ACTIVITY, "stateId": "x"},  # no agent
        {"activityId": "not an iri", "agent": AGENT, "stateId": "x"},
        {"activityId": ACTIVITY, "agent": {"name": "no ifi"}, "stateId": "x"},
        {"activityId": ACTIVITY, "agent": AGENT, "stateId": "x", "registration": "nope"},
        {"activityId": ACTIVITY, "agent": AGENT, "stateId": "x", "bogus": "1"},
    ],
)
def test_state_rejects_missing_or_malformed_parameters_with_400(lrs_a, params):
    r = put(lrs_a, q("activities/state", **params), {"a": 1})
    assert r.status_code == 400 and "detail" in r.json()


@pytest.mark.django_db
def test_state_get_of_a_missing_document_is_a_json_404(lrs_a):
    r = lrs_a.get(q("activities/state", stateId="missing", **STATE))
    assert r.status_code == 404 and r["X-Experience-API-Version"] == "1.0.3" and "detail" in r.json()


@pytest.mark.django_db
@pytest.mark.parametrize("resource, params", [
    ("activities/profile", {"activityId": ACTIVITY}),
    ("agents/profile", {"agent": AGENT}),
])  # fmt: skip
def test_profile_put_over_an_existing_document_needs_if_match_409_and_412(lrs_a, resource, params):
    url = q(resource, profileId="p", **params)
    assert put(lrs_a, url, {"v": 1}).status_code == 400  # creating needs If-None-Match: * (or If-Match)
    assert put(lrs_a, url, {"v": 1}, HTTP_IF_NONE_MATCH="*").status_code == 204
    assert put(lrs_a, url, {"v": 2}).status_code == 409
    etag = lrs_a.get(url)["ETag"]
    assert put(lrs_a, url, {"v": 2}, HTTP_IF_MATCH='"0000"').status_code == 412
    assert put(lrs_a, url, {"v": 2}, HTTP_IF_NONE_MATCH="*").status_code == 412
    assert put(lrs_a, url, {"v": 2}, HTTP_IF_MATCH=etag).status_code == 204
    assert lrs_a.get(url).json() == {"v": 2}
    assert lrs_a.get(url)["ETag"] != etag


@pytest.mark.django_db
def test_profile_put_without_preconditions_may_create_when_the_setting_is_off(lrs_a, settings):
    settings.LRS_PROFILE_PUT_REQUIRES_PRECONDITION = False
    url = q("agents/profile", profileId="bare", agent=AGENT)
    assert put(lrs_a, url, {"v": 1}).status_code == 204
    assert put(lrs_a, url, {"v": 2}).status_code == 409  # overwriting still needs If-Match


@pytest.mark.django_db
@pytest.mark.parametrize("resource, params", [
    ("activities/profile", {"activityId": ACTIVITY}),
    ("agents/profile", {"agent": AGENT}),
])  # fmt: skip
def test_profile_if_none_match_star_creates_only_when_absent_and_ids_listing(lrs_a, resource, params):
    url = q(resource, profileId="p1", **params)
    assert put(lrs_a, url, {"v": 1}, HTTP_IF_NONE_MATCH="*").status_code == 204
    assert post(lrs_a, q(resource, profileId="p2", **params), {"w": 1}).status_code == 204
    assert post(lrs_a, q(resource, profileId="p2", **params), {"z": 1}).status_code == 204
    assert lrs_a.get(q(resource, profileId="p2", **params)).json() == {"w": 1, "z": 1}
    assert lrs_a.get(q(resource, **params)).json() == ["p1", "p2"]
    assert lrs_a.delete(q(resource, profileId="p1", **params)).status_code == 204
    assert lrs_a.get(q(resource, **params)).json() == ["p2"]
    assert lrs_a.delete(q(resource, **params)).status_code == 400  # profiles are deleted one at a time


@pytest.mark.django_db
def test_profile_delete_with_stale_if_match_is_412(lrs_a):
    url = q("activities/profile", profileId="p", activityId=ACTIVITY)
    put(lrs_a, url, {"v": 1}, HTTP_IF_NONE_MATCH="*")
    assert lrs_a.delete(url, HTTP_IF_MATCH='"stale"').status_code == 412
    assert lrs_a.delete(url, HTTP_IF_MATCH=lrs_a.get(url)["ETag"]).status_code == 204


@pytest.mark.django_db
def test_documents_need_the_write_scope_to_change_and_read_scope_to_read(world_a):
    from tests.lrs.conftest import basic_client

    url = q("activities/state", stateId="s", **STATE)
    assert put(basic_client(world_a.read_raw), url, {"a": 1}).status_code == 403
    assert put(basic_client(world_a.raw), url, {"a": 1}).status_code == 204
    assert basic_client(world_a.write_raw).get(url).status_code == 403
    assert basic_client(world_a.read_raw).get(url).status_code == 200


@pytest.mark.django_db
def test_documents_create_no_activity_events(world_a, lrs_a):
    from django_scopes import scope

    from enablement.models import ActivityEvent

    put(lrs_a, q("activities/state", stateId="s", **STATE), {"a": 1})
    with scope(tenant=world_a.tenant.pk):
        assert not ActivityEvent.objects.filter(tenant=world_a.tenant).exists()
