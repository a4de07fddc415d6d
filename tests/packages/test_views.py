"""Packaged courses over HTTP: the manage page, the launch page, the sandboxed content (headers,
token binding and expiry, no directory escape), commits mapped to the activity log with time
bounded by the wall clock, and isolation between tenants."""

from __future__ import annotations

import json
import time
import uuid
from unittest import mock

import pytest
from django.core import signing
from django.test import Client
from django_scopes import scope

from enablement.models import ActivityEvent, AssetKind, Verb
from enablement.packages import samples
from enablement.packages.models import Attempt, Package
from enablement.packages.services import CONTENT_SALT, package_upload
from tests import factories as f
from tests.enablement.conftest import FakeClock
from tests.packages.conftest import upload


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr("enablement.services.training.clock", fake)
    return fake


def _package(tenant, asset, data=None):
    with scope(tenant=tenant.pk):
        return package_upload(tenant=tenant, actor=None, asset=asset, file=upload(data or samples.scorm2004_package()))


def _launch(client, tenant, asset):
    response = client.get(f"/t/{tenant.slug}/portal/packages/{asset.pk}/")
    assert response.status_code == 200
    return response.context


def _commit(client, tenant, asset, context, cmi, event_id=None):
    body = {"attempt": context["attempt"].pk, "session": context["play_session"], "event_id": event_id or str(uuid.uuid4()),
            "cmi": cmi}
    return client.post(f"/t/{tenant.slug}/portal/packages/{asset.pk}/commit/", json.dumps(body),
                       content_type="application/json")


def _verbs(tenant, asset):
    with scope(tenant=tenant.pk):
        return list(ActivityEvent.objects.filter(tenant=tenant, asset=asset).order_by("id").values_list("verb", flat=True))


# --- manage ---------------------------------------------------------------------------------------


