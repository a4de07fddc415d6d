"""xAPI 1.0.3 LRS: Statements and About resources, and the mapping onto the activity log.

MUST requirements of the Statements resource covered here (xAPI 1.0.3, Communication §2.1 and
Data §2.2–2.4, as implemented):

 1. every response carries X-Experience-API-Version (also errors and 401)      test_version_header_on_every_response
 2. a request without the version header is rejected with 400                  test_missing_version_header_is_400
 3. PUT needs statementId                                                      test_put_requires_statement_id
 4. PUT: a statement id that differs from statementId is 400                    test_put_id_mismatch_is_400
 5. PUT stores and answers 204 No Content                                      test_put_stores_204
 6. POST single or list answers 200 with the ids, in order                     test_post_single_and_list_return_ids
 7. the LRS assigns a UUID id when absent                                      test_post_single_and_list_return_ids
 8. the same id with the same content is not stored twice (no-op)              test_same_statement_twice_stored_once
 9. the same id with other content is 409 Conflict                             test_same_id_other_content_is_409
10. one invalid statement rejects the whole batch                              test_invalid_statement_rejects_the_batch
11. the same id twice in one batch is rejected                                 test_duplicate_ids_in_batch_rejected
12. malformed statements are rejected with 400 and a reason                    test_malformed_statements_are_400 (parametrised)
13. the LRS sets stored and authority, and version 1.0.0 when absent            test_lrs_sets_stored_authority_version
14. GET statementId returns it; voided ones only by voidedStatementId           test_voiding
15. statementId and voidedStatementId together, or with filters, is 400        test_single_get_parameter_rules
16. GET returns a StatementResult; limit + more paging; ascending; filters     test_query_filters_and_more_paging
17. voided statements are excluded from queries, voiding ones included          test_voiding
18. a voiding statement cannot be voided                                       test_voiding
19. X-Experience-API-Consistent-Through on query responses                     test_query_filters_and_more_paging
20. unexpected parameters are 400                                              test_single_get_parameter_rules
21. statements sent with a non-JSON content type are 400                       test_non_json_is_400
22. About returns the supported versions                                       test_about
"""

from __future__ import annotations

import base64
import copy
import uuid

import pytest
from django_scopes import scope

from enablement.lrs.models import XapiStatement
from enablement.models import ActivityEvent
from tests.lrs.conftest import basic_client

URL = "/api/xapi/statements"
ADL = "http://adlnet.gov/expapi/verbs/"
VIDEO = "https://w3id.org/xapi/video/verbs/"
VEXT = "https://w3id.org/xapi/video/extensions/"


def stmt(verb=ADL + "completed", activity="acme-video", actor=None, **extra):
    s = {
        "actor": actor or {"objectType": "Agent", "mbox": "mailto:taro@acme.example"},
        "verb": {"id": verb, "display": {"en-US": verb.rsplit("/", 1)[-1]}},
        "object": {"objectType": "Activity", "id": activity if ":" in activity else f"https://lms.example/assets/{activity}"},
        "timestamp": "2026-04-01T10:00:00+09:00",
    }
    s.update(extra)
    return s


def post(c, body):
    return c.post(URL, body, format="json")


def events(world):
    with scope(tenant=world.tenant.pk):
        return list(ActivityEvent.objects.filter(tenant=world.tenant, source="xapi").order_by("id"))


def rows(world, **kw):
    with scope(tenant=world.tenant.pk):
        return list(XapiStatement.objects.filter(tenant=world.tenant, **kw).order_by("id"))


# --- protocol ---------------------------------------------------------------------------------------
def test_version_header_on_every_response(world_a, lrs_a, client):
    responses = [
        post(lrs_a, stmt()),
        lrs_a.get(URL),
        lrs_a.get(URL, {"statementId": str(uuid.uuid4())}),  # 404
        post(lrs_a, {"actor": 1}),  # 400
        client.get(URL, HTTP_X_EXPERIENCE_API_VERSION="1.0.3"),  # 401
        client.get("/api/xapi/about"),
        client.get(URL),  # 400, no header
    ]
    assert [r.status_code for r in responses] == [200, 200, 404, 400, 401, 200, 400]
    assert all(r.headers["X-Experience-API-Version"] == "1.0.3" for r in responses)


