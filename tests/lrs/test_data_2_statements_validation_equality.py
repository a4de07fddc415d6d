"""Data 2.2–2.4 (validation: 400, never 500), 2.3.1 (immutability / equality for the 409 check),
contextActivities normalisation."""

from __future__ import annotations

import copy
import json
import uuid

import pytest

from tests.lrs.helpers import ACTIVITY, ADL, statement

URL = "/api/xapi/statements"


def with_definition(**definition):
    s = statement()
    s["object"]["definition"] = definition
    return s


def deep(n: int):
    v: dict = {"x": 1}
    for _ in range(n):
        v = {"x": v}
    return v


INVALID = {
    "interactionType as an object": with_definition(interactionType={"a": 1}),
    "interactionType as a list": with_definition(interactionType=["choice"]),
    "unknown interactionType": with_definition(interactionType="essay"),
    "correctResponsesPattern without interactionType": with_definition(correctResponsesPattern=["a"]),
    "choices without interactionType": with_definition(choices=[{"id": "a"}]),
    "choices on a likert interaction": with_definition(interactionType="likert", choices=[{"id": "a"}]),
    "component without id": with_definition(interactionType="choice", choices=[{"description": {"en": "x"}}]),
    "attachment without sha2": statement(attachments=[{"usageType": "http://x.example/u", "display": {"en": "a"}, "contentType": "text/plain", "length": 1, "fileUrl": "http://x.example/f"}]),
    "attachment length negative": statement(attachments=[{"usageType": "http://x.example/u", "display": {"en": "a"}, "contentType": "text/plain", "length": -1, "sha2": "a" * 64, "fileUrl": "http://x.example/f"}]),
    "attachment usageType not an IRI": statement(attachments=[{"usageType": "nope", "display": {"en": "a"}, "contentType": "text/plain", "length": 1, "sha2": "a" * 64, "fileUrl": "http://x.example/f"}]),
    "attachment sha2 not hex": statement(attachments=[{"usageType": "http://x.example/u", "display": {"en": "a"}, "contentType": "text/plain", "length": 1, "sha2": "zz", "fileUrl": "http://x.example/f"}]),
    "authority group with one member": statement(authority={"objectType": "Group", "member": [{"mbox": "mailto:a@x.example"}]}),
    "authority group identified": statement(authority={"objectType": "Group", "mbox": "mailto:g@x.example", "member": [{"mbox": "mailto:a@x.example"}, {"mbox": "mailto:b@x.example"}]}),
    "authority group with an invalid member": statement(authority={"objectType": "Group", "member": [{"mbox": "x"}, {"mbox": "mailto:b@x.example"}]}),
    "duration P4W1D": statement(result={"duration": "P4W1D"}),
    "duration PT": statement(result={"duration": "PT"}),
    "context activity not an object": statement(context={"contextActivities": {"parent": "http://x.example/a"}}),
    "nested 100 levels in an extension": statement(result={"extensions": {"http://x.example/e": deep(100)}}),
}  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(INVALID))
def test_invalid_statements_are_rejected_with_400_never_500(lrs_a, name):
    r = lrs_a.post(URL, INVALID[name], format="json")
    assert r.status_code == 400, (name, r.content)
    assert "detail" in r.json()


@pytest.mark.django_db
def test_json_nested_beyond_the_parser_limit_is_400(lrs_a):
    body = '{"a":' * 5000 + "1" + "}" * 5000
    r = lrs_a.post(URL, body, content_type="application/json")
    assert r.status_code == 400


@pytest.mark.django_db
@pytest.mark.parametrize("duration", ["P4W", "PT1H30M", "P1Y2M3DT4H5M6.5S", "P1D"])
def test_valid_iso8601_durations_are_accepted(lrs_a, duration):
    assert lrs_a.post(URL, statement(result={"duration": duration}), format="json").status_code == 200


@pytest.mark.django_db
def test_valid_interaction_definition_and_two_member_authority_group_are_accepted(lrs_a):
    s = with_definition(interactionType="choice", correctResponsesPattern=["a"], choices=[{"id": "a", "description": {"en-US": "A"}}])
    assert lrs_a.post(URL, s, format="json").status_code == 200


@pytest.mark.django_db
def test_single_context_activity_object_is_returned_as_an_array(lrs_a):
    parent = {"objectType": "Activity", "id": "http://www.example.com/parent"}
    sid = lrs_a.post(URL, statement(context={"contextActivities": {"parent": parent}}), format="json").json()[0]
    got = lrs_a.get(URL, {"statementId": sid}).json()
    assert got["context"]["contextActivities"]["parent"] == [parent]


@pytest.mark.django_db
def test_same_id_with_reordered_group_members_and_other_language_maps_is_not_a_conflict(lrs_a):
    group = {"objectType": "Group", "member": [{"mbox": "mailto:a@x.example"}, {"mbox": "mailto:b@x.example"}]}
    s = statement(actor=group, id=str(uuid.uuid4()))
    s["object"]["definition"] = {"name": {"en-US": "Course"}}
    assert lrs_a.post(URL, s, format="json").status_code == 200
    again = copy.deepcopy(s)
    again["actor"]["member"].reverse()
    again["verb"]["display"] = {"ja-JP": "体験した"}
    again["object"]["definition"] = {"name": {"fr-FR": "Cours"}}
    assert lrs_a.post(URL, again, format="json").status_code == 200
    changed = copy.deepcopy(s)
    changed["verb"]["id"] = ADL + "completed"
    assert lrs_a.post(URL, changed, format="json").status_code == 409


@pytest.mark.django_db
def test_same_id_with_other_result_duration_is_a_conflict(lrs_a):
    s = statement(id=str(uuid.uuid4()), result={"duration": "PT1H"})
    lrs_a.post(URL, s, format="json")
    assert lrs_a.post(URL, {**s, "result": {"duration": "PT60M"}}, format="json").status_code == 409


@pytest.mark.django_db
def test_statement_object_substatement_with_context_and_activity_is_stored(lrs_a):
    sub = {"objectType": "SubStatement", "actor": {"mbox": "mailto:x@x.example"}, "verb": {"id": ADL + "attempted"}, "object": {"id": ACTIVITY}}
    r = lrs_a.post(URL, statement(object=sub), format="json")
    assert r.status_code == 200, r.content
    assert json.loads(lrs_a.get(URL, {"statementId": r.json()[0]}).content)["object"]["objectType"] == "SubStatement"
