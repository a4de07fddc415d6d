"""Celery adapter of the notification centre: mail pending notifications, each at most once.

A row is *claimed* (pending → sending, one conditional UPDATE) before its mail is built and sent,
so a retried or duplicated task never mails the same ``(recipient, dedupe_key)`` twice. A send
that raises puts the row back to pending and the task retries with backoff; a worker lost
mid-send leaves the row in ``sending`` (at most once, never twice).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging

import requests
from celery import shared_task
from django.core.mail import EmailMultiAlternatives
from django.db import OperationalError
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from partners.models import Tenant, User
from partners.notifications.http import webhook_http
from partners.notifications.models import EmailState, Notification, WebhookDelivery
from partners.notifications.services import absolute_url, unsubscribe_token
from partners.tenancy import tenant_task

log = logging.getLogger(__name__)


class MailSendError(Exception):
    """A notification mail could not be handed to the mail server (retried)."""


absolute = absolute_url


@shared_task(
    name="notifications.tasks.notification_emails_send",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError, MailSendError),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=6,
    ignore_result=True,
)
@tenant_task
def notification_emails_send(tenant_id: int, ids: list[int]) -> int:
    """Send the mail of each pending notification among ``ids``. Returns how many were sent."""
    tenant = Tenant.objects.get(pk=tenant_id)
    sent = 0
    failed = False
    for pk in ids:
        claimed = Notification.objects.filter(tenant_id=tenant_id, pk=pk, email_state=EmailState.PENDING).update(
            email_state=EmailState.SENDING
        )
        if not claimed:
            continue  # sent (or being sent) already, or e-mail is off
        note = Notification.objects.get(tenant_id=tenant_id, pk=pk)
        user = User.objects.get(pk=note.recipient_id)
        try:
            _send(tenant=tenant, user=user, note=note)
        except Exception:
            log.exception("notification mail failed", extra={"notification": pk})
            Notification.objects.filter(pk=pk, tenant_id=tenant_id).update(email_state=EmailState.PENDING)
            failed = True
            continue
        Notification.objects.filter(pk=pk, tenant_id=tenant_id).update(
            email_state=EmailState.SENT, emailed_at=timezone.now()
        )
        sent += 1
    if failed:
        raise MailSendError("some notification mails were not sent; retrying")
    return sent


def _send(*, tenant: Tenant, user: User, note: Notification) -> None:
    unsubscribe = absolute(
        reverse("notification-unsubscribe",
                kwargs={"token": unsubscribe_token(tenant_id=tenant.pk, user_id=user.pk, kind=note.kind)})
    )
    language = user.language or tenant.default_language
    with translation.override(language):
        context = {
            "tenant": tenant, "user": user, "note": note, "url": absolute(note.url),
            "unsubscribe_url": unsubscribe, "kind_label": note.get_kind_display(),
        }
        subject = f"[{tenant.name}] {note.title}"
        text = render_to_string("notifications/email.txt", context)
        html = render_to_string("notifications/email.html", context)
    message = EmailMultiAlternatives(
        subject=subject.replace("\n", " ")[:200],
        body=text,
        to=[user.email],
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "X-Shien-Notification": note.dedupe_key,
        },
    )
    message.attach_alternative(html, "text/html")
    message.send()


class WebhookSendError(Exception):
    """The endpoint did not accept the delivery (retried with exponential backoff)."""


def webhook_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@shared_task(
    name="notifications.tasks.webhook_deliveries_send",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError, WebhookSendError),
    retry_backoff=10,
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=8,
    ignore_result=True,
)
@tenant_task
def webhook_deliveries_send(tenant_id: int, delivery_id: int) -> bool:
    """POST one webhook delivery, signed. Claimed first (pending → sending), so a duplicated task
    never posts it twice; a failure puts it back to pending and the task retries with backoff."""
    claimed = WebhookDelivery.objects.filter(
        tenant_id=tenant_id, pk=delivery_id, state=EmailState.PENDING
    ).update(state=EmailState.SENDING)
    if not claimed:
        return False
    delivery = WebhookDelivery.objects.select_related("webhook").get(tenant_id=tenant_id, pk=delivery_id)
    body = json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Shien-Webhook/1",
        "X-Shien-Event": delivery.kind,
        "X-Shien-Delivery": delivery.dedupe_key,
        "X-Shien-Signature": webhook_signature(delivery.webhook.secret, body),
    }
    try:
        # Only to a public address, resolved once and pinned for the connection; no redirects followed.
        response = webhook_http().send_request("POST", delivery.webhook.url, data=body, headers=headers)
        status = response.status_code
        if not 200 <= status < 300:
            raise WebhookSendError(f"HTTP {status}")
    except (requests.RequestException, WebhookSendError) as exc:
        WebhookDelivery.objects.filter(tenant_id=tenant_id, pk=delivery_id).update(
            state=EmailState.PENDING, attempts=delivery.attempts + 1, last_error=str(exc)[:1000]
        )
        raise WebhookSendError(str(exc)) from exc
    WebhookDelivery.objects.filter(tenant_id=tenant_id, pk=delivery_id).update(
        state=EmailState.SENT, attempts=delivery.attempts + 1, delivered_at=timezone.now(), last_error=f"HTTP {status}"
    )
    return True