def test_missing_version_header_is_400(world_a):
    c = basic_client(world_a.raw, version=None)
    r = post(c, stmt())
    assert r.status_code == 400 and "X-Experience-API-Version" in r.json()["detail"]
    assert rows(world_a) == []
    assert basic_client(world_a.raw, version="0.95").get(URL).status_code == 400


def test_basic_auth_needs_the_right_secret_and_scope(world_a):
    prefix = world_a.key.prefix
    c = basic_client(f"shien_{prefix}_wrong")
    assert c.get(URL).status_code == 401
    # the whole key as password also works (some clients only have one secret field)
    c2 = basic_client(world_a.raw)
    c2.credentials(
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"lrs:{world_a.raw}".encode()).decode(), HTTP_X_EXPERIENCE_API_VERSION="1.0.3"
    )
    assert c2.get(URL).status_code == 200
    assert post(basic_client(world_a.read_raw), stmt()).status_code == 403
    assert basic_client(world_a.write_raw).get(URL).status_code == 403


def test_put_requires_statement_id(lrs_a):
    assert lrs_a.put(URL, stmt(), format="json").status_code == 400


def test_put_id_mismatch_is_400(lrs_a):
    s = stmt(id=str(uuid.uuid4()))
    assert lrs_a.put(f"{URL}?statementId={uuid.uuid4()}", s, format="json").status_code == 400


def test_put_stores_204(world_a, lrs_a):
    sid = str(uuid.uuid4())
    r = lrs_a.put(f"{URL}?statementId={sid}", stmt(), format="json")
    assert r.status_code == 204
    assert lrs_a.get(URL, {"statementId": sid}).json()["id"] == sid


def test_post_single_and_list_return_ids(world_a, lrs_a):
    r = post(lrs_a, stmt())
    assert r.status_code == 200 and len(r.json()) == 1
    uuid.UUID(r.json()[0])
    given = str(uuid.uuid4())
    r = post(lrs_a, [stmt(id=given), stmt(verb=ADL + "launched")])
    assert r.status_code == 200 and r.json()[0] == given and len(r.json()) == 2
    assert len(rows(world_a)) == 3


def test_same_statement_twice_stored_once(world_a, lrs_a):
    s = stmt(id=str(uuid.uuid4()))
    assert post(lrs_a, s).status_code == 200
    assert post(lrs_a, s).status_code == 200
    assert lrs_a.put(f"{URL}?statementId={s['id']}", s, format="json").status_code == 204
    assert len(rows(world_a)) == 1 and len(events(world_a)) == 1


def test_same_id_other_content_is_409(world_a, lrs_a):
    s = stmt(id=str(uuid.uuid4()))
    post(lrs_a, s)
    other = copy.deepcopy(s)
    other["verb"]["id"] = ADL + "launched"
    assert post(lrs_a, other).status_code == 409
    assert lrs_a.put(f"{URL}?statementId={s['id']}", other, format="json").status_code == 409
    assert len(rows(world_a)) == 1


def test_invalid_statement_rejects_the_batch(world_a, lrs_a):
    r = post(lrs_a, [stmt(), {"actor": stmt()["actor"], "verb": {"id": "not an iri"}, "object": {"id": "x:y"}}])
    assert r.status_code == 400 and "statement[1]" in r.json()["detail"]
    assert rows(world_a) == [] and events(world_a) == []


def test_duplicate_ids_in_batch_rejected(world_a, lrs_a):
    sid = str(uuid.uuid4())
    assert post(lrs_a, [stmt(id=sid), stmt(id=sid)]).status_code == 400
    assert rows(world_a) == []


