"""Writes of the notification centre. Every context calls ``notify`` (or ``notify_many``).

* In-app rows are created idempotently: ``(tenant, recipient, dedupe_key)`` is unique, so a retried
  task or a repeated call never duplicates a notice.
* E-mail is enqueued on commit (``tasks.notification_emails_send``), which claims each row
  before sending, so each ``(recipient, dedupe_key)`` is mailed at most once.
* Titles and bodies are rendered in the recipient's language (``User.language`` or the tenant's
  default) with ``translation.override``: pass lazy strings and ``params``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core import signing
from django.db import transaction
from django.utils import timezone, translation

from partners.models import Tenant, User
from partners.notifications.models import (
    EmailState,
    Notification,
    NotificationKind,
    NotificationPreference,
    Webhook,
    WebhookDelivery,
    WebhookFormat,
)

UNSUBSCRIBE_SALT = "shien.notifications.unsubscribe"


@dataclass(frozen=True)
class Notice:
    """One event to tell some people about."""

    recipients: Iterable[int | User]
    kind: str
    title: Any  # a (lazy) string; formatted with ``params`` in the recipient's language
    dedupe_key: str
    body: Any = ""
    url: str = ""
    params: dict[str, Any] = field(default_factory=dict)


def _render(text: Any, params: dict[str, Any], language: str) -> str:
    with translation.override(language):
        rendered = str(text)
        return rendered % params if params else rendered


def notify(
    *,
    tenant: Tenant,
    recipients: Iterable[int | User],
    kind: str,
    title: Any,
    dedupe_key: str,
    body: Any = "",
    url: str = "",
    params: dict[str, Any] | None = None,
) -> list[int]:
    """Notify some people of one event. Returns the ids of the notifications that exist for it."""
    return notify_many(
        tenant=tenant,
        notices=[Notice(recipients=recipients, kind=kind, title=title, body=body, url=url,
                        dedupe_key=dedupe_key, params=params or {})],
    )


@transaction.atomic
def notify_many(*, tenant: Tenant, notices: list[Notice]) -> list[int]:
    """Notify several events at once with a fixed number of queries (set-based fan-outs)."""
    wanted: dict[tuple[int, str], Notice] = {}
    for notice in notices:
        if notice.kind not in NotificationKind.values:
            raise ValueError(f"Unknown notification kind {notice.kind!r}")
        for recipient in notice.recipients:
            user_id = recipient if isinstance(recipient, int) else recipient.pk
            wanted.setdefault((user_id, notice.dedupe_key), notice)
    _webhooks_enqueue(tenant=tenant, notices=notices)
    if not wanted:
        return []
    user_ids = {user_id for user_id, _key in wanted}
    users = {
        u["pk"]: u
        for u in User.objects.filter(pk__in=user_ids, is_active=True).values("pk", "language", "email")
    }
    prefs = {
        (p.user_id, p.kind): p
        for p in NotificationPreference.objects.filter(tenant=tenant, user_id__in=user_ids)
    }
    rows = []
    for (user_id, key), notice in wanted.items():
        user = users.get(user_id)
        if user is None:
            continue
        pref = prefs.get((user_id, notice.kind))
        in_app = pref.in_app if pref else True
        email = (pref.email if pref else True) and bool(user["email"])
        if not (in_app or email):
            continue
        language = user["language"] or tenant.default_language
        rows.append(
            Notification(
                tenant=tenant, recipient_id=user_id, kind=notice.kind, dedupe_key=key[:200],
                title=_render(notice.title, notice.params, language)[:300],
                body=_render(notice.body, notice.params, language) if notice.body else "",
                url=notice.url, in_app=in_app,
                email_state=EmailState.PENDING if email else EmailState.SKIPPED,
            )
        )
    if not rows:
        return []
    Notification.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    keys = {r.dedupe_key for r in rows}
    existing = list(
        Notification.objects.filter(
            tenant=tenant, recipient_id__in={r.recipient_id for r in rows}, dedupe_key__in=keys
        ).values_list("pk", "recipient_id", "dedupe_key", "email_state")
    )
    pairs = {(r.recipient_id, r.dedupe_key) for r in rows}
    ids = [pk for pk, uid, key, _state in existing if (uid, key) in pairs]
    pending = [pk for pk, uid, key, state in existing if (uid, key) in pairs and state == EmailState.PENDING]
    if pending:
        tenant_id = tenant.pk

        def enqueue() -> None:
            from partners.notifications.tasks import notification_emails_send

            notification_emails_send.delay(tenant_id, pending)

        transaction.on_commit(enqueue, robust=True)  # a mail or endpoint failure never fails the caller
    return ids


@transaction.atomic
def notification_mark_read(*, tenant: Tenant, user: User, notification_id: int | None = None) -> int:
    """Mark one of the user's notifications read, or all of them (``notification_id=None``)."""
    qs = Notification.objects.filter(tenant=tenant, recipient=user, read_at__isnull=True)
    if notification_id is not None:
        qs = qs.filter(pk=notification_id)
    return qs.update(read_at=timezone.now())


