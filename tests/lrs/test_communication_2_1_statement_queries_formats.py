"""Communication 2.1.3 (GET statements: filters by the index tables, StatementRef targeting,
stable ``more`` paging) and the ``format`` parameter (exact / ids / canonical)."""

from __future__ import annotations

import json

import pytest

from tests.lrs.helpers import ACTIVITY, ADL, AGENT, statement

URL = "/api/xapi/statements"
OTHER = {"objectType": "Agent", "mbox": "mailto:jiro@example.com"}
INSTRUCTOR = {"objectType": "Agent", "mbox": "mailto:sensei@example.com"}
PARENT = "http://www.example.com/activities/parent"


def ids(r):
    assert r.status_code == 200, r.content
    return {s["id"] for s in r.json()["statements"]}


def store(c, *stmts):
    r = c.post(URL, list(stmts), format="json")
    assert r.status_code == 200, r.content
    return r.json()


@pytest.mark.django_db
def test_agent_filter_matches_actor_agent_object_and_group_members_not_instructor(lrs_a):
    as_actor, as_object, in_group, as_instructor = store(
        lrs_a,
        statement(),
        statement(actor=OTHER, object=AGENT),
        statement(actor={"objectType": "Group", "member": [OTHER, AGENT]}),
        statement(actor=OTHER, context={"instructor": AGENT}),
    )
    agent = json.dumps(AGENT)
    assert ids(lrs_a.get(URL, {"agent": agent})) == {as_actor, as_object, in_group}
    assert ids(lrs_a.get(URL, {"agent": agent, "related_agents": "true"})) == {as_actor, as_object, in_group, as_instructor}


@pytest.mark.django_db
def test_related_agents_include_authority_and_substatement_actor(lrs_a):
    sub = {"objectType": "SubStatement", "actor": AGENT, "verb": {"id": ADL + "attempted"}, "object": {"id": ACTIVITY}}
    (in_sub,) = store(lrs_a, statement(actor=OTHER, object=sub))
    agent = json.dumps(AGENT)
    assert ids(lrs_a.get(URL, {"agent": agent})) == set()
    assert ids(lrs_a.get(URL, {"agent": agent, "related_agents": "true"})) == {in_sub}


@pytest.mark.django_db
def test_activity_filter_and_related_activities_include_context_activities(lrs_a):
    direct, in_context = store(
        lrs_a, statement(), statement(activity="http://www.example.com/other", context={"contextActivities": {"parent": [{"id": ACTIVITY}]}})
    )
    assert ids(lrs_a.get(URL, {"activity": ACTIVITY})) == {direct}
    assert ids(lrs_a.get(URL, {"activity": ACTIVITY, "related_activities": "true"})) == {direct, in_context}


@pytest.mark.django_db
def test_statements_targeting_a_matching_statement_are_included(lrs_a):
    (target,) = store(lrs_a, statement(verb=ADL + "completed"))
    (ref,) = store(lrs_a, statement(actor=OTHER, verb=ADL + "commented", object={"objectType": "StatementRef", "id": target}))
    assert ids(lrs_a.get(URL, {"verb": ADL + "completed"})) == {target, ref}


@pytest.mark.django_db
def test_voided_statements_are_excluded_and_their_voiding_statement_is_returned(lrs_a):
    (target,) = store(lrs_a, statement())
    (voiding,) = store(lrs_a, statement(verb=ADL + "voided", object={"objectType": "StatementRef", "id": target}))
    assert ids(lrs_a.get(URL)) == {voiding}


@pytest.mark.django_db
def test_more_pages_through_every_statement_once_in_stored_order(lrs_a):
    sent = store(lrs_a, *[statement() for _ in range(7)])
    seen: list[str] = []
    url = URL + "?limit=3"
    while url:
        page = lrs_a.get(url).json()
        seen += [s["id"] for s in page["statements"]]
        url = page["more"]
    assert sorted(seen) == sorted(sent) and len(seen) == 7
    asc = []
    url = URL + "?limit=2&ascending=true"
    while url:
        page = lrs_a.get(url).json()
        asc += [s["id"] for s in page["statements"]]
        url = page["more"]
    assert asc == list(reversed(seen))


@pytest.mark.django_db
def test_statements_targeting_a_voided_matching_statement_are_included_but_not_the_voided_one(lrs_a):
    """Communication 2.1.4: a filter that matches a voided statement still returns the statements
    that target it (the voiding statement and any other StatementRef), never the voided one."""
    verb = "http://www.example.com/verbs/special"
    (target,) = store(lrs_a, statement(verb=verb))
    (voiding,) = store(lrs_a, statement(verb=ADL + "voided", object={"objectType": "StatementRef", "id": target}))
    (ref,) = store(lrs_a, statement(actor=OTHER, verb=verb, object={"objectType": "StatementRef", "id": target}))
    page = lrs_a.get(URL, {"verb": verb}).json()["statements"]
    assert [s["id"] for s in page] == [ref, voiding]
    # OTHER sent ref, but its target was AGENT's: it matches the agent filter too
    assert [s["id"] for s in lrs_a.get(URL, {"agent": json.dumps(AGENT)}).json()["statements"]] == [ref, voiding]


