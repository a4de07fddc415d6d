"""Writes for success patterns: the suggested playbook, its editing and its one-click assignment."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from enablement.audiences import allowed_pairs
from enablement.models import Asset, Assignment, AssignmentTarget, LearningPath, LearningPathItem
from enablement.notices import assignments_notify
from kpis.patterns.models import PatternItem, PatternItemType, PatternRun
from kpis.patterns.selectors import PLAYBOOK_SOURCE, restore_cohorts
from kpis.scope import ASSIGNMENT_MAX_PARTNERS, record_input_change
from partners.audit import audit_record
from partners.models import CohortOverride, Partner, Tenant, User

PLAYBOOK_MAX_ITEMS = 8


def _playbook_assets(*, tenant: Tenant, run: PatternRun) -> list[int]:
    """Assets of the items with significant positive lift (ci_low > 1), in the top partners' typical order.

    A significant learning path contributes its assets (in the path's order); support-activity
    kinds are advice for the manager and are not part of a learning path."""
    significant = list(
        PatternItem.objects.filter(tenant=tenant, run=run, ci_low__gt=1)
        .exclude(item_type=PatternItemType.SUPPORT_ACTIVITY_KIND)
        .order_by("rank")
    )
    significant.sort(key=lambda i: (i.typical_order if i.typical_order is not None else 1e9, i.rank))
    path_assets: dict[int, list[int]] = {}
    for path_id, asset_id in LearningPathItem.objects.filter(
        tenant=tenant, path_id__in=[i.path_id for i in significant if i.path_id]
    ).order_by("position", "id").values_list("path_id", "asset_id"):
        path_assets.setdefault(path_id, []).append(asset_id)
    ordered: list[int] = []
    for item in significant:
        for asset_id in [item.asset_id] if item.asset_id else path_assets.get(item.path_id, []):
            if asset_id not in ordered:
                ordered.append(asset_id)
    return ordered[:PLAYBOOK_MAX_ITEMS]


@transaction.atomic
def playbook_create_from_run(*, tenant: Tenant, run: PatternRun, actor: User | None) -> LearningPath | None:
    """Create the suggested playbook (LearningPath, is_playbook=True) of a run. Idempotent per run.

    Returns None when the run has no significant asset."""
    if run.tenant_id != tenant.pk:
        raise ValidationError({"run": "Unknown run."})
    run = PatternRun.objects.select_for_update().get(tenant=tenant, pk=run.pk)
    if run.playbook_id:
        return run.playbook
    assets = _playbook_assets(tenant=tenant, run=run)
    if not assets:
        return None
    base = _("Success playbook %(date)s") % {"date": run.window_end.isoformat()}
    title, n = base, 1
    while LearningPath.objects.filter(tenant=tenant, title=title).exists():
        n += 1
        title = f"{base} ({n})"
    path = LearningPath.objects.create(
        tenant=tenant,
        title=title,
        description=_(
            "What top partners did before their first win (%(start)s – %(end)s), in their typical order."
        )
        % {"start": run.window_start.isoformat(), "end": run.window_end.isoformat()},
        is_playbook=True,
        created_by=actor,
    )
    LearningPathItem.objects.bulk_create(
        [LearningPathItem(tenant=tenant, path=path, asset_id=a, position=i) for i, a in enumerate(assets, start=1)]
    )
    run.playbook = path
    run.save(update_fields=["playbook"])
    audit_record(tenant=tenant, actor=actor, action="playbook.created", target=path,
                 after={"title": title, "items": len(assets)})
    return path


def _check_playbook(tenant: Tenant, path: LearningPath) -> None:
    if path.tenant_id != tenant.pk or not path.is_playbook:
        raise ValidationError({"path": "Unknown playbook."})


def _renumber(tenant: Tenant, path: LearningPath, ordered: list[LearningPathItem]) -> None:
    for pos, item in enumerate(ordered, start=1):
        item.position = pos
    LearningPathItem.objects.bulk_update(ordered, ["position"])


@transaction.atomic
def playbook_item_move(*, tenant: Tenant, path: LearningPath, item: LearningPathItem, offset: int, actor: User | None) -> None:
    """Move an item up (offset -1) or down (+1)."""
    _check_playbook(tenant, path)
    items = list(LearningPathItem.objects.select_for_update().filter(tenant=tenant, path=path).order_by("position", "id"))
    idx = next((i for i, it in enumerate(items) if it.pk == item.pk), None)
    if idx is None:
        raise ValidationError({"item": "Unknown item."})
    new = max(0, min(len(items) - 1, idx + offset))
    items.insert(new, items.pop(idx))
    _renumber(tenant, path, items)
    audit_record(tenant=tenant, actor=actor, action="playbook.item_moved", target=path,
                 before={"position": idx + 1}, after={"position": new + 1, "asset": items[new].asset_id})


@transaction.atomic
def playbook_item_remove(*, tenant: Tenant, path: LearningPath, item: LearningPathItem, actor: User | None) -> None:
    _check_playbook(tenant, path)
    deleted, _n = LearningPathItem.objects.filter(tenant=tenant, path=path, pk=item.pk).delete()
    if not deleted:
        raise ValidationError({"item": "Unknown item."})
    audit_record(tenant=tenant, actor=actor, action="playbook.item_removed", target=path,
                 before={"asset": item.asset_id})
    _renumber(tenant, path, list(LearningPathItem.objects.filter(tenant=tenant, path=path).order_by("position", "id")))


@transaction.atomic
def playbook_item_add(*, tenant: Tenant, path: LearningPath, asset: Asset, actor: User | None) -> LearningPathItem:
    _check_playbook(tenant, path)
    if asset.tenant_id != tenant.pk:
        raise ValidationError({"asset": "Unknown asset."})
    existing = LearningPathItem.objects.filter(tenant=tenant, path=path, asset=asset).first()
    if existing:
        return existing
    last = LearningPathItem.objects.filter(tenant=tenant, path=path).aggregate(m=Max("position"))["m"] or 0
    item = LearningPathItem.objects.create(tenant=tenant, path=path, asset=asset, position=last + 1)
    audit_record(tenant=tenant, actor=actor, action="playbook.item_added", target=path, after={"asset": str(asset)})
    return item


@transaction.atomic
def playbook_assign(
    *, tenant: Tenant, path: LearningPath, partners: list[Partner], due_on: dt.date, actor: User | None
) -> int:
    """Assign every playbook item to every given partner (target=partner, source="playbook").

    Idempotent: a (partner, asset) pair that already has an active partner assignment is skipped,
    so assigning twice creates nothing new. Returns the number of assignments created."""
    _check_playbook(tenant, path)
    if due_on < timezone.localdate():
        raise ValidationError({"due_on": _("The due date cannot be in the past.")})
    if any(p.tenant_id != tenant.pk for p in partners):
        raise ValidationError({"partners": "Unknown partner."})
    partners = [p for p in partners if p.cohort_override != CohortOverride.EXCLUDE]
    partner_ids = sorted({p.pk for p in partners})
    asset_ids = list(
        LearningPathItem.objects.filter(tenant=tenant, path=path).order_by("position").values_list("asset_id", flat=True)
    )
    if not partner_ids or not asset_ids:
        return 0
    # Serialise concurrent clicks on the same playbook (row lock on PostgreSQL; SQLite writes are serial).
    LearningPath.objects.select_for_update().filter(tenant=tenant, pk=path.pk).first()
    existing = set(
        Assignment.objects.filter(
            tenant=tenant,
            target=AssignmentTarget.PARTNER,
            partner_id__in=partner_ids,
            asset_id__in=asset_ids,
            is_active=True,
        ).values_list("partner_id", "asset_id")
    )
    allowed = allowed_pairs(tenant=tenant, partners=partners, asset_ids=asset_ids)  # audiences hold here too
    new = [
        Assignment(
            tenant=tenant,
            asset_id=asset_id,
            target=AssignmentTarget.PARTNER,
            partner_id=pid,
            due_on=due_on,
            source=PLAYBOOK_SOURCE,
            created_by=actor,
        )
        for pid in partner_ids
        for asset_id in asset_ids
        if (pid, asset_id) not in existing and (pid, asset_id) in allowed
    ]
    Assignment.objects.bulk_create(new, batch_size=500)
    if new:
        # bulk: no model signal. Everything for the KPI results; the overview's counts move for these
        # partners only (their own new assignments), unless they are many (kpis.scope)
        named = sorted({a.partner_id for a in new})
        record_input_change(tenant.pk, "enablement.assignment",
                            partner_ids=named if len(named) <= ASSIGNMENT_MAX_PARTNERS else None)
    if new:
        audit_record(tenant=tenant, actor=actor, action="playbook.assigned", target=path,
                     after={"partners": len(partner_ids), "assignments": len(new), "due_on": due_on.isoformat()})
    assignments_notify(tenant=tenant, assignment_ids=[a.pk for a in new if a.pk])  # e-mail on commit
    return len(new)


@transaction.atomic
def partner_cohort_override_set(*, tenant: Tenant, partner: Partner, value: str, actor: User | None) -> Partner:
    """Set a partner's cohort override (top / nurture / exclude / automatic)."""
    if partner.tenant_id != tenant.pk:
        raise ValidationError({"partner": "Unknown partner."})
    if value not in CohortOverride.values:
        raise ValidationError({"cohort_override": "Unknown value."})
    before = partner.cohort_override
    Partner.objects.filter(tenant=tenant, pk=partner.pk).update(cohort_override=value)
    partner.cohort_override = value
    if before != value:
        audit_record(tenant=tenant, actor=actor, action="partner.cohort_override_set", target=partner,
                     before={"cohort_override": before}, after={"cohort_override": value})
        restore_cohorts(tenant=tenant)  # the stored rankings apply the override as the live split does
    return partner
