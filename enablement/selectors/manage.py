"""Manage-area reads of the enablement app (asset management, assignments, learning paths).

The expansion of assignments to ``(partner, asset)`` pairs lives in ``enablement.pairs``.
"""

from __future__ import annotations

from django.db.models import Count, Max, Prefetch, Q, QuerySet

from enablement.models import (
    Asset,
    AssetKind,
    AssetStatus,
    Assignment,
    DocumentVersion,
    LearningPath,
    LearningPathItem,
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


def training_assets(*, tenant: Tenant) -> QuerySet[Asset]:
    return Asset.objects.filter(tenant=tenant, kind=AssetKind.TRAINING)