@pytest.mark.django_db
@pytest.mark.parametrize("ascending", ["false", "true"])
def test_more_link_pins_the_upper_stored_bound_of_the_first_page(lrs_a, ascending):
    """Statements stored while a client pages through a result do not appear in its later pages."""
    first = store(lrs_a, *[statement() for _ in range(4)])
    page = lrs_a.get(URL, {"limit": 2, "ascending": ascending}).json()
    seen = [s["id"] for s in page["statements"]]
    late = store(lrs_a, statement(), statement())
    url = page["more"]
    while url:
        page = lrs_a.get(url).json()
        seen += [s["id"] for s in page["statements"]]
        url = page["more"]
    assert sorted(seen) == sorted(first)
    assert set(late) <= ids(lrs_a.get(URL))  # a new query sees them


@pytest.mark.django_db
def test_more_link_keeps_the_filters_and_a_tampered_cursor_is_400(lrs_a):
    store(lrs_a, *[statement() for _ in range(3)], statement(verb=ADL + "other"))
    page = lrs_a.get(URL, {"limit": 2, "verb": ADL + "experienced"}).json()
    rest = lrs_a.get(page["more"]).json()
    assert len(page["statements"]) == 2 and len(rest["statements"]) == 1 and rest["more"] == ""
    assert lrs_a.get(URL, {"from_id": "nonsense"}).status_code == 400


@pytest.mark.django_db
def test_format_ids_reduces_agents_activities_and_verbs_also_inside_substatements(lrs_a):
    sub = {
        "objectType": "SubStatement", "actor": AGENT, "verb": {"id": ADL + "attempted", "display": {"en-US": "attempted"}},
        "object": {"id": ACTIVITY, "definition": {"name": {"en-US": "Course"}}},
    }  # fmt: skip
    store(lrs_a, statement(object=sub, context={"instructor": INSTRUCTOR | {"name": "Sensei"}}))
    got = lrs_a.get(URL, {"format": "ids"}).json()["statements"][0]
    assert got["actor"] == {"objectType": "Agent", "mbox": AGENT["mbox"]}
    assert got["verb"] == {"id": ADL + "experienced"}
    assert got["object"]["actor"] == {"objectType": "Agent", "mbox": AGENT["mbox"]}
    assert got["object"]["verb"] == {"id": ADL + "attempted"}
    assert got["object"]["object"] == {"id": ACTIVITY}  # objectType Activity is the default
    assert "name" not in got["context"]["instructor"]
    assert "name" not in got["authority"]


@pytest.mark.django_db
def test_format_canonical_returns_one_language_by_accept_language_and_the_canonical_definition(lrs_a):
    a = statement(verb=ADL + "experienced")
    a["verb"]["display"] = {"en-US": "experienced", "ja-JP": "体験した"}
    a["object"]["definition"] = {"name": {"en-US": "Course", "ja-JP": "コース"}}
    b = statement()
    b["object"]["definition"] = {"description": {"en-US": "Later description"}}
    store(lrs_a, a, b)
    got = lrs_a.get(URL, {"format": "canonical"}, HTTP_ACCEPT_LANGUAGE="ja-JP, en;q=0.5").json()["statements"]
    for s in got:
        assert s["object"]["definition"]["name"] == {"ja-JP": "コース"}
        assert s["object"]["definition"]["description"] == {"en-US": "Later description"}
    first = next(s for s in got if "ja-JP" in s["verb"].get("display", {}) or "en-US" in s["verb"].get("display", {}))
    assert len(first["verb"]["display"]) == 1
    exact = lrs_a.get(URL, {"format": "exact"}).json()["statements"]
    assert {json.dumps(s["object"].get("definition"), sort_keys=True) for s in exact} == {
        json.dumps(a["object"]["definition"], sort_keys=True),
        json.dumps(b["object"]["definition"], sort_keys=True),
    }


@pytest.mark.django_db
def test_index_queries_stay_few_queries_per_page(lrs_a, django_assert_max_num_queries):
    store(lrs_a, *[statement() for _ in range(30)])
    agent = json.dumps(AGENT)
    with django_assert_max_num_queries(12):
        r = lrs_a.get(URL, {"agent": agent, "activity": ACTIVITY, "related_agents": "true", "related_activities": "true", "limit": 10})
    assert len(r.json()["statements"]) == 10
