"""The weekly next-best-action mail for partner users (through ``partners.notifications``):
each partner's gap to the success playbook. Idempotent per (user, ISO week)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kpis.notices import iso_week
from kpis.patterns.selectors import current_playbook, next_best_actions
from partners.models import Membership, Partner, Role, Tenant
from partners.notifications.models import NotificationKind
from partners.notifications.services import Notice, notify_many


def next_actions_weekly_notify(*, tenant: Tenant, today: dt.date | None = None) -> list[int]:
    """One notice per partner user per ISO week listing up to three next best actions (none when
    there is no playbook or nothing is left to do). ≤ 5 queries per partner with users."""
    if current_playbook(tenant=tenant) is None:
        return []
    today = today or timezone.localdate(timezone=tenant.zoneinfo)
    week = iso_week(today)
    users: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for partner_id, user_id, language in Membership.objects.filter(
        tenant=tenant, role=Role.PARTNER_USER, is_active=True, user__is_active=True
    ).values_list("partner_id", "user_id", "user__language"):
        users[partner_id][language or tenant.default_language].append(user_id)
    partners = Partner.objects.filter(tenant=tenant, pk__in=list(users)).order_by("pk")
    url = reverse("portal-next-best-action", kwargs={"tenant_slug": tenant.slug})
    notices = []
    for partner in partners:
        for language, user_ids in sorted(users[partner.pk].items()):
            with translation.override(language):
                actions = next_best_actions(tenant=tenant, partner=partner)
                if not actions:
                    continue
                body = "\n".join(f"{a.position}. {a.asset.title} — {a.reason}" for a in actions)
                notices.append(Notice(
                    recipients=user_ids, kind=NotificationKind.NEXT_ACTIONS_WEEKLY,
                    title=_("Your next steps this week (%(week)s)") % {"week": week}, body=body, url=url,
                    dedupe_key=f"nba.weekly:{week}",
                ))
    return notify_many(tenant=tenant, notices=notices)
