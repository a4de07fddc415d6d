"""What enablement tells people (through ``partners.notifications``): new and overdue
assignments, and answers to a partner's question once its FAQ is published.

Each function is set-based (a fixed number of queries whatever the fan-out) and idempotent: the
dedupe keys name the event, so calling again (a retried task, the next daily run) adds nothing."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import Count
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from enablement.completion import completion_q, pair_done
from enablement.models import ActivityEvent, Assignment, AssignmentTarget, FaqQuestion
from enablement.pairs import assignment_pairs
from partners.models import Membership, Partner, Role, Tenant
from partners.notifications.models import NotificationKind
from partners.notifications.services import Notice, notify_many


def _partner_users(*, tenant: Tenant, partner_ids) -> dict[int, list[int]]:
    users: dict[int, list[int]] = defaultdict(list)
    rows = Membership.objects.filter(
        tenant=tenant, role=Role.PARTNER_USER, is_active=True, partner_id__in=partner_ids
    ).values_list("partner_id", "user_id")
    for partner_id, user_id in rows:
        users[partner_id].append(user_id)
    return users


def _what(assignment: Assignment) -> str:
    return (assignment.asset or assignment.learning_path).title


def _url(tenant: Tenant, assignment: Assignment) -> str:
    if assignment.asset_id:
        return reverse("portal-asset", kwargs={"tenant_slug": tenant.slug, "asset_id": assignment.asset_id})
    return reverse("portal-home", kwargs={"tenant_slug": tenant.slug})


def assignments_notify(*, tenant: Tenant, assignment_ids: list[int]) -> list[int]:
    """Tell the users of every partner an assignment reaches (directly, by tier or segment)."""
    assignments = list(
        Assignment.objects.filter(tenant=tenant, pk__in=assignment_ids, is_active=True).select_related(
            "asset", "learning_path"
        )
    )
    if not assignments:
        return []
    partner_ids = {a.partner_id for a in assignments if a.target == AssignmentTarget.PARTNER}
    tiers = {a.tier_id for a in assignments if a.target == AssignmentTarget.TIER}
    segments = {a.segment for a in assignments if a.target == AssignmentTarget.SEGMENT}
    by_tier: dict[int, set[int]] = defaultdict(set)
    by_segment: dict[str, set[int]] = defaultdict(set)
    if tiers or segments:
        for pk, tier_id, segment in Partner.objects.filter(tenant=tenant).values_list("pk", "tier_id", "segment"):
            if tier_id in tiers:
                by_tier[tier_id].add(pk)
            if segment in segments:
                by_segment[segment].add(pk)
    reached = {
        a.pk: (
            {a.partner_id} if a.target == AssignmentTarget.PARTNER
            else by_tier[a.tier_id] if a.target == AssignmentTarget.TIER
            else by_segment[a.segment]
        )
        for a in assignments
    }
    users = _partner_users(tenant=tenant, partner_ids=set().union(partner_ids, *reached.values()))
    notices = [
        Notice(
            recipients=[u for p in reached[a.pk] for u in users.get(p, [])],
            kind=NotificationKind.ASSIGNMENT_NEW,
            title=_("New assignment: %(title)s"),
            body=_("Please complete it by %(due)s."),
            params={"title": _what(a), "due": a.due_on.isoformat()},
            url=_url(tenant, a),
            dedupe_key=f"assignment.new:{a.pk}",
        )
        for a in assignments
    ]
    return notify_many(tenant=tenant, notices=notices)


def overdue_assignments_notify(*, tenant: Tenant, today: dt.date | None = None) -> list[int]:
    """One notice per partner user per overdue assignment (due before today, not completed by
    enough of the partner's users). Four queries whatever the number of assignments."""
    today = today or timezone.localdate(timezone=tenant.zoneinfo)
    pairs = [p for p in assignment_pairs(tenant=tenant) if p.due_on < today]
    if not pairs:
        return []
    done = {  # per pair: distinct users who completed it, and whether any completion event exists
        (r["partner_id"], r["asset_id"]): (r["users"], r["events"] > 0)
        for r in ActivityEvent.objects.filter(
            completion_q(), tenant=tenant, partner_id__in={p.partner_id for p in pairs},
            asset_id__in={p.asset_id for p in pairs},
        ).values("partner_id", "asset_id").annotate(users=Count("user_id", distinct=True), events=Count("id"))
    }
    overdue = set()
    for p in pairs:
        users, any_event = done.get((p.partner_id, p.asset_id), (0, False))
        if not pair_done(users=users, any_event=any_event, required=p.required_completions):
            overdue.add((p.assignment_id, p.partner_id))
    if not overdue:
        return []
    assignments = Assignment.objects.filter(
        tenant=tenant, pk__in={a for a, _p in overdue}
    ).select_related("asset", "learning_path").in_bulk()
    users = _partner_users(tenant=tenant, partner_ids={p for _a, p in overdue})
    notices = []
    for assignment_id, partner_id in sorted(overdue):
        a = assignments[assignment_id]
        notices.append(
            Notice(
                recipients=users.get(partner_id, []),
                kind=NotificationKind.ASSIGNMENT_OVERDUE,
                title=_("Overdue: %(title)s"),
                body=_("This was due on %(due)s and is not complete yet."),
                params={"title": _what(a), "due": a.due_on.isoformat()},
                url=_url(tenant, a),
                dedupe_key=f"assignment.overdue:{assignment_id}:{partner_id}",
            )
        )
    return notify_many(tenant=tenant, notices=notices)


def faq_questions_answered_notify(*, tenant: Tenant, question_ids: list[int]) -> list[int]:
    """Tell each asker that the FAQ answering their question is published."""
    questions = FaqQuestion.objects.filter(tenant=tenant, pk__in=question_ids, user__isnull=False).select_related(
        "answer"
    )
    notices = [
        Notice(
            recipients=[q.user_id],
            kind=NotificationKind.FAQ_ANSWERED,
            title=_("Your question was answered: %(title)s"),
            body=_("You asked: %(query)s"),
            params={"title": q.answer.title if q.answer else q.query, "query": q.query},
            url=reverse("portal-faq-detail", kwargs={"tenant_slug": tenant.slug, "asset_id": q.answer_id})
            if q.answer_id else "",
            dedupe_key=f"faq.answered:{q.pk}",
        )
        for q in questions
    ]
    return notify_many(tenant=tenant, notices=notices)
