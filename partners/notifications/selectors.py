"""Reads of the notification centre: one person's notices in one tenant."""

from __future__ import annotations

from django.db.models import QuerySet

from partners.models import Tenant, User
from partners.notifications.models import Notification, NotificationKind, NotificationPreference


def notification_list(*, tenant: Tenant, user: User, unread_only: bool = False) -> QuerySet[Notification]:
    qs = Notification.objects.filter(tenant=tenant, recipient=user, in_app=True)
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return qs.order_by("-created_at", "-id")


def unread_count(*, tenant: Tenant, user: User) -> int:
    return notification_list(tenant=tenant, user=user, unread_only=True).count()


def preference_rows(*, tenant: Tenant, user: User) -> list[dict]:
    """One row per kind: ``kind``, ``label``, ``in_app``, ``email`` (defaults: both on)."""
    saved = {p.kind: p for p in NotificationPreference.objects.filter(tenant=tenant, user=user)}
    rows = []
    for kind, label in NotificationKind.choices:
        pref = saved.get(kind)
        rows.append({"kind": kind, "label": label, "in_app": pref.in_app if pref else True,
                     "email": pref.email if pref else True})
    return rows