def test_manager_uploads_and_sees_the_package_and_attempts(client, login, tenant_a, manager_a, training_a):
    login(manager_a)
    url = f"/t/{tenant_a.slug}/manage/assets/{training_a.pk}/package/"
    response = client.post(url, {"file": upload(samples.scorm12_package())}, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "SCORM 1.2" in page and "sco/index.html" in page and "sco/style.css" in page


def test_refused_zip_shows_a_clear_message_on_the_form(client, login, tenant_a, manager_a, training_a):
    login(manager_a)
    client.cookies["django_language"] = "ja"
    url = f"/t/{tenant_a.slug}/manage/assets/{training_a.pk}/package/"
    response = client.post(url, {"file": upload(samples._zip({"index.html": "x"}))}, HTTP_ACCEPT_LANGUAGE="ja")
    assert response.status_code == 200
    assert "imsmanifest.xml" in response.content.decode()
    with scope(tenant=tenant_a.pk):
        assert not Package.objects.exists()


def test_partner_users_and_other_tenants_cannot_manage_packages(client, login, tenant_a, partner_user_a, manager_b, training_a):
    url = f"/t/{tenant_a.slug}/manage/assets/{training_a.pk}/package/"
    login(partner_user_a)
    assert client.post(url, {"file": upload(samples.scorm12_package())}).status_code == 403
    login(manager_b)
    assert client.get(url).status_code == 404
    assert client.get(f"/t/{tenant_a.slug}/manage/assets/{training_a.pk}/package/").status_code == 404


# --- content ---------------------------------------------------------------------------------------


def test_content_is_sandboxed_typed_and_carries_the_runtime(client, login, tenant_a, partner_user_a, training_a):
    _package(tenant_a, training_a)
    login(partner_user_a)
    assert client.get(f"/t/{tenant_a.slug}/portal/trainings/{training_a.pk}/").status_code == 302
    context = _launch(client, tenant_a, training_a)
    src = context["src"]
    assert src.startswith("/packages/c/") and src.endswith("/index.html")
    anonymous = Client()  # the content's own requests carry no portal cookie
    html = anonymous.get(src)
    assert html.status_code == 200 and html["Content-Type"].startswith("text/html")
    csp = html["Content-Security-Policy"]
    assert "sandbox allow-scripts" in csp and "allow-same-origin" not in csp
    assert "frame-ancestors 'self'" in csp
    assert html["X-Content-Type-Options"] == "nosniff" and "X-Frame-Options" not in html
    assert html["Referrer-Policy"] == "no-referrer"
    body = html.content.decode()
    assert body.index("scorm2004.min.js") < body.index("<title>")  # before the content's own scripts
    assert "package-bridge.js" in body and '"standard": "scorm2004"' in body
    css = anonymous.get(src.replace("index.html", "style.css"))
    assert css.status_code == 200 and css["Content-Type"].startswith("text/css")
    assert "sandbox" in css["Content-Security-Policy"]
    page = client.get(f"/t/{tenant_a.slug}/portal/packages/{training_a.pk}/").content.decode()
    assert 'sandbox="allow-scripts allow-forms' in page and "allow-same-origin" not in page


@pytest.mark.parametrize("path", ["imsmanifest.xml/../index.html", "../index.html", "nothing.html", "INDEX.html", "sub/"])
def test_only_listed_files_are_served(client, login, tenant_a, partner_user_a, training_a, path):
    _package(tenant_a, training_a)
    login(partner_user_a)
    src = _launch(client, tenant_a, training_a)["src"]
    token_path = src.rsplit("/", 1)[0]
    assert Client().get(f"{token_path}/{path}").status_code == 404


def test_token_expires_and_is_bound_to_user_package_and_tenant(client, login, tenant_a, tenant_b, partner_user_a,
                                                                 partner_user_b, training_a, training_b, settings):
    _package(tenant_a, training_a)
    _package(tenant_b, training_b)
    login(partner_user_a)
    src_a = _launch(client, tenant_a, training_a)["src"]
    other = Client()
    other.force_login(partner_user_b.user)
    src_b = _launch(other, tenant_b, training_b)["src"]
    assert Client().get(src_a).status_code == 200
    # Expired
    with mock.patch("time.time", return_value=time.time() + settings.PACKAGE_TOKEN_MAX_AGE + 60):
        assert Client().get(src_a).status_code == 404
    # Tampered
    token_a = src_a.split("/")[3]
    assert Client().get(src_a.replace(token_a, token_a[:-2] + "xx")).status_code == 404
    # A correctly signed token naming tenant B's attempt under tenant A, or A's attempt for B's user: nothing.
    with scope(tenant=tenant_a.pk):
        attempt_a = Attempt.objects.get(tenant=tenant_a)
    with scope(tenant=tenant_b.pk):
        attempt_b = Attempt.objects.get(tenant=tenant_b)
    for claims in (
        {"t": tenant_a.pk, "u": attempt_b.user_id, "p": attempt_b.package_id, "a": attempt_b.pk},
        {"t": tenant_b.pk, "u": attempt_a.user_id, "p": attempt_a.package_id, "a": attempt_a.pk},
        {"t": tenant_a.pk, "u": attempt_b.user_id, "p": attempt_a.package_id, "a": attempt_a.pk},
    ):
        forged = signing.dumps(claims, salt=CONTENT_SALT, compress=True)
        assert Client().get(f"/packages/c/{forged}/index.html").status_code == 404
    # The token of B's attempt opens B's package only.
    assert Client().get(src_b).status_code == 200
    # A suspended membership closes the content at once.
    with scope(tenant=tenant_a.pk):
        partner_user_a.is_active = False
        partner_user_a.save()
    assert Client().get(src_a).status_code == 404


# --- commits -----------------------------------------------------------------------------------------


def test_scorm2004_commits_resume_and_complete_once(client, login, tenant_a, partner_user_a, training_a, clock):
    _package(tenant_a, training_a)
    login(partner_user_a)
    context = _launch(client, tenant_a, training_a)
    clock.advance(seconds=60)
    r = _commit(client, tenant_a, training_a, context, {"location": "2", "suspend_data": "{\"v\":[1]}",
                                                       "completion_status": "incomplete", "session_time": "PT45S"})
    assert r.status_code == 200 and r.json()["completed"] is False and r.json()["credited"] == 45
    # The next launch restores the bookmark and the suspend data, as a resume.
    context = _launch(client, tenant_a, training_a)
    html = Client().get(context["src"]).content.decode()
    assert '"location": "2"' in html and '"entry": "resume"' in html and "{\\\"v\\\":[1]}" in html
    clock.advance(seconds=30)
    done = {"location": "3", "completion_status": "completed", "success_status": "passed",
            "score": {"raw": "90", "scaled": "0.9"}, "session_time": "PT20S"}
    event_id = str(uuid.uuid4())
    assert _commit(client, tenant_a, training_a, context, done, event_id).json()["completed"] is True
    assert _commit(client, tenant_a, training_a, context, done, event_id).json()["duplicate"] is True
    assert _commit(client, tenant_a, training_a, context, done).status_code == 200
    verbs = _verbs(tenant_a, training_a)
    assert verbs.count(Verb.TRAINING_STARTED) == 1 and verbs.count(Verb.TRAINING_COMPLETED) == 1
    assert verbs.count(Verb.TRAINING_PROGRESSED) == 3
    with scope(tenant=tenant_a.pk):
        attempt = Attempt.objects.get(tenant=tenant_a)
        completed = ActivityEvent.objects.get(tenant=tenant_a, verb=Verb.TRAINING_COMPLETED)
    assert attempt.seconds == 65 and attempt.score_scaled == 0.9 and attempt.location == "3"
    assert completed.extra["success"] == "passed" and completed.seconds == 65


@pytest.mark.parametrize(
    ("data", "cmi", "completed"),
    [
        (samples.scorm12_package, {"core": {"lesson_status": "failed", "score": {"raw": "40"}}}, False),
        (samples.scorm12_package, {"core": {"lesson_status": "incomplete"}}, False),
        (samples.scorm12_package, {"core": {"lesson_status": "passed"}}, True),
        (samples.scorm12_package, {"core": {"lesson_status": "completed"}}, True),
        (samples.scorm2004_package, {"completion_status": "completed", "success_status": "failed"}, False),
        (samples.scorm2004_package, {"completion_status": "incomplete", "success_status": "passed"}, True),
    ],
)
def test_what_completes_a_training(client, login, tenant_a, partner_user_a, training_a, clock, data, cmi, completed):
    _package(tenant_a, training_a, data())
    login(partner_user_a)
    context = _launch(client, tenant_a, training_a)
    assert _commit(client, tenant_a, training_a, context, cmi).json()["completed"] is completed
    assert (Verb.TRAINING_COMPLETED in _verbs(tenant_a, training_a)) is completed


def test_reported_time_is_credited_no_faster_than_the_wall_clock(client, login, tenant_a, partner_user_a, training_a, clock):
    _package(tenant_a, training_a, samples.scorm12_package())
    login(partner_user_a)
    context = _launch(client, tenant_a, training_a)
    clock.advance(seconds=10)
    r = _commit(client, tenant_a, training_a, context, {"core": {"lesson_status": "incomplete", "session_time": "01:00:00"}})
    assert r.json()["credited"] == 10
    clock.advance(seconds=100)
    r = _commit(client, tenant_a, training_a, context, {"core": {"lesson_status": "incomplete", "session_time": "01:00:00"}})
    assert r.json()["credited"] == 100
    with scope(tenant=tenant_a.pk):
        assert Attempt.objects.get(tenant=tenant_a).seconds == 110


def test_commits_need_the_users_attempt_and_play_session(client, login, tenant_a, partner_user_a, training_a, make_member, clock):
    _package(tenant_a, training_a)
    login(partner_user_a)
    context = _launch(client, tenant_a, training_a)
    colleague = make_member(tenant_a, "partner_user", partner=partner_user_a.partner)
    other = Client()
    other.force_login(colleague.user)
    # Someone else's attempt id, or a forged play session: refused, nothing logged.
    assert _commit(other, tenant_a, training_a, context, {"completion_status": "completed"}).status_code == 400
    forged = dict(context, play_session="x")
    assert _commit(client, tenant_a, training_a, forged, {"completion_status": "completed"}).status_code == 400
    assert _verbs(tenant_a, training_a) == []


def test_other_tenants_cannot_launch_or_commit(client, login, tenant_a, partner_user_a, partner_user_b, training_a, clock):
    _package(tenant_a, training_a)
    login(partner_user_a)
    context = _launch(client, tenant_a, training_a)
    login(partner_user_b)
    assert client.get(f"/t/{tenant_a.slug}/portal/packages/{training_a.pk}/").status_code == 404
    assert _commit(client, tenant_a, training_a, context, {"completion_status": "completed"}).status_code == 404
    assert _verbs(tenant_a, training_a) == []


def test_a_completed_package_counts_in_the_rollup_like_a_video(client, login, tenant_a, partner_user_a, training_a, clock):
    from kpis.models import PartnerAssetState
    from kpis.rollup import rollup_tenant

    _package(tenant_a, training_a)
    login(partner_user_a)
    context = _launch(client, tenant_a, training_a)
    _commit(client, tenant_a, training_a, context, {"completion_status": "completed", "success_status": "passed"})
    with scope(tenant=tenant_a.pk):
        rollup_tenant(tenant_a)
        state = PartnerAssetState.objects.get(tenant=tenant_a, asset=training_a, partner=partner_user_a.partner)
    assert state.completed_users == 1 and state.first_completed_at is not None


def test_a_training_without_package_keeps_the_video_player(client, login, tenant_a, partner_user_a):
    with scope(tenant=tenant_a.pk):
        video = f.AssetFactory(tenant=tenant_a, kind=AssetKind.TRAINING, title="Video")
    login(partner_user_a)
    assert client.get(f"/t/{tenant_a.slug}/portal/trainings/{video.pk}/").status_code == 200
    assert client.get(f"/t/{tenant_a.slug}/portal/packages/{video.pk}/").status_code == 404


def test_manage_page_queries_do_not_grow_with_attempts(client, login, tenant_a, manager_a, training_a, make_member):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    package = _package(tenant_a, training_a)
    login(manager_a)
    url = f"/t/{tenant_a.slug}/manage/assets/{training_a.pk}/package/"

    def add_attempts(n):
        for _ in range(n):
            member = make_member(tenant_a, "partner_user")
            with scope(tenant=tenant_a.pk):
                Attempt.objects.create(tenant=tenant_a, package=package, user=member.user, partner=member.partner)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    count()  # the first request of a session also writes the session and warms caches
    add_attempts(2)
    few = count()
    add_attempts(10)
    assert count() == few
