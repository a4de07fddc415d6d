"""Two tenants, no leak, for every LRS resource; the per-key token bucket (429 + Retry-After)."""

from __future__ import annotations

import json

import pytest

from enablement.lrs.throttling import parse_limit
from tests.lrs.conftest import basic_client
from tests.lrs.helpers import ACTIVITY, AGENT, q, statement

STATE = {"activityId": ACTIVITY, "agent": AGENT}


def put(c, url, body, **headers):
    return c.generic("PUT", url, json.dumps(body), content_type="application/json", **headers)


@pytest.mark.django_db
def test_statements_of_tenant_a_are_invisible_to_tenant_b(lrs_a, lrs_b):
    sid = lrs_a.post("/api/xapi/statements", statement(), format="json").json()[0]
    assert lrs_b.get("/api/xapi/statements", {"statementId": sid}).status_code == 404
    assert lrs_b.get("/api/xapi/statements", {"agent": json.dumps(AGENT)}).json()["statements"] == []
    # the same id in tenant B is a different statement, not a conflict
    assert lrs_b.post("/api/xapi/statements", statement(id=sid, verb="http://x.example/other"), format="json").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("resource, params, doc_param", [
    ("activities/state", STATE, "stateId"),
    ("activities/profile", {"activityId": ACTIVITY}, "profileId"),
    ("agents/profile", {"agent": AGENT}, "profileId"),
])  # fmt: skip
def test_documents_of_tenant_a_are_invisible_to_tenant_b(lrs_a, lrs_b, resource, params, doc_param):
    url = q(resource, **{doc_param: "d"}, **params)
    assert put(lrs_a, url, {"owner": "a"}, HTTP_IF_NONE_MATCH="*").status_code == 204
    assert lrs_b.get(url).status_code == 404
    assert lrs_b.get(q(resource, **params)).json() == []
    # no 412: B has no such document
    assert put(lrs_b, url, {"owner": "b"}, HTTP_IF_NONE_MATCH="*").status_code == 204
    assert lrs_b.delete(url).status_code == 204
    assert lrs_a.get(url).json() == {"owner": "a"}


@pytest.mark.django_db
def test_state_delete_all_of_tenant_b_leaves_tenant_a_documents(lrs_a, lrs_b):
    put(lrs_a, q("activities/state", stateId="s", **STATE), {"a": 1})
    assert lrs_b.delete(q("activities/state", **STATE)).status_code == 204
    assert lrs_a.get(q("activities/state", **STATE)).json() == ["s"]


@pytest.mark.django_db
def test_activities_of_tenant_a_are_unknown_to_tenant_b(lrs_a, lrs_b):
    s = statement()
    s["object"]["definition"] = {"name": {"en-US": "Secret course"}}
    lrs_a.post("/api/xapi/statements", s, format="json")
    assert lrs_a.get(q("activities", activityId=ACTIVITY)).status_code == 200
    assert lrs_b.get(q("activities", activityId=ACTIVITY)).status_code == 404


@pytest.mark.django_db
def test_agents_resource_needs_a_key_and_reveals_nothing_of_other_tenants(lrs_b, client):
    assert client.get(q("agents", agent=AGENT), HTTP_X_EXPERIENCE_API_VERSION="1.0.3").status_code == 401
    assert lrs_b.get(q("agents", agent=AGENT)).json() == {"objectType": "Person", "name": ["Hanako"], "mbox": [AGENT["mbox"]]}


def test_rate_limit_syntax():
    assert parse_limit("100/s burst 2000") == (100.0, 2000.0)
    assert parse_limit("5/s") == (5.0, 5.0)
    assert parse_limit("off") is None
    with pytest.raises(ValueError):
        parse_limit("600/min")


@pytest.mark.django_db
def test_default_rate_limit_sustains_at_least_100_requests_per_second():
    from enablement.lrs.throttling import DEFAULT

    rate, burst = parse_limit(DEFAULT)
    assert rate >= 100 and burst >= rate


@pytest.mark.django_db
def test_token_bucket_allows_the_burst_then_429_with_retry_after_per_key(settings, world_a):
    settings.LRS_RATE_LIMIT = "0.01/s burst 3"
    c = basic_client(world_a.raw)
    other = basic_client(world_a.read_raw)
    codes = [c.get("/api/xapi/statements").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = c.get("/api/xapi/statements")
    assert r.status_code == 429 and int(r["Retry-After"]) >= 1
    assert r["X-Experience-API-Version"] == "1.0.3"
    assert other.get("/api/xapi/statements").status_code == 200  # another key has its own bucket


@pytest.mark.django_db
def test_rate_limit_is_configurable_per_key(settings, world_a):
    settings.LRS_RATE_LIMIT = "0.01/s burst 1"
    settings.LRS_RATE_LIMITS = {world_a.key.prefix: "1000/s burst 1000"}
    c = basic_client(world_a.raw)
    assert [c.get("/api/xapi/statements").status_code for _ in range(5)] == [200] * 5
    slow = basic_client(world_a.read_raw)
    assert [slow.get("/api/xapi/statements").status_code for _ in range(2)] == [200, 429]
