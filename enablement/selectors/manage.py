"""Manage-area reads of the enablement app (asset management, assignments, learning paths).

``assignment_pairs`` expands assignments to ``(partner, asset)`` pairs in one SQL statement;
the KPI code uses it for the enablement completion rate.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from django.db import connection
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
from partners.models import Partner, Tenant


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


class AssignmentPair(NamedTuple):
    partner_id: int
    asset_id: int
    due_on: dt.date
    required_completions: int
    assignment_id: int


def assignment_pairs_sql(*, tenant: Tenant | int, as_of: dt.date | None = None) -> tuple[str, list]:
    """The SQL (and params) behind ``assignment_pairs``, to embed as a sub-query or CTE.

    Columns: partner_id, asset_id, due_on, required_completions, assignment_id.
    """
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    a, i, p = Assignment._meta.db_table, LearningPathItem._meta.db_table, Partner._meta.db_table
    extra_a, extra_p, params_a, params_p = "", "", [], []
    if as_of is not None:
        # Assignments that existed by the end of ``as_of`` for partners who had joined by then.
        cutoff = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
        extra_a, params_a = " AND a.created_at < %s", [cutoff]
        extra_p, params_p = " AND p.joined_on <= %s", [as_of]
    # One row per (assignment, asset): the asset itself, or each item of the learning path.
    # Only table names (from model meta) and fixed fragments are formatted in; values are parameters.
    expanded = (
        f"SELECT a.id AS assignment_id, a.target, a.partner_id, a.tier_id, a.segment, a.due_on, "  # noqa: S608
        f"a.required_completions, COALESCE(a.asset_id, i.asset_id) AS asset_id "
        f"FROM {a} a LEFT JOIN {i} i ON i.path_id = a.learning_path_id AND i.tenant_id = a.tenant_id "
        f"WHERE a.tenant_id = %s AND a.is_active = %s{extra_a}"
    )
    branch = (
        "SELECT p.id AS partner_id, x.asset_id, x.due_on, x.required_completions, x.assignment_id "
        "FROM ({expanded}) x JOIN {p} p ON p.tenant_id = %s AND {cond} "
        "WHERE x.target = %s AND x.asset_id IS NOT NULL{extra_p}"
    )
    parts, params = [], []
    for target, cond in (("partner", "p.id = x.partner_id"), ("tier", "p.tier_id = x.tier_id"),
                         ("segment", "p.segment = x.segment")):
        parts.append(branch.format(expanded=expanded, p=p, cond=cond, extra_p=extra_p))
        params += [tenant_id, True, *params_a, tenant_id, target, *params_p]
    return " UNION ALL ".join(parts), params


def assignment_pairs(*, tenant: Tenant | int, as_of: dt.date | None = None) -> list[AssignmentPair]:
    """Every assigned ``(partner, asset)`` pair of the tenant, expanded in SQL.

    Tier and segment assignments are expanded against the partners' *current* tier and segment,
    so a partner added to a tier later inherits the tier's assignments; learning-path
    assignments yield one row per asset of the path. Only active assignments. A pair assigned
    twice (e.g. directly and through a path) appears once per assignment: group by
    ``(partner_id, asset_id)`` when counting pairs.
    """
    sql, params = assignment_pairs_sql(tenant=tenant, as_of=as_of)
    with connection.cursor() as cursor:
        cursor.execute(sql + " ORDER BY 1, 2, 5", params)
        rows = cursor.fetchall()
    return [
        AssignmentPair(r[0], r[1], r[2] if isinstance(r[2], dt.date) else dt.date.fromisoformat(r[2]), r[3], r[4])
        for r in rows
    ]


def assigned_pairs(*, tenant: Tenant | int, as_of: dt.date | None = None) -> list[AssignmentPair]:
    """One row per assigned ``(partner, asset)``: what the completion rate counts.

    A pair assigned more than once (directly, through the tier or segment, in a path) takes the
    stricter terms — the earliest due date and the highest required completions — as the
    portal home does; ``assignment_id`` is that of the earliest-due assignment.
    """
    pairs: dict[tuple[int, int], AssignmentPair] = {}
    for row in sorted(assignment_pairs(tenant=tenant, as_of=as_of), key=lambda r: (r.due_on, r.assignment_id)):
        key = (row.partner_id, row.asset_id)
        first = pairs.get(key)
        if first is None:
            pairs[key] = row
        elif row.required_completions > first.required_completions:
            pairs[key] = first._replace(required_completions=row.required_completions)
    return list(pairs.values())


# --- FAQ gaps, partner questions, synonyms ----------------------------------------------------------


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
