"""A real xAPI client (the ``tincan`` package, as content players' back ends use it) against a
live server: statements, state save/retrieve/delete, activity and agent profiles. The tincan
client has no call for the Agents and Activities resources: those are read over plain HTTP with
the same credentials."""

from __future__ import annotations

import json
import urllib.request
from urllib.parse import urlencode

import pytest
from django.conf import settings as django_settings
from django.test import testcases
from tincan import (
    Activity,
    ActivityProfileDocument,
    Agent,
    AgentProfileDocument,
    RemoteLRS,
    StateDocument,
    Statement,
    Verb,
)

from tests.lrs.conftest import make_world

if not django_settings.MEDIA_URL:
    # uploads are private (MEDIA_URL None); the live server's media handler cannot parse None
    testcases._MediaFilesHandler.get_base_url = lambda self: "/__no-public-media__/"


@pytest.fixture
def lrs(live_server, transactional_db, tenant_a, settings):
    settings.LRS_RATE_LIMIT = "off"
    world = make_world(tenant_a, "acme")
    _shien, prefix, secret = world.raw.split("_")
    remote = RemoteLRS(endpoint=live_server.url + "/api/xapi/", username=prefix, password=secret, version="1.0.3")
    return remote, live_server.url


def _get(url: str, auth: str):
    req = urllib.request.Request(url, headers={"Authorization": auth, "X-Experience-API-Version": "1.0.3"})
    with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 (loopback live server)
        return r.status, json.loads(r.read())


def test_tincan_client_round_trips_statements_state_profiles_agents_activities(lrs, settings):
    remote, base = lrs
    actor = Agent(name="Taro", mbox="mailto:taro@acme.example")
    activity = Activity(id="http://www.example.com/tincan/course", definition={"name": {"en-US": "Course"}})

    about = remote.about()
    assert about.success and "1.0.3" in about.content.version

    saved = remote.save_statement(Statement(actor=actor, verb=Verb(id="http://adlnet.gov/expapi/verbs/experienced"), object=activity))
    assert saved.success, saved.data
    got = remote.retrieve_statement(saved.content.id)
    assert got.success and got.content.verb.id == "http://adlnet.gov/expapi/verbs/experienced"
    query = remote.query_statements({"agent": actor, "limit": 10})
    assert query.success and [s.id for s in query.content.statements] == [saved.content.id]

    state = StateDocument(activity=activity, agent=actor, id="bookmark", content=bytearray(b"slide-12"), content_type="text/plain")
    assert remote.save_state(state).success
    back = remote.retrieve_state(activity=activity, agent=actor, state_id="bookmark")
    assert back.success and bytes(back.content.content) == b"slide-12"
    ids = remote.retrieve_state_ids(activity=activity, agent=actor)
    assert ids.success and ids.content == ["bookmark"]
    assert remote.delete_state(back.content).success
    missing = remote.retrieve_state(activity=activity, agent=actor, state_id="bookmark")
    assert missing.response.status == 404  # the client reports a missing state as success with no content

    profile = ActivityProfileDocument(activity=activity, id="settings", content=bytearray(b'{"speed": 1.5}'), content_type="application/json")
    # tincan creates a profile with a bare PUT (no If-None-Match): refused by default (400), as
    # the ADL conformance suite checks; LRS_PROFILE_PUT_REQUIRES_PRECONDITION=False lets it create
    refused = remote.save_activity_profile(profile)
    assert not refused.success and refused.response.status == 400
    settings.LRS_PROFILE_PUT_REQUIRES_PRECONDITION = False
    assert remote.save_activity_profile(profile).success
    fetched = remote.retrieve_activity_profile(activity=activity, profile_id="settings")
    assert fetched.success and json.loads(bytes(fetched.content.content)) == {"speed": 1.5}
    fetched.content.content = bytearray(b'{"speed": 2}')
    # Communication 3.1: overwriting an existing profile without If-Match is a 409 ...
    conflict = remote.save_activity_profile(fetched.content)
    assert not conflict.success and conflict.response.status == 409
    # ... tincan 1.0.0 never reads the ETag back (it looks for "etag" in a list of header pairs), so
    # hand it the ETag of the document; it then sends If-Match and the update is accepted.
    fetched.content.etag = {k.lower(): v for k, v in fetched.response.getheaders()}["etag"]
    assert remote.save_activity_profile(fetched.content).success
    assert json.loads(bytes(remote.retrieve_activity_profile(activity=activity, profile_id="settings").content.content)) == {"speed": 2}
    assert remote.retrieve_activity_profile_ids(activity=activity).content == ["settings"]
    stale = remote.delete_activity_profile(fetched.content)  # If-Match: the ETag before the update
    assert not stale.success and stale.response.status == 412
    fetched.content.etag = None
    assert remote.delete_activity_profile(fetched.content).success
    assert remote.retrieve_activity_profile_ids(activity=activity).content == []

    agent_profile = AgentProfileDocument(agent=actor, id="prefs", content=bytearray(b'{"lang": "ja"}'), content_type="application/json")
    assert remote.save_agent_profile(agent_profile).success
    fetched = remote.retrieve_agent_profile(agent=actor, profile_id="prefs")
    assert fetched.success and json.loads(bytes(fetched.content.content)) == {"lang": "ja"}
    assert remote.retrieve_agent_profile_ids(agent=actor).content == ["prefs"]
    assert remote.delete_agent_profile(fetched.content).success

    status, person = _get(base + "/api/xapi/agents?" + urlencode({"agent": actor.to_json()}), remote.auth)
    assert status == 200 and person["mbox"] == ["mailto:taro@acme.example"]
    status, act = _get(base + "/api/xapi/activities?" + urlencode({"activityId": activity.id}), remote.auth)
    assert status == 200 and act["definition"]["name"] == {"en-US": "Course"}
