"""cmi5 launch through the LRS: the launch parameters and LMS.LaunchData, the one-time fetch URL,
the auth token (bound to its launch's actor, registration, AU and tenant; expiring), CORS for the
sandboxed AU only, moveOn deciding completion, and time credited no faster than the wall clock."""

from __future__ import annotations

import base64
import json
import uuid
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.conf import settings
from django.test import Client
from django_scopes import scope

from enablement.lrs.models import XapiStatement
from enablement.models import ActivityEvent, Verb
from enablement.packages import samples
from enablement.packages.cmi5 import SATISFIED, SESSION_EXT, move_on_met
from enablement.packages.models import Attempt, Cmi5Launch, Package
from enablement.packages.services import package_upload
from tests.enablement.conftest import FakeClock
from tests.packages.conftest import upload

ADL = "http://adlnet.gov/expapi/verbs/"
XAPI = {"HTTP_X_EXPERIENCE_API_VERSION": "1.0.3"}


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr("enablement.services.training.clock", fake)
    return fake


def _package(tenant, asset, move_on=None):
    with scope(tenant=tenant.pk):
        package = package_upload(tenant=tenant, actor=None, asset=asset, file=upload(samples.cmi5_package()))
        if move_on:
            Package.objects.filter(pk=package.pk).update(move_on=move_on)
        return package


def _launch(client, tenant, asset) -> dict[str, str]:
    response = client.get(f"/t/{tenant.slug}/portal/packages/{asset.pk}/")
    assert response.status_code == 200
    src = response.context["src"]
    assert src.startswith("/packages/c/") and urlsplit(src).path.endswith("/au/index.html")
    return {k: v[0] for k, v in parse_qs(urlsplit(src).query).items()}


def _fetch(params, origin="null"):
    return Client().post(urlsplit(params["fetch"]).path, HTTP_ORIGIN=origin)


def _au(params) -> tuple[Client, dict]:
    """A cookie-less client with the launch's auth token, as the sandboxed AU calls."""
    token = _fetch(params).json()["auth-token"]
    return Client(), {"HTTP_AUTHORIZATION": f"Basic {token}", "HTTP_ORIGIN": "null", **XAPI}


def _stmt(params, verb_name, result=None, **over):
    stmt = {
        "id": str(uuid.uuid4()),
        "actor": json.loads(params["actor"]),
        "verb": {"id": ADL + verb_name, "display": {"en-US": verb_name}},
        "object": {"objectType": "Activity", "id": params["activityId"]},
        "context": {"registration": params["registration"]},
    }
    if result:
        stmt["result"] = result
    stmt.update(over)
    return stmt


def _post(au, headers, params, *stmts):
    return au.post("/packages/cmi5/xapi/statements", json.dumps(list(stmts)), content_type="application/json", **headers)


def _state_url(params, state_id="LMS.LaunchData", **over):
    query = {"stateId": state_id, "activityId": params["activityId"], "agent": params["actor"],
             "registration": params["registration"], **over}
    return "/packages/cmi5/xapi/activities/state?" + urlencode(query)


def _verbs(tenant, asset):
    with scope(tenant=tenant.pk):
        return list(ActivityEvent.objects.filter(tenant=tenant, asset=asset).order_by("id").values_list("verb", flat=True))