MALFORMED = {
    "no actor": lambda s: s.pop("actor"),
    "no verb": lambda s: s.pop("verb"),
    "no object": lambda s: s.pop("object"),
    "unknown property": lambda s: s.update(foo=1),
    "id not a uuid": lambda s: s.update(id="1234"),
    "verb id not an IRI": lambda s: s["verb"].update(id="completed"),
    "verb display not a language map": lambda s: s["verb"].update(display={"not a tag!": "x"}),
    "agent with two IFIs": lambda s: s["actor"].update(account={"homePage": "https://lms.example", "name": "t"}),
    "mbox without mailto": lambda s: s["actor"].update(mbox="taro@acme.example"),
    "account without homePage": lambda s: s.update(actor={"account": {"name": "t"}}),
    "anonymous group without member": lambda s: s.update(actor={"objectType": "Group"}),
    "activity id not an IRI": lambda s: s["object"].update(id="no scheme"),
    "bad timestamp": lambda s: s.update(timestamp="yesterday"),
    "timestamp offset -00:00": lambda s: s.update(timestamp="2026-04-01T10:00:00-00:00"),
    "scaled above 1": lambda s: s.update(result={"score": {"scaled": 1.5}}),
    "raw above max": lambda s: s.update(result={"score": {"raw": 11, "min": 0, "max": 10}}),
    "min not below max": lambda s: s.update(result={"score": {"min": 5, "max": 5}}),
    "bad duration": lambda s: s.update(result={"duration": "5 minutes"}),
    "success not boolean": lambda s: s.update(result={"success": "yes"}),
    "extension key not an IRI": lambda s: s.update(result={"extensions": {"progress": 1}}),
    "registration not a uuid": lambda s: s.update(context={"registration": "abc"}),
    "revision with an agent object": lambda s: s.update(object={"objectType": "Agent", "mbox": "mailto:a@b.example"}, context={"revision": "1"}),
    "unknown objectType": lambda s: s["object"].update(objectType="Thing"),
    "substatement in substatement": lambda s: s.update(
        object={
            "objectType": "SubStatement",
            "actor": {"mbox": "mailto:a@b.example"},
            "verb": {"id": ADL + "completed"},
            "object": {"objectType": "SubStatement", "actor": {"mbox": "mailto:a@b.example"}, "verb": {"id": ADL + "completed"}, "object": {"id": "x:y"}},
        }
    ),
    "voiding an activity": lambda s: s.update(verb={"id": ADL + "voided"}),
    "version 2.0": lambda s: s.update(version="2.0.0"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_statements_are_400(case, world_a, lrs_a):
    s = stmt()
    MALFORMED[case](s)
    r = post(lrs_a, s)
    assert r.status_code == 400, case
    assert r.json()["detail"]
    assert rows(world_a) == []


def test_non_json_is_400(lrs_a):
    assert lrs_a.post(URL, "actor=x", content_type="application/x-www-form-urlencoded").status_code == 400
    assert lrs_a.post(URL, "{", content_type="application/json").status_code == 400


def test_lrs_sets_stored_authority_version(world_a, lrs_a):
    s = stmt()
    s.pop("timestamp")
    sid = post(lrs_a, s).json()[0]
    got = lrs_a.get(URL, {"statementId": sid}).json()
    assert got["stored"] and got["timestamp"] and got["version"] == "1.0.0"
    assert got["authority"]["account"]["name"] == world_a.key.prefix
    # a client-sent authority is replaced
    s2 = stmt(authority={"mbox": "mailto:evil@example.com"})
    sid2 = post(lrs_a, s2).json()[0]
    assert lrs_a.get(URL, {"statementId": sid2}).json()["authority"]["account"]["name"] == world_a.key.prefix


def test_voiding(world_a, lrs_a):
    target = post(lrs_a, stmt()).json()[0]
    voider = post(lrs_a, stmt(verb=ADL + "voided", object={"objectType": "StatementRef", "id": target})).json()[0]
    assert lrs_a.get(URL, {"statementId": target}).status_code == 404
    assert lrs_a.get(URL, {"voidedStatementId": target}).json()["id"] == target
    assert lrs_a.get(URL, {"voidedStatementId": voider}).status_code == 404
    ids = [s["id"] for s in lrs_a.get(URL).json()["statements"]]
    assert target not in ids and voider in ids
    # a voiding statement cannot be voided
    r = post(lrs_a, stmt(verb=ADL + "voided", object={"objectType": "StatementRef", "id": voider}))
    assert r.status_code == 400


def test_single_get_parameter_rules(lrs_a):
    sid = post(lrs_a, stmt()).json()[0]
    assert lrs_a.get(URL, {"statementId": sid, "voidedStatementId": sid}).status_code == 400
    assert lrs_a.get(URL, {"statementId": sid, "verb": ADL + "completed"}).status_code == 400
    assert lrs_a.get(URL, {"statementId": sid, "format": "exact"}).status_code == 200
    assert lrs_a.get(URL, {"statementId": "nope"}).status_code == 400
    assert lrs_a.get(URL, {"bogus": "1"}).status_code == 400
    assert lrs_a.get(URL, {"ascending": "maybe"}).status_code == 400


def test_query_filters_and_more_paging(world_a, lrs_a):
    reg = str(uuid.uuid4())
    other_actor = {"objectType": "Agent", "account": {"homePage": "https://lms.example", "name": "hanako"}}
    post(lrs_a, [stmt(), stmt(verb=ADL + "launched"), stmt(actor=other_actor), stmt(activity="https://lms.example/x", context={"registration": reg})])
    r = lrs_a.get(URL)
    assert r.status_code == 200 and r.json()["more"] == "" and len(r.json()["statements"]) == 4
    assert r.headers["X-Experience-API-Consistent-Through"]
    assert len(lrs_a.get(URL, {"verb": ADL + "launched"}).json()["statements"]) == 1
    assert len(lrs_a.get(URL, {"agent": '{"account": {"homePage": "https://lms.example", "name": "hanako"}}'}).json()["statements"]) == 1
    assert len(lrs_a.get(URL, {"agent": '{"mbox": "mailto:taro@acme.example"}'}).json()["statements"]) == 3
    assert len(lrs_a.get(URL, {"activity": "https://lms.example/x"}).json()["statements"]) == 1
    assert len(lrs_a.get(URL, {"registration": reg}).json()["statements"]) == 1
    assert len(lrs_a.get(URL, {"since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}).json()["statements"]) == 4
    assert lrs_a.get(URL, {"since": "2100-01-01T00:00:00Z"}).json()["statements"] == []
    assert lrs_a.get(URL, {"related_activities": "true", "related_agents": "false"}).status_code == 200
    # paging
    page = lrs_a.get(URL, {"limit": 3, "ascending": "true"}).json()
    assert len(page["statements"]) == 3 and page["more"].startswith("/api/xapi/statements?")
    rest = lrs_a.get(page["more"]).json()
    assert len(rest["statements"]) == 1 and rest["more"] == ""
    ids = [s["id"] for s in page["statements"] + rest["statements"]]
    assert len(set(ids)) == 4
    desc = [s["id"] for s in lrs_a.get(URL).json()["statements"]]
    assert desc == list(reversed(ids))
    fmt = lrs_a.get(URL, {"format": "ids", "limit": 1}).json()["statements"][0]
    assert "display" not in fmt["verb"]


def test_tenant_b_cannot_read_tenant_a_statements(world_a, world_b, lrs_a, lrs_b):
    sid = post(lrs_a, stmt()).json()[0]
    assert lrs_b.get(URL, {"statementId": sid}).status_code == 404
    assert lrs_b.get(URL).json()["statements"] == []
    # the same id in B is a different statement (ids are unique per tenant) and maps nothing in A
    s = stmt(id=sid)
    assert post(lrs_b, s).status_code == 200
    assert len(events(world_a)) == 1


def test_about(client):
    r = client.get("/api/xapi/about")
    assert r.status_code == 200 and "1.0.3" in r.json()["version"]
    assert r.headers["X-Experience-API-Version"] == "1.0.3"


# --- mapping onto the activity log -----------------------------------------------------------------
def test_standard_statements_map_onto_the_log(world_a, lrs_a):
    video_iri = f"https://shien.example/api/xapi/activities/assets/{world_a.video.pk}"
    statements = [
        stmt(ADL + "launched", "acme-video"),
        stmt(ADL + "progressed", "acme-video", result={"score": {"scaled": 0.4}}),
        stmt(ADL + "completed", video_iri),
        stmt(ADL + "experienced", "https://lms.example/content/assets/acme-doc"),
        stmt(VIDEO + "played", "acme-video", result={"extensions": {VEXT + "played-segments": "0[.]12.5[,]20[.]30", VEXT + "progress": 0.375, VEXT + "time": 30}}),
        stmt(VIDEO + "paused", "acme-video", result={"extensions": {VEXT + "played-segments": "0[.]60", VEXT + "progress": 0.1}}),
        stmt(VIDEO + "seeked", "acme-video", result={"extensions": {VEXT + "time": 90}}),
        stmt("http://id.tincanapi.com/verb/downloaded", "acme-doc"),
        stmt("http://id.tincanapi.com/verb/searched", "https://lms.example/search", result={"response": "見積 テンプレート", "success": False}),
        stmt(
            ADL + "experienced",
            "acme-faq",
            actor={"objectType": "Agent", "account": {"homePage": "https://lms.example", "name": "taro@acme.example"}},
        ),
    ]
    r = post(lrs_a, statements)
    assert r.status_code == 200 and r.headers["X-Shien-Unmapped"] == "0"
    log = events(world_a)
    assert [e.verb for e in log] == [
        "training.started",
        "training.progressed",
        "training.completed",
        "document.viewed",
        "training.progressed",
        "training.progressed",
        "training.progressed",
        "document.downloaded",
        "faq.searched",
        "faq.viewed",
    ]
    assert all(e.partner_id == world_a.partner.pk and e.user_id == world_a.member.user_id for e in log)
    assert [e.asset_id for e in log] == [world_a.video.pk] * 3 + [world_a.doc.pk] + [world_a.video.pk] * 3 + [world_a.doc.pk, None, world_a.faq.pk]
    assert log[1].progress == 40 and log[2].progress == 100
    assert log[4].played_segments == [[0, 12.5], [20, 30]] and log[4].progress == 37.5 and log[4].seconds == 22.5 and log[4].position == 30
    assert log[8].query == "見積 テンプレート" and log[8].resolved is False
    assert {str(e.event_id) for e in log} == set(r.json())
    assert all(row.mapped_event_id for row in rows(world_a))


def test_unmapped_statements_are_kept_and_reported(world_a, lrs_a):
    r = post(
        lrs_a,
        [
            stmt(ADL + "answered"),
            stmt(actor={"mbox": "mailto:stranger@example.com"}),
            stmt(activity="https://lms.example/unknown"),
        ],
    )
    assert r.status_code == 200 and r.headers["X-Shien-Unmapped"] == "3"
    assert events(world_a) == []
    kept = rows(world_a, unmapped=True)
    assert sorted(k.unmapped_reason for k in kept) == ["unknown activity", "unknown actor", "unknown verb"]
    summary = lrs_a.get("/api/xapi/unmapped").json()
    assert summary["total"] == 3
    assert {x["reason"] for x in summary["by_reason"]} == {"unknown activity", "unknown actor", "unknown verb"}
    assert len(lrs_a.get(URL).json()["statements"]) == 3


def test_a_statement_outside_the_assets_audience_is_stored_but_not_mapped(world_a, lrs_a):
    """Audiences hold in the xAPI mapping: the statement is kept (it is valid xAPI) but never enters
    the activity log, and the refusal is counted with its reason."""
    from django_scopes import scope

    from enablement.models import IngestRefusal
    from enablement.services.catalog import audience_set
    from tests import factories as f

    tenant = world_a.tenant
    with scope(tenant=tenant.pk):
        audience_set(tenant=tenant, actor=None, asset=world_a.video, partners=[f.PartnerFactory(tenant=tenant)])
    r = post(lrs_a, [stmt()])
    assert r.status_code == 200 and r.headers["X-Shien-Unmapped"] == "1"
    assert events(world_a) == []
    (kept,) = rows(world_a, unmapped=True)
    assert kept.unmapped_reason.startswith("refused (outside_audience)")
    with scope(tenant=tenant.pk):
        assert IngestRefusal.objects.get(tenant=tenant, reason="outside_audience").count == 1
