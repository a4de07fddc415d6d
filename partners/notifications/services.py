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
from partners.notifications.models import EmailState, Notification, NotificationKind, NotificationPreference

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

        transaction.on_commit(enqueue)
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