@transaction.atomic
def notification_preferences_set(
    *, tenant: Tenant, user: User, choices: dict[str, tuple[bool, bool]]
) -> None:
    """``choices``: kind → (in_app, email)."""
    for kind, (in_app, email) in choices.items():
        if kind not in NotificationKind.values:
            raise ValueError(f"Unknown notification kind {kind!r}")
        NotificationPreference.objects.update_or_create(
            tenant=tenant, user=user, kind=kind, defaults={"in_app": in_app, "email": email}
        )


# --- One-click unsubscribe ----------------------------------------------------------------------


def unsubscribe_token(*, tenant_id: int, user_id: int, kind: str) -> str:
    """A signed, login-free token that turns off e-mail of one kind for one person in one tenant."""
    return signing.dumps({"t": tenant_id, "u": user_id, "k": kind}, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_token_read(token: str) -> tuple[int, int, str] | None:
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
        tenant_id, user_id, kind = int(data["t"]), int(data["u"]), str(data["k"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    if kind not in NotificationKind.values:
        return None
    return tenant_id, user_id, kind


@transaction.atomic
def notification_unsubscribe(*, tenant: Tenant, user_id: int, kind: str) -> NotificationPreference:
    pref, _created = NotificationPreference.objects.get_or_create(tenant=tenant, user_id=user_id, kind=kind)
    if pref.email:
        pref.email = False
        pref.save(update_fields=["email"])
    return pref


# --- Outgoing webhooks --------------------------------------------------------------------------

# Events, not per-person digests: each of these dedupe keys names one event.
WEBHOOK_KINDS = frozenset({
    NotificationKind.ASSIGNMENT_NEW, NotificationKind.ASSIGNMENT_OVERDUE,
    NotificationKind.DEAL_DECISION, NotificationKind.DEAL_EXPIRING, NotificationKind.FAQ_ANSWERED,
})


def absolute_url(url: str) -> str:
    from django.conf import settings

    if not url or url.startswith(("http://", "https://")):
        return url
    return settings.SITE_URL.rstrip("/") + url


def webhook_payload(*, tenant: Tenant, fmt: str, kind: str, title: str, body: str, url: str, key: str) -> dict:
    """The body POSTed for one event: a plain JSON event, a Slack message (``text``, mrkdwn) or a
    Microsoft Teams message card."""
    link = absolute_url(url)
    if fmt == WebhookFormat.SLACK:
        text = f"*{title}*" + (f"\n{body}" if body else "") + (f"\n<{link}|{link}>" if link else "")
        return {"text": text}
    if fmt == WebhookFormat.TEAMS:
        card = {"@type": "MessageCard", "@context": "https://schema.org/extensions", "summary": title,
                "themeColor": "1F5F8B", "title": title, "text": body or title}
        if link:
            card["potentialAction"] = [{"@type": "OpenUri", "name": "Shien", "targets": [{"os": "default", "uri": link}]}]
        return card
    return {"event": kind, "tenant": tenant.slug, "id": key, "title": title, "body": body, "url": link,
            "occurred_at": timezone.now().isoformat()}


def _webhooks_enqueue(*, tenant: Tenant, notices: list[Notice]) -> None:
    events = [n for n in notices if n.kind in WEBHOOK_KINDS]
    if not events:
        return
    hooks = list(Webhook.objects.filter(tenant=tenant, is_active=True))
    rows = []
    for hook in hooks:
        for notice in events:
            if not hook.wants(notice.kind):
                continue
            title = _render(notice.title, notice.params, tenant.default_language)
            body = _render(notice.body, notice.params, tenant.default_language) if notice.body else ""
            rows.append(WebhookDelivery(
                tenant=tenant, webhook=hook, dedupe_key=notice.dedupe_key[:200], kind=notice.kind,
                payload=webhook_payload(tenant=tenant, fmt=hook.format, kind=notice.kind, title=title, body=body,
                                        url=notice.url, key=notice.dedupe_key),
            ))
    if not rows:
        return
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    pending = list(
        WebhookDelivery.objects.filter(
            tenant=tenant, webhook__in=hooks, dedupe_key__in={r.dedupe_key for r in rows}, state=EmailState.PENDING
        ).values_list("pk", flat=True)
    )
    if pending:
        tenant_id = tenant.pk

        def enqueue() -> None:
            from partners.notifications.tasks import webhook_deliveries_send

            for pk in pending:  # one task each: a failing endpoint retries alone
                webhook_deliveries_send.delay(tenant_id, pk)

        transaction.on_commit(enqueue, robust=True)  # a mail or endpoint failure never fails the caller
