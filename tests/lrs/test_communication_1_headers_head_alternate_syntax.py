"""Communication 1.1 HEAD, 1.2 headers, 1.3 alternate request syntax; 2.4 Agents, 2.5 Activities, 2.8 About."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from tests.lrs.conftest import basic_client
from tests.lrs.helpers import ACTIVITY, AGENT, q, statement


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["nothing-here", "statements/", "activities/state/extra", "agents/x/y"])
def test_unknown_paths_answer_json_404_with_the_version_header(lrs_a, client, path):
    for c in (lrs_a, client):
        r = c.get("/api/xapi/" + path)
        assert r.status_code == 404
        assert r["X-Experience-API-Version"] == "1.0.3"
        assert r["Content-Type"] == "application/json" and "detail" in r.json()


@pytest.mark.django_db
def test_every_error_carries_the_version_header_401_400_403_405(world_a, client):
    assert client.get(q("activities/state", stateId="s", activityId=ACTIVITY, agent=AGENT))["X-Experience-API-Version"] == "1.0.3"
    r = basic_client(world_a.raw, version=None).get(q("agents", agent=AGENT))
    assert r.status_code == 400 and r["X-Experience-API-Version"] == "1.0.3"
    r = basic_client(world_a.write_raw).get(q("agents", agent=AGENT))
    assert r.status_code == 403 and r["X-Experience-API-Version"] == "1.0.3"
    r = basic_client(world_a.raw).delete(q("agents", agent=AGENT))
    assert r.status_code == 405 and r["X-Experience-API-Version"] == "1.0.3"


@pytest.mark.django_db
def test_consistent_through_header_on_every_statements_response_errors_included(lrs_a, client):
    for r in (
        lrs_a.get("/api/xapi/statements"),
        lrs_a.get("/api/xapi/statements?statementId=5a1f0b0e-2b47-4a5f-9b8c-6e0f0d3f5d10"),  # 404
        lrs_a.get("/api/xapi/statements?bogus=1"),  # 400
        lrs_a.post("/api/xapi/statements", statement(), format="json"),
        client.get("/api/xapi/statements"),  # 401
    ):
        assert r["X-Experience-API-Consistent-Through"], r.status_code


@pytest.mark.django_db
@pytest.mark.parametrize("path", [
    "statements", "about", f"activities?activityId={ACTIVITY}", "agents?" + urlencode({"agent": json.dumps(AGENT)}),
    "activities/state?" + urlencode({"activityId": ACTIVITY, "agent": json.dumps(AGENT), "stateId": "s"}),
    "activities/profile?" + urlencode({"activityId": ACTIVITY, "profileId": "p"}),
    "agents/profile?" + urlencode({"agent": json.dumps(AGENT), "profileId": "p"}),
])  # fmt: skip
def test_head_is_answered_wherever_get_is_with_the_same_status_and_no_body(lrs_a, path):
    lrs_a.post("/api/xapi/statements", statement(), format="json")
    lrs_a.generic("PUT", q("activities/state", activityId=ACTIVITY, agent=AGENT, stateId="s"), b"{}", content_type="application/json")
    lrs_a.generic("PUT", q("activities/profile", activityId=ACTIVITY, profileId="p"), b"{}", content_type="application/json", HTTP_IF_NONE_MATCH="*")
    lrs_a.generic("PUT", q("agents/profile", agent=AGENT, profileId="p"), b"{}", content_type="application/json", HTTP_IF_NONE_MATCH="*")
    get = lrs_a.get("/api/xapi/" + path)
    head = lrs_a.head("/api/xapi/" + path)
    assert get.status_code == 200
    assert head.status_code == 200 and head.content == b""
    assert head["X-Experience-API-Version"] == "1.0.3"


@pytest.mark.django_db
def test_alternate_request_syntax_put_state_and_get_statements(world_a, client):
    _shien, prefix, secret = world_a.raw.split("_")
    import base64

    auth = "Basic " + base64.b64encode(f"{prefix}:{secret}".encode()).decode()
    form = {
        "Authorization": auth, "X-Experience-API-Version": "1.0.3", "Content-Type": "application/json",
        "activityId": ACTIVITY, "agent": json.dumps(AGENT), "stateId": "alt", "content": json.dumps({"page": 3}),
    }  # fmt: skip
    r = client.post("/api/xapi/activities/state?method=PUT", urlencode(form), content_type="application/x-www-form-urlencoded")
    assert r.status_code == 204, r.content
    got = basic_client(world_a.raw).get(q("activities/state", activityId=ACTIVITY, agent=AGENT, stateId="alt"))
    assert got.json() == {"page": 3}
    form = {"Authorization": auth, "X-Experience-API-Version": "1.0.3", "limit": "1"}
    r = client.post("/api/xapi/statements?method=GET", urlencode(form), content_type="application/x-www-form-urlencoded")
    assert r.status_code == 200 and r.json()["statements"] == []


@pytest.mark.django_db
def test_alternate_request_syntax_rejects_other_query_parameters_and_unknown_methods(lrs_a):
    ct = "application/x-www-form-urlencoded"
    assert lrs_a.post("/api/xapi/statements?method=GET&limit=1", "", content_type=ct).status_code == 400
    assert lrs_a.post("/api/xapi/statements?method=PATCH", "", content_type=ct).status_code == 400
    assert lrs_a.post("/api/xapi/statements?method=GET", "{}", content_type="application/json").status_code == 400


@pytest.mark.django_db
def test_activities_resource_returns_the_merged_canonical_definition(lrs_a):
    a = statement()
    a["object"]["definition"] = {"name": {"en-US": "Course"}, "type": "http://adlnet.gov/expapi/activities/course"}
    b = statement()
    b["object"]["definition"] = {"name": {"ja-JP": "コース"}}
    lrs_a.post("/api/xapi/statements", [a, b], format="json")
    r = lrs_a.get(q("activities", activityId=ACTIVITY))
    assert r.status_code == 200
    assert r.json() == {
        "objectType": "Activity",
        "id": ACTIVITY,
        "definition": {"name": {"en-US": "Course", "ja-JP": "コース"}, "type": "http://adlnet.gov/expapi/activities/course"},
    }
    assert lrs_a.get(q("activities")).status_code == 400
    assert lrs_a.get(q("activities", activityId="http://unknown.example/a")).status_code == 404


@pytest.mark.django_db
def test_agents_resource_returns_a_person_object_with_arrays(lrs_a):
    r = lrs_a.get(q("agents", agent=AGENT))
    assert r.status_code == 200
    assert r.json() == {"objectType": "Person", "name": ["Hanako"], "mbox": ["mailto:hanako@example.com"]}
    assert lrs_a.get(q("agents")).status_code == 400
    assert lrs_a.get(q("agents", agent={"mbox": "not-an-mbox"})).status_code == 400


@pytest.mark.django_db
def test_about_answers_get_and_head_without_auth_and_lists_1_0_3(client):
    r = client.get("/api/xapi/about")
    assert r.status_code == 200 and "1.0.3" in r.json()["version"]
    assert client.head("/api/xapi/about").status_code == 200
