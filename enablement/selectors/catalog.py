"""Reads of the enablement app for the partner portal.

Every function takes the tenant (and the acting partner/user) and returns QuerySets or plain
rows with their own ``select_related`` and aggregation. Portal progress is computed from the
activity log for ONE partner with grouped queries (bounded by that partner's events), never
one query per asset; manager dashboards read the kpis rollups instead.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Max, Q, QuerySet, Sum
from django.utils import timezone

from enablement.audiences import asset_audience_q
from enablement.completion import COMPLETION_VERBS, completion_q, pair_done
from enablement.models import (
    ActivityEvent,
    Asset,
    AssetKind,
    AssetStatus,
    DocumentCompletion,
    DocumentVersion,
    EventSource,
    FaqRelatedAsset,
    LearningPath,
    PlaySession,
    Verb,
)
from enablement.pairs import assigned_asset_ids_sql, assignment_pairs, merge_pairs
from enablement.services.reading import ReadingState
from partners.models import Partner, Tenant, User

# --- Targeting ---------------------------------------------------------------------------------


def assigned_asset_ids(*, tenant: Tenant, partner: Partner) -> QuerySet:
    """A subquery of the asset ids assigned to the partner (``enablement.pairs``: directly, through
    its tier or segment, or in a learning path)."""
    return Asset.objects.filter(tenant=tenant, pk__in=assigned_asset_ids_sql(tenant=tenant, partner_id=partner.pk)).values("pk")


def visible_assets(*, tenant: Tenant, partner: Partner) -> QuerySet[Asset]:
    """What a partner user may open, download or log events for: the tenant's published assets
    and the assets assigned to the partner. Everything else is the same 404."""
    return (
        Asset.objects.filter(tenant=tenant)
        .filter(Q(status=AssetStatus.PUBLISHED) | Q(pk__in=assigned_asset_ids(tenant=tenant, partner=partner)))
        .filter(asset_audience_q(partner))
    )


# --- Portal home -------------------------------------------------------------------------------


@dataclass
class AssignmentRow:
    asset: Asset
    due_on: dt.date
    required_completions: int
    path_title: str = ""
    done_users: int = 0
    any_done: bool = False  # a completion event of the partner (with or without a user)
    my_done: bool = False
    my_progress: float = 0.0  # trainings: my watched share; documents read by time: my share of the reading time (percent)
    overdue: bool = False
    extra_paths: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return pair_done(users=self.done_users, any_event=self.any_done, required=self.required_completions)

    @property
    def reads_by_time(self) -> bool:
        return self.asset.kind == AssetKind.DOCUMENT and self.asset.completion_requires == DocumentCompletion.TIME

    @property
    def shows_my_progress(self) -> bool:
        return self.asset.kind == AssetKind.TRAINING or self.reads_by_time

    @property
    def percent(self) -> int:
        """Progress shown on the home page: partner users done / required (trainings: at least my share)."""
        if self.done:
            return 100
        share = min(self.done_users, self.required_completions) / self.required_completions * 100
        if self.shows_my_progress and not self.done:
            share = max(share, min(self.my_progress, 100) / self.required_completions)
        return round(share)


def asset_progress(*, tenant: Tenant, partner: Partner, user: User, asset_ids) -> dict[int, dict]:
    """One grouped query over this partner's events: per asset, the partner users who completed it,
    whether I completed it, and my best watched share (percent)."""
    rows = (
        ActivityEvent.objects.filter(tenant=tenant, partner=partner, asset_id__in=list(asset_ids))
        .values("asset_id")
        .annotate(
            done_users=Count("user", distinct=True, filter=completion_q()),
            any_done=Count("id", filter=completion_q()),
            my_done=Count("id", filter=completion_q() & Q(user=user)),
            my_progress=Max(
                "progress",
                filter=Q(user=user, verb__in=[Verb.TRAINING_PROGRESSED, Verb.TRAINING_COMPLETED]) & ~Q(trusted=False),
            ),
        )
        .order_by()
    )
    return {r["asset_id"]: r for r in rows}


def portal_assignment_rows(*, tenant: Tenant, partner: Partner, user: User) -> list[AssignmentRow]:
    """My partner's assignments expanded to assets (learning paths to their items), one row per
    asset with the earliest due date, with progress; overdue first, then by due date."""
    today = timezone.localdate()
    targeted = assignment_pairs(tenant=tenant, partner_id=partner.pk)
    assets = Asset.objects.in_bulk({p.asset_id for p in targeted})
    titles = dict(
        LearningPath.objects.filter(tenant=tenant, pk__in={p.learning_path_id for p in targeted if p.learning_path_id})
        .values_list("pk", "title")
    )
    rows: dict[int, AssignmentRow] = {}
    for pair in merge_pairs(targeted):
        path_title = titles.get(pair.learning_path_id, "")
        rows[pair.asset_id] = AssignmentRow(
            asset=assets[pair.asset_id],
            due_on=pair.due_on,
            required_completions=pair.required_completions,
            path_title=path_title,
        )
    for pair in targeted:  # the other paths an asset is also part of
        title = titles.get(pair.learning_path_id, "")
        row = rows[pair.asset_id]
        if title and title != row.path_title and title not in row.extra_paths:
            row.extra_paths.append(title)
    progress = asset_progress(tenant=tenant, partner=partner, user=user, asset_ids=rows.keys())
    for asset_id, row in rows.items():
        p = progress.get(asset_id)
        if p:
            row.done_users = p["done_users"]
            row.any_done = bool(p["any_done"])
            row.my_done = bool(p["my_done"])
            row.my_progress = float(p["my_progress"] or 0)
        if row.my_done and row.asset.kind == AssetKind.TRAINING:
            row.my_progress = max(row.my_progress, 100.0)
    _reading_progress(tenant=tenant, user=user, rows=[r for r in rows.values() if r.reads_by_time])
    for row in rows.values():
        row.overdue = row.due_on < today and not row.done
    return sorted(rows.values(), key=lambda r: (not r.overdue, r.done, r.due_on, r.asset.title))


def _reading_progress(*, tenant: Tenant, user: User, rows: list[AssignmentRow]) -> None:
    """My reading time so far on the documents completed by reading time, as a share of their minimum
    (one grouped query over my reading sessions; 99 % at most until ``document.read`` is logged)."""
    if not rows:
        return
    credited = dict(
        PlaySession.objects.filter(tenant=tenant, user=user, asset_id__in=[r.asset.pk for r in rows])
        .values("asset_id").annotate(seconds=Sum("credited_seconds")).values_list("asset_id", "seconds").order_by()
    )
    for row in rows:
        state = ReadingState(credited=float(credited.get(row.asset.pk) or 0),
                             required=row.asset.completion_min_seconds or 0, done=row.my_done)
        row.my_progress = float(state.percent)  # the document page's own rule


def next_steps(rows: list[AssignmentRow], *, limit: int = 3) -> list[AssignmentRow]:
    """What to do next: trainings I started but did not finish, then open assignments by urgency."""
    started = [r for r in rows if not r.my_done and not r.done and 0 < r.my_progress < 100]
    rest = [r for r in rows if not r.my_done and not r.done and r not in started]
    return (started + rest)[:limit]


def recent_materials(*, tenant: Tenant, partner: Partner, limit: int = 6) -> QuerySet[Asset]:
    return (
        Asset.objects.filter(tenant=tenant, status=AssetStatus.PUBLISHED)
        .filter(asset_audience_q(partner))
        .select_related("team")
        .order_by("-published_at", "-created_at")[:limit]
    )


# --- Catalog -----------------------------------------------------------------------------------


def catalog_assets(
    *, tenant: Tenant, partner: Partner, kind: str = "", category: str = "", tag: str = "", q: str = ""
) -> QuerySet[Asset]:
    """Published assets of the tenant for this partner's audience, filtered by kind, category,
    tag and a free-text query."""
    qs = (
        Asset.objects.filter(tenant=tenant, status=AssetStatus.PUBLISHED)
        .filter(asset_audience_q(partner))
        .select_related("team")
    )
    if kind in AssetKind.values:
        qs = qs.filter(kind=kind)
    if category:
        qs = qs.filter(category=category)
    if tag:
        normalised = Asset.normalise_tags([tag])
        if normalised:
            qs = qs.filter(tags__contains=normalised)
    if q:
        for term in q.split()[:5]:
            qs = qs.filter(Q(title__icontains=term) | Q(description__icontains=term) | Q(tags__icontains=term))
    return qs.order_by("-published_at", "-created_at", "-id")


def catalog_facets(*, tenant: Tenant, partner: Partner) -> dict[str, list[str]]:
    """Categories and tags of the published assets this partner may see (two small queries)."""
    published = Asset.objects.filter(tenant=tenant, status=AssetStatus.PUBLISHED).filter(asset_audience_q(partner))
    categories = sorted(
        c for c in published.exclude(category="").values_list("category", flat=True).distinct().order_by() if c
    )
    tags: set[str] = set()
    for value in published.exclude(tags="").values_list("tags", flat=True).distinct().order_by():
        tags.update(t for t in value.split(",") if t)
    return {"categories": categories, "tags": sorted(tags)}


# --- Detail pages ------------------------------------------------------------------------------


@dataclass
class TrainingState:
    segments: list[list[float]]
    position: float
    share: float  # 0..1
    completed: bool


def training_state(*, tenant: Tenant, user: User, asset: Asset) -> TrainingState:
    """My state on one training: the latest merged segments and position, and completion (2 queries)."""
    last = (
        ActivityEvent.objects.filter(
            tenant=tenant,
            user=user,
            asset=asset,
            verb__in=[Verb.TRAINING_STARTED, Verb.TRAINING_PROGRESSED, Verb.TRAINING_COMPLETED],
            source=EventSource.PORTAL,  # the player's credited union; external systems never feed it
        )
        .exclude(played_segments__isnull=True)
        .order_by("-received_at", "-id")
        .values("played_segments", "position", "progress")
        .first()
    )
    completed = (
        ActivityEvent.objects.filter(tenant=tenant, user=user, asset=asset, verb__in=COMPLETION_VERBS[AssetKind.TRAINING])
        .exclude(trusted=False)  # an untrusted source's completion is shown nowhere as done
        .exists()
    )
    if not last:
        return TrainingState(segments=[], position=0.0, share=0.0, completed=completed)
    return TrainingState(
        segments=last["played_segments"] or [],
        position=float(last["position"] or 0),
        share=float(last["progress"] or 0) / 100,
        completed=completed,
    )


def asset_has_activity(*, tenant: Tenant, asset: Asset) -> bool:
    """Does the log hold any event on this asset? (Then a document's completion rule is fixed.)"""
    return ActivityEvent.objects.filter(tenant=tenant, asset=asset).exists()


def user_completed(*, tenant: Tenant, user: User, asset: Asset) -> bool:
    """Has the user completed this asset, by its rule (``enablement.completion``)? One query."""
    return ActivityEvent.objects.filter(completion_q(), tenant=tenant, user=user, asset=asset).exists()


def latest_version(*, tenant: Tenant, asset: Asset) -> DocumentVersion | None:
    return DocumentVersion.objects.filter(tenant=tenant, asset=asset).order_by("-version").first()


def related_assets(*, tenant: Tenant, partner: Partner, faq: Asset) -> QuerySet[Asset]:
    """Assets linked from an FAQ that this partner may open."""
    ids = FaqRelatedAsset.objects.filter(tenant=tenant, faq=faq).values("asset_id")
    return visible_assets(tenant=tenant, partner=partner).filter(pk__in=ids).order_by("title")
