"""Manage-area reads of the enablement app (asset management, assignments, learning paths).

The expansion of assignments to ``(partner, asset)`` pairs lives in ``enablement.pairs``.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Max, Prefetch, Q, QuerySet

from enablement.models import (
    ActivityEvent,
    Asset,
    AssetStatus,
    Assignment,
    DocumentVersion,
    FaqQuestion,
    FaqQuestionStatus,
    FaqSynonym,
    LearningPath,
    LearningPathItem,
    Verb,
)
from partners.models import Tenant


def asset_list_manage(
    *, tenant: Tenant, kind: str = "", status: str = "", team_id: int | None = None, q: str = ""
) -> QuerySet[Asset]:
    """Assets of the tenant for the manage list, filtered; with team and version count."""
    qs = Asset.objects.filter(tenant=tenant).select_related("team")
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    if team_id:
        qs = qs.filter(team_id=team_id)
    if q:
        q = q.strip()
        qs = qs.filter(
            Q(title__icontains=q) | Q(description__icontains=q) | Q(category__icontains=q)
            | Q(tags__icontains=q.lower()) | Q(external_id__iexact=q)
        )
    return qs.annotate(
        version_count=Count("versions", distinct=True), latest_version=Max("versions__version")
    ).order_by("-updated_at", "-id")


def asset_versions(*, tenant: Tenant, asset: Asset) -> QuerySet[DocumentVersion]:
    return (
        DocumentVersion.objects.filter(tenant=tenant, asset=asset).select_related("uploaded_by").order_by("-version")
    )


def asset_status_counts(*, tenant: Tenant) -> dict[str, int]:
    rows = Asset.objects.filter(tenant=tenant).values("status").annotate(n=Count("id"))
    counts = dict.fromkeys(AssetStatus.values, 0)
    counts.update({r["status"]: r["n"] for r in rows})
    return counts


def assignment_list_manage(*, tenant: Tenant, active: bool | None = True) -> QuerySet[Assignment]:
    qs = Assignment.objects.filter(tenant=tenant).select_related("asset", "learning_path", "partner", "tier")
    if active is not None:
        qs = qs.filter(is_active=active)
    return qs.order_by("due_on", "id")


def learning_path_list_manage(*, tenant: Tenant) -> QuerySet[LearningPath]:
    items = LearningPathItem.objects.filter(tenant=tenant).select_related("asset").order_by("position", "id")
    return (
        LearningPath.objects.filter(tenant=tenant)
        .annotate(
            item_count=Count("items", distinct=True),
            assignment_count=Count("assignments", filter=Q(assignments__is_active=True), distinct=True),
        )
        .prefetch_related(Prefetch("items", queryset=items))
        .order_by("title")
    )


def faq_draft_initial(*, tenant: Tenant, keyword: str = "", question: FaqQuestion | None = None) -> dict:
    """Initial values of a new FAQ written for a content gap (a keyword that found nothing or did
    not help) or for a partner's question: the question as the title, the searches as tags (so the
    same searches find the new FAQ) and what partners asked as a note. One query."""
    keyword = " ".join(keyword.split())[:300]
    queries = [keyword] if keyword else []
    asked = FaqQuestion.objects.filter(tenant=tenant, status=FaqQuestionStatus.OPEN).select_related("partner")
    if question is not None:
        asked = asked.filter(pk=question.pk)
        queries = [question.query] if question.query else []
    elif keyword:
        asked = asked.filter(query__iexact=keyword)
    else:
        asked = asked.none()
    notes = []
    for q in asked.order_by("-created_at")[:10]:
        notes.append(f"{q.partner.name}: {q.message}")
        if q.query and q.query.lower() not in (x.lower() for x in queries):
            queries.append(q.query)
    title = (question.message if question is not None else keyword) or keyword
    return {
        "title": " ".join(title.split())[:300],
        "tags": ", ".join(queries),
        "description": "\n".join(notes)[:2000],
        "language": tenant.default_language,
    }


def faq_synonyms(*, tenant: Tenant) -> QuerySet[FaqSynonym]:
    return FaqSynonym.objects.filter(tenant=tenant).select_related("created_by").order_by("terms", "id")


def faq_missing_comments(
    *, tenant: Tenant, start: dt.date, end: dt.date, partner_q: Q | None = None, limit: int = 20
) -> list[ActivityEvent]:
    """What partners said was missing when an FAQ did not help ("No" + free text, stored with the
    ``faq.feedback`` event), newest first, for tenant-local days ``start``–``end`` (1 query on the
    log, bounded by the (tenant, occurred_at) index)."""
    zone = tenant.zoneinfo
    lo = dt.datetime.combine(start, dt.time.min, tzinfo=zone)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return list(
        ActivityEvent.objects.filter(
            partner_q or Q(),
            tenant=tenant,
            verb=Verb.FAQ_FEEDBACK,
            resolved=False,
            occurred_at__gte=lo,
            occurred_at__lt=hi,
            extra__has_key="missing",
        )
        .select_related("asset", "partner")
        .order_by("-occurred_at", "-id")[:limit]
    )
