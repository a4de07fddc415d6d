"""Operable deployment: probes, sessions written only when they change, JSON logs with request ids."""

from __future__ import annotations

import json
import logging
from unittest import mock

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.urls import reverse

from prm import health
from prm.logs import JsonFormatter, RequestIdFilter


def test_healthz_answers_for_any_host_and_touches_no_database(client, settings):
    """No django_db mark: a database access would raise."""
    settings.ALLOWED_HOSTS = ["shien.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    r = client.get("/healthz", HTTP_HOST="127.0.0.1:8000")
    assert r.status_code == 200 and r.content == b"ok"


@pytest.mark.django_db
def test_readyz_reports_database_migrations_and_broker(client, settings):
    settings.ALLOWED_HOSTS = ["shien.example.com"]
    r = client.get("/readyz", HTTP_HOST="127.0.0.1:8000")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ready" and body["database"] == "ok" and body["migrations"] == "ok"
    assert body["broker"] in {"eager", "ok", "unreachable"}


@pytest.mark.django_db
def test_readyz_reports_a_down_broker_without_failing(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    r = client.get(reverse("readyz"))
    assert r.status_code == 200 and r.json()["broker"] == "unreachable"


@pytest.mark.django_db
def test_readyz_is_503_when_the_database_is_unreachable_or_migrations_are_missing(client, monkeypatch):
    monkeypatch.setattr(health, "_migrations_ok", False)
    with mock.patch.object(health, "_database", return_value=(False, "OperationalError: down")):
        r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["database"].startswith("OperationalError")
    with mock.patch("django.db.migrations.executor.MigrationExecutor.migration_plan", return_value=[("x", False)]):
        r = client.get("/readyz")
    assert r.status_code == 503 and "not applied" in r.json()["migrations"]


@pytest.mark.django_db
def test_tenant_requests_do_not_rewrite_the_session(manager_a, login):
    client = login(manager_a)
    url = reverse("manage-freshness", kwargs={"tenant_slug": manager_a.tenant.slug})
    assert client.get(url, HTTP_HX_REQUEST="true").status_code == 286  # first visit: the tenant is recorded
    with mock.patch.object(SessionStore, "save", autospec=True) as save:
        for _ in range(3):
            assert client.get(url, HTTP_HX_REQUEST="true").status_code == 286
    assert save.call_count == 0


@pytest.mark.django_db
def test_every_response_carries_a_request_id_and_a_given_one_is_kept(client):
    r = client.get("/accounts/login/")
    assert len(r["X-Request-ID"]) == 32
    assert client.get("/accounts/login/", HTTP_X_REQUEST_ID="lb-123.abc")["X-Request-ID"] == "lb-123.abc"
    assert client.get("/accounts/login/", HTTP_X_REQUEST_ID="bad id\n")["X-Request-ID"] != "bad id\n"


def test_json_log_lines_carry_the_request_id():
    from prm.logs import request_id

    record = logging.LogRecord("kpis", logging.WARNING, __file__, 1, "rolled up %s", ("acme",), None)
    record.tenant = "acme"
    token = request_id.set("abc123")
    try:
        RequestIdFilter().filter(record)
    finally:
        request_id.reset(token)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "rolled up acme" and line["request_id"] == "abc123"
    assert line["level"] == "WARNING" and line["logger"] == "kpis" and line["tenant"] == "acme"