def test_launch_parameters_and_launch_data(client, login, tenant_a, partner_user_a, training_a, clock):
    _package(tenant_a, training_a)
    login(partner_user_a)
    params = _launch(client, tenant_a, training_a)
    assert set(params) == {"endpoint", "fetch", "actor", "registration", "activityId"}
    assert params["endpoint"] == "http://testserver/packages/cmi5/xapi/"
    assert params["activityId"] == "https://shien.example/courses/sample/au1"
    actor = json.loads(params["actor"])
    # The learner is an account named by the user's id: the AU never sees the email.
    assert actor["account"] == {"homePage": "http://testserver/", "name": str(partner_user_a.user_id)}
    assert partner_user_a.user.email not in params["actor"]
    with scope(tenant=tenant_a.pk):
        attempt = Attempt.objects.get(tenant=tenant_a, user=partner_user_a.user)
        launch = Cmi5Launch.objects.get(tenant=tenant_a, attempt=attempt)
    assert params["registration"] == str(attempt.registration)
    au, headers = _au(params)
    response = au.get(_state_url(params), **headers)
    assert response.status_code == 200
    data = response.json()
    assert data["moveOn"] == "CompletedOrPassed" and data["masteryScore"] == 0.8
    assert data["launchMode"] == "Normal"
    assert data["contextTemplate"]["extensions"][SESSION_EXT] == str(launch.session_id)
    assert data["contextTemplate"]["contextActivities"]["grouping"][0]["id"] == params["activityId"]
    # CORS for the sandboxed AU (Origin: null) only, never with credentials.
    assert response["Access-Control-Allow-Origin"] == "null"
    assert "Access-Control-Allow-Credentials" not in response
    assert "Authorization" in response["Access-Control-Allow-Headers"]
    other = au.get(_state_url(params), **{**headers, "HTTP_ORIGIN": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other
    preflight = au.options("/packages/cmi5/xapi/statements", HTTP_ORIGIN="null",
                           HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert preflight.status_code == 204 and "POST" in preflight["Access-Control-Allow-Methods"]
    # The portal's own LRS is not opened to the sandbox.
    assert "Access-Control-Allow-Origin" not in Client().options("/api/xapi/statements", HTTP_ORIGIN="null")
    # The second launch writes a new session id into LaunchData, same registration.
    params2 = _launch(client, tenant_a, training_a)
    assert params2["registration"] == params["registration"] and params2["fetch"] != params["fetch"]
    au2, headers2 = _au(params2)
    assert au2.get(_state_url(params2), **headers2).json()["contextTemplate"]["extensions"][SESSION_EXT] != str(launch.session_id)


def test_fetch_url_answers_once_and_expires(client, login, tenant_a, partner_user_a, training_a, clock):
    _package(tenant_a, training_a)
    login(partner_user_a)
    params = _launch(client, tenant_a, training_a)
    assert Client().get(urlsplit(params["fetch"]).path).status_code == 405
    first = _fetch(params)
    assert first.status_code == 200 and first["Access-Control-Allow-Origin"] == "null"
    token = first.json()["auth-token"]
    second = _fetch(params)
    assert second.status_code == 400 and second.json()["error-code"] == "1"
    assert token not in second.content.decode()
    # Only a hash of the token is kept.
    with scope(tenant=tenant_a.pk):
        stored = Cmi5Launch.objects.get(tenant=tenant_a)
    assert token not in stored.token_hash and stored.fetched_at is not None
    # A wrong secret.
    path = urlsplit(params["fetch"]).path
    assert Client().post(path[:-3] + "xyz").json()["error-code"] == "3"
    # Expired: a fetch after the launch's lifetime and the token itself.
    later = _launch(client, tenant_a, training_a)
    headers = {"HTTP_AUTHORIZATION": f"Basic {token}", **XAPI}
    assert Client().get(_state_url(params), **headers).status_code == 200
    clock.advance(seconds=settings.PACKAGE_TOKEN_MAX_AGE + 1)
    assert _fetch(later).json()["error-code"] == "2"
    assert Client().get(_state_url(params), **headers).status_code == 401


def test_token_is_bound_to_its_actor_registration_au_and_tenant(client, login, tenant_a, tenant_b, partner_user_a,
                                                                  partner_user_b, training_a, training_b, clock):
    _package(tenant_a, training_a)
    _package(tenant_b, training_b)
    login(partner_user_a)
    params = _launch(client, tenant_a, training_a)
    au, headers = _au(params)
    other_client = Client()
    other_client.force_login(partner_user_b.user)
    params_b = _launch(other_client, tenant_b, training_b)
    # No token, or only the portal's session cookie: nothing.
    assert Client().get(_state_url(params), **XAPI).status_code == 401
    assert client.get(_state_url(params), **XAPI).status_code == 401
    # Another learner, another registration, another activity.
    someone = {"objectType": "Agent", "account": {"homePage": "http://testserver/", "name": str(partner_user_b.user_id)}}
    assert _post(au, headers, params, _stmt(params, "initialized", actor=someone)).status_code == 403
    wrong_reg = _stmt(params, "initialized", context={"registration": str(uuid.uuid4())})
    assert _post(au, headers, params, wrong_reg).status_code == 403
    assert au.get(_state_url(params, registration=params_b["registration"]), **headers).status_code == 403
    assert au.get(_state_url(params, activityId="https://other.example/au"), **headers).status_code == 403
    assert au.get(_state_url(params, agent=json.dumps(someone)), **headers).status_code == 403
    # LaunchData and satisfied belong to the LMS.
    assert au.put(_state_url(params), b"{}", content_type="application/json", **headers).status_code == 403
    satisfied = _stmt(params, "initialized", verb={"id": SATISFIED})
    assert _post(au, headers, params, satisfied).status_code == 403
    # Its own state documents work.
    assert au.put(_state_url(params, "bookmark"), b'{"page": 2}', content_type="application/json", **headers).status_code == 204
    assert au.get(_state_url(params, "bookmark"), **headers).json() == {"page": 2}
    # The token names tenant A: rewritten to name tenant B (or B's launch), it opens nothing.
    raw = base64.b64decode(headers["HTTP_AUTHORIZATION"].split()[1]).decode()
    with scope(tenant=tenant_b.pk):
        launch_b = Cmi5Launch.objects.get(tenant=tenant_b)
    _user, secret = raw.split(":", 1)
    for forged in (f"c{tenant_b.pk}.{_user.split('.')[1]}:{secret}", f"c{tenant_b.pk}.{launch_b.pk}:{secret}",
                   f"c{tenant_a.pk}.{launch_b.pk}:{secret}"):
        forged_headers = {**headers, "HTTP_AUTHORIZATION": "Basic " + base64.b64encode(forged.encode()).decode()}
        assert au.get(_state_url(params_b), **forged_headers).status_code == 401
    # Nothing was logged from the refused statements.
    assert _verbs(tenant_a, training_a) == []
    assert _verbs(tenant_b, training_b) == []
    # A suspended learner's token stops working.
    with scope(tenant=tenant_a.pk):
        partner_user_a.is_active = False
        partner_user_a.save()
    assert au.get(_state_url(params, "bookmark"), **headers).status_code == 401


@pytest.mark.parametrize(
    ("move_on", "verbs", "completed"),
    [
        ("Completed", ["completed"], True),
        ("Completed", ["passed"], False),
        ("Passed", ["completed"], False),
        ("Passed", ["passed"], True),
        ("Passed", ["failed"], False),
        ("CompletedAndPassed", ["completed"], False),
        ("CompletedAndPassed", ["passed"], False),
        ("CompletedAndPassed", ["completed", "passed"], True),
        ("CompletedOrPassed", ["passed"], True),
        ("CompletedOrPassed", ["completed"], True),
        ("CompletedOrPassed", ["failed"], False),
        ("NotApplicable", [], True),
    ],
)
def test_move_on_decides_completion(client, login, tenant_a, partner_user_a, training_a, clock, move_on, verbs, completed):
    _package(tenant_a, training_a, move_on=move_on)
    login(partner_user_a)
    params = _launch(client, tenant_a, training_a)
    au, headers = _au(params)
    assert _post(au, headers, params, _stmt(params, "initialized")).status_code == 200
    clock.advance(seconds=60)
    results = {"completed": {"completion": True, "duration": "PT30S"},
               "passed": {"success": True, "score": {"scaled": 0.9, "raw": 90}, "duration": "PT40S"},
               "failed": {"success": False, "score": {"scaled": 0.5, "raw": 50}, "duration": "PT40S"}}
    for verb in verbs:
        assert _post(au, headers, params, _stmt(params, verb, results[verb])).status_code == 200
    assert _post(au, headers, params, _stmt(params, "terminated", {"duration": "PT45S"})).status_code == 200
    logged = _verbs(tenant_a, training_a)
    assert logged.count(Verb.TRAINING_STARTED) == 1
    assert logged.count(Verb.TRAINING_COMPLETED) == (1 if completed else 0)
    assert logged.count(Verb.TRAINING_PROGRESSED) == len(verbs) + 1
    with scope(tenant=tenant_a.pk):
        attempt = Attempt.objects.get(tenant=tenant_a)
        satisfied = XapiStatement.objects.filter(tenant=tenant_a, verb_id=SATISFIED)
        assert satisfied.count() == (1 if completed else 0)
        if completed:
            assert satisfied.get().registration == attempt.registration
    assert (attempt.completed_at is not None) is completed
    assert attempt.seconds == 45.0
    with scope(tenant=tenant_a.pk):
        kept = XapiStatement.objects.filter(tenant=tenant_a).exclude(verb_id=SATISFIED)
        assert kept.count() == len(verbs) + 2
        # the AU's statements are kept as mapped onto the events they produced
        assert not kept.filter(unmapped=True).exists() and not kept.filter(mapped_event=None).exists()
    assert move_on_met(move_on, completed="completed" in verbs, passed="passed" in verbs) is completed
    # After terminated, the session takes no more statements.
    assert _post(au, headers, params, _stmt(params, "completed", {"completion": True})).status_code == 403


def test_score_time_and_completion_once_across_launches(client, login, tenant_a, partner_user_a, training_a, clock):
    _package(tenant_a, training_a)
    login(partner_user_a)
    params = _launch(client, tenant_a, training_a)
    au, headers = _au(params)
    _post(au, headers, params, _stmt(params, "initialized"))
    clock.advance(seconds=20)
    # The AU claims 10 minutes after 20 seconds: 20 seconds are credited.
    below = _stmt(params, "passed", {"success": True, "score": {"scaled": 0.5}})
    assert _post(au, headers, params, below).status_code == 400  # passed below the mastery score (0.8)
    passed = _stmt(params, "passed", {"success": True, "score": {"scaled": 0.85, "raw": 85}, "duration": "PT600S"})
    assert _post(au, headers, params, passed).status_code == 200
    # The same statement again is stored once and logged once.
    assert _post(au, headers, params, passed).status_code == 200
    with scope(tenant=tenant_a.pk):
        attempt = Attempt.objects.get(tenant=tenant_a)
    assert attempt.seconds == 20.0 and attempt.score_raw == 85 and attempt.success_status == "passed"
    assert attempt.completed_at is not None
    # A second launch and pass: still one completion.
    params2 = _launch(client, tenant_a, training_a)
    au2, headers2 = _au(params2)
    _post(au2, headers2, params2, _stmt(params2, "initialized"))
    clock.advance(seconds=5)
    _post(au2, headers2, params2, _stmt(params2, "passed", {"success": True, "score": {"scaled": 1.0}, "duration": "PT5S"}))
    logged = _verbs(tenant_a, training_a)
    assert logged.count(Verb.TRAINING_COMPLETED) == 1
    assert logged.count(Verb.TRAINING_STARTED) == 1
    assert logged.count(Verb.TRAINING_PROGRESSED) == 2
    with scope(tenant=tenant_a.pk):
        assert Attempt.objects.get(tenant=tenant_a).seconds == 25.0
        last = ActivityEvent.objects.filter(tenant=tenant_a, verb=Verb.TRAINING_PROGRESSED).order_by("id").first()
    assert last.extra["score_raw"] == 85 and last.extra["credited"] == 20.0


def test_au_endpoints_share_the_learners_portal_rate(client, login, tenant_a, partner_user_a, training_a, clock, settings):
    """The course writes the learner's log with its token, not a session: the same per-person rate
    applies. Over it: 429 with Retry-After and nothing stored; the statement sent again later is."""
    settings.PORTAL_LOG_RATE = "3/min"
    _package(tenant_a, training_a)
    login(partner_user_a)
    params = _launch(client, tenant_a, training_a)
    au, headers = _au(params)
    assert _post(au, headers, params, _stmt(params, "initialized")).status_code == 200
    assert au.get(_state_url(params), **headers).status_code == 200
    stored = _verbs(tenant_a, training_a)
    assert au.get(_state_url(params), **headers).status_code == 200
    refused = _stmt(params, "completed")
    response = _post(au, headers, params, refused)
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
    assert _verbs(tenant_a, training_a) == stored
    with scope(tenant=tenant_a.pk):
        assert not XapiStatement.objects.filter(tenant=tenant_a, statement_id=refused["id"]).exists()


def test_launch_page_polls_the_status_until_the_au_completes(client, login, tenant_a, partner_user_a, training_a,
                                                            clock, django_user_model):
    """A cmi5 AU reports to the LRS, not through the launch page: the page's status box polls its
    own attempt (htmx, in the background) and shows the completion without a reload; once completed
    the answer is 286, which stops the polling. Another learner cannot read the attempt."""
    from lxml import html

    _package(tenant_a, training_a)
    login(partner_user_a)
    page = client.get(f"/t/{tenant_a.slug}/portal/packages/{training_a.pk}/")
    box = html.fromstring(page.content).xpath("//div[@data-package-status-box]")[0]
    poll = box.get("hx-get")
    assert poll and box.get("hx-trigger") == "every 10s" and box.get("data-background") is not None
    assert box.get("aria-live") == "polite"
    params = {k: v[0] for k, v in parse_qs(urlsplit(page.context["src"]).query).items()}

    first = client.get(poll)
    assert first.status_code == 200 and 'data-package-status' in first.content.decode()
    assert "badge-ok" not in first.content.decode()
    au, headers = _au(params)
    assert _post(au, headers, params, _stmt(params, "initialized")).status_code == 200
    clock.advance(seconds=60)
    assert _post(au, headers, params, _stmt(params, "completed", {"completion": True, "duration": "PT30S"})).status_code == 200
    done = client.get(poll)
    assert done.status_code == 286 and "badge-ok" in done.content.decode()

    other = django_user_model.objects.create_user(email="other-learner@example.test", password="x")
    with scope(tenant=tenant_a.pk):
        from partners.models import Membership

        second = Membership.objects.create(tenant=tenant_a, user=other, role=partner_user_a.role, partner=partner_user_a.partner)
    login(second)
    assert client.get(poll).status_code == 404
    assert client.get(poll.split("?")[0] + "?attempt=x").status_code == 400


def test_status_poll_is_not_reachable_from_another_tenant(client, login, tenant_a, partner_user_a, partner_user_b,
                                                         training_a, clock):
    """The poll URL of tenant A's attempt answers nothing to a learner of tenant B, neither under
    tenant A's path nor under tenant B's own."""
    _package(tenant_a, training_a)
    login(partner_user_a)
    page = client.get(f"/t/{tenant_a.slug}/portal/packages/{training_a.pk}/")
    poll = page.context["poll_url"]
    assert client.get(poll).status_code == 200
    login(partner_user_b)
    assert client.get(poll).status_code in (302, 403, 404)
    assert client.get(poll.replace(f"/t/{tenant_a.slug}/", f"/t/{partner_user_b.tenant.slug}/")).status_code == 404
