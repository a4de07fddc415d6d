"""Outgoing webhooks: each event POSTed once per webhook, signed (HMAC-SHA256 of the body),
retried with backoff when the endpoint fails; Slack and Teams payload shapes."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_scopes import scope

from enablement.models import AssetStatus
from enablement.services.catalog import assignment_create
from partners.deals.models import DealStage
from partners.deals.services import deal_transition
from partners.notifications.models import Webhook, WebhookDelivery
from partners.notifications.tasks import WebhookSendError, webhook_deliveries_send
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _loopback_endpoint(settings):
    """The recording endpoint below listens on 127.0.0.1: allowed only by this setting (off by default)."""
    settings.WEBHOOK_ALLOW_LOOPBACK = True


@pytest.fixture
def endpoint():
    """A real HTTP endpoint on localhost recording what it receives; ``fail`` answers 500."""
    received: list[dict] = []
    state = {"fail": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if state["fail"] > 0:
                state["fail"] -= 1
                self.send_response(500)
                self.end_headers()
                return
            received.append({"headers": dict(self.headers), "body": body})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{server.server_port}/hook", "received": received, "state": state}
    server.shutdown()


def _assign(tenant, partner, capture):
    with scope(tenant=tenant.pk), capture(execute=True):
        asset = f.AssetFactory(tenant=tenant, title="Security basics", status=AssetStatus.PUBLISHED)
        return assignment_create(tenant=tenant, actor=None, target="partner", partner=partner, asset=asset,
                                 due_on=timezone.localdate() + dt.timedelta(days=7))


def test_signed_json_once_per_event(tenant_a, partner_user_a, endpoint, django_capture_on_commit_callbacks):
    with scope(tenant=tenant_a.pk):
        Webhook.objects.create(tenant=tenant_a, name="crm", url=endpoint["url"], secret="s3cret")
    assignment = _assign(tenant_a, partner_user_a.partner, django_capture_on_commit_callbacks)
    assert len(endpoint["received"]) == 1
    hit = endpoint["received"][0]
    expected = "sha256=" + hmac.new(b"s3cret", hit["body"], hashlib.sha256).hexdigest()
    assert hit["headers"]["X-Shien-Signature"] == expected
    payload = json.loads(hit["body"])
    assert payload["event"] == "assignment.new" and payload["id"] == f"assignment.new:{assignment.pk}"
    assert payload["title"] == "新しい割り当て：Security basics"  # the tenant's language
    assert payload["url"].startswith("http")
    with scope(tenant=tenant_a.pk):
        delivery = WebhookDelivery.objects.get()
    assert webhook_deliveries_send(tenant_a.pk, delivery.pk) is False  # a retried task posts nothing
    assert len(endpoint["received"]) == 1


def test_failing_endpoint_is_retried_then_delivered_once(tenant_a, partner_user_a, endpoint,
                                                         django_capture_on_commit_callbacks):
    with scope(tenant=tenant_a.pk):
        Webhook.objects.create(tenant=tenant_a, name="crm", url=endpoint["url"], secret="s")
    endpoint["state"]["fail"] = 2
    _assign(tenant_a, partner_user_a.partner, django_capture_on_commit_callbacks)  # fails: retry scheduled
    with scope(tenant=tenant_a.pk):
        delivery = WebhookDelivery.objects.get()
    assert delivery.state == "pending" and delivery.attempts == 1 and "500" in delivery.last_error
    with pytest.raises(WebhookSendError):  # what Celery's retry runs again (with exponential backoff)
        webhook_deliveries_send(tenant_a.pk, delivery.pk)
    assert webhook_deliveries_send(tenant_a.pk, delivery.pk) is True  # the third attempt gets through
    assert webhook_deliveries_send(tenant_a.pk, delivery.pk) is False  # and a duplicate posts nothing
    with scope(tenant=tenant_a.pk):
        delivery.refresh_from_db()
    assert delivery.state == "sent" and delivery.attempts == 3
    assert len(endpoint["received"]) == 1
    assert webhook_deliveries_send.retry_backoff == 10 and webhook_deliveries_send.max_retries == 8
    assert WebhookSendError in webhook_deliveries_send.autoretry_for


def test_slack_and_teams_shapes_and_kind_filter(tenant_a, partner_user_a, manager_a, endpoint,
                                                django_capture_on_commit_callbacks):
    with scope(tenant=tenant_a.pk):
        Webhook.objects.create(tenant=tenant_a, name="slack", url=endpoint["url"] + "/slack", secret="a",
                               format="slack", kinds=["deal.decision"])
        Webhook.objects.create(tenant=tenant_a, name="teams", url=endpoint["url"] + "/teams", secret="b",
                               format="teams", kinds=["deal.decision"])
    _assign(tenant_a, partner_user_a.partner, django_capture_on_commit_callbacks)  # not a subscribed kind
    assert endpoint["received"] == []
    with scope(tenant=tenant_a.pk), django_capture_on_commit_callbacks(execute=True):
        deal = f.DealFactory(tenant=tenant_a, partner=partner_user_a.partner, registered_by=partner_user_a.user,
                             customer="東都銀行")
        deal_transition(tenant=tenant_a, deal=deal, stage=DealStage.APPROVED, actor=manager_a.user)
    bodies = sorted((json.loads(r["body"]) for r in endpoint["received"]), key=lambda b: "@type" not in b)
    teams, slack = bodies
    assert slack["text"].startswith("*案件が承認されました：東都銀行*")
    assert teams["@type"] == "MessageCard" and teams["title"] == "案件が承認されました：東都銀行"
    assert teams["potentialAction"][0]["targets"][0]["uri"].startswith("http")


def test_webhooks_of_another_tenant_are_not_called(tenant_a, tenant_b, partner_user_a, endpoint,
                                                   django_capture_on_commit_callbacks):
    with scope(tenant=tenant_b.pk):
        Webhook.objects.create(tenant=tenant_b, name="crm", url=endpoint["url"], secret="x")
    _assign(tenant_a, partner_user_a.partner, django_capture_on_commit_callbacks)
    assert endpoint["received"] == []


def test_delivery_to_an_inward_address_is_refused_and_recorded(tenant_a, endpoint, settings):
    """A tenant admin cannot make the server call this network: with loopback not allowed (the
    default), the delivery to the live local endpoint fails before connecting, and is recorded."""
    settings.WEBHOOK_ALLOW_LOOPBACK = False
    with scope(tenant=tenant_a.pk):
        hook = Webhook.objects.create(tenant=tenant_a, name="crm", url=endpoint["url"], secret="s")
        delivery = WebhookDelivery.objects.create(tenant=tenant_a, webhook=hook, dedupe_key="k:1",
                                                  kind="assignment.new", payload={"x": 1})
    with pytest.raises(WebhookSendError):
        webhook_deliveries_send(tenant_a.pk, delivery.pk)
    assert endpoint["received"] == []
    with scope(tenant=tenant_a.pk):
        delivery.refresh_from_db()
    assert delivery.state == "pending" and delivery.attempts == 1 and "127.0.0.1" in delivery.last_error


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/",  # a cloud metadata service
    "http://10.0.0.5:5432/", "https://192.168.1.10/hook", "http://[::1]:6379/", "http://[::ffff:127.0.0.1]/",
    "http://localhost:8000/hook", "http://0.0.0.0/", "http://100.64.0.1/",
])
def test_an_inward_url_is_refused_when_saved(tenant_a, settings, url):
    settings.WEBHOOK_ALLOW_LOOPBACK = False
    hook = Webhook(tenant=tenant_a, name="x", url=url, secret="s")
    with scope(tenant=tenant_a.pk), pytest.raises(ValidationError) as caught:
        hook.full_clean()
    assert "url" in caught.value.message_dict


def test_a_public_url_is_accepted_when_saved(tenant_a, settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = False
    with scope(tenant=tenant_a.pk):
        Webhook(tenant=tenant_a, name="x", url="https://hooks.example.test/services/T1", secret="s").full_clean()


def test_a_redirect_is_not_followed(tenant_a, settings):
    """A public endpoint answering 302 towards this network gets a failed delivery, not a second request."""
    hits = []

    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(302)
            self.send_header("Location", "/internal")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with scope(tenant=tenant_a.pk):
            hook = Webhook.objects.create(tenant=tenant_a, name="crm", secret="s",
                                          url=f"http://127.0.0.1:{server.server_port}/hook")
            delivery = WebhookDelivery.objects.create(tenant=tenant_a, webhook=hook, dedupe_key="k:2",
                                                      kind="assignment.new", payload={})
        with pytest.raises(WebhookSendError, match="HTTP 302"):
            webhook_deliveries_send(tenant_a.pk, delivery.pk)
    finally:
        server.shutdown()
    assert hits == ["/hook"]
