"""Writes of the catalog: assets, document versions, learning paths and assignments (manage area).

Files are validated by ``enablement.uploads`` (name, size, content) before anything is written and
stored inside the write's transaction; a failing write removes the stored file again."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from enablement import media, uploads
from enablement.assessments.models import Question
from enablement.audiences import assignment_outside_audience
from enablement.models import (
    Asset,
    AssetKind,
    AssetStatus,
    Assignment,
    AssignmentTarget,
    AudienceRule,
    DocumentCompletion,
    DocumentVersion,
    FaqRelatedAsset,
    LearningPath,
    LearningPathItem,
    Team,
    private_upload_to,
)
from enablement.notices import assignments_notify
from enablement.selectors.catalog import asset_has_activity
from enablement.services.faq import faq_questions_answered
from enablement.signals import targeting_changed
from partners.audit import audit_record, summary
from partners.models import Partner, PartnerTier, Tenant, User

ASSET_FIELDS = ("title", "description", "body", "language", "category", "tags", "team", "external_id",
                "video_url", "duration_seconds", "completion_threshold", "completion_requires",
                "completion_min_seconds")
# What completes a document: fixed once it has activity (a new rule would rewrite past completions).
COMPLETION_RULE_FIELDS = ("completion_requires", "completion_min_seconds")


def _same_tenant(tenant: Tenant, *objects) -> None:
    for obj in objects:
        if obj is not None and getattr(obj, "tenant_id", tenant.pk) != tenant.pk:
            raise ValidationError(f"Unknown {type(obj).__name__.lower()}.")


def _set_related(*, tenant: Tenant, faq: Asset, related) -> None:
    related = list(related or [])
    _same_tenant(tenant, *related)
    FaqRelatedAsset.objects.filter(tenant=tenant, faq=faq).delete()
    FaqRelatedAsset.objects.bulk_create(
        [FaqRelatedAsset(tenant=tenant, faq=faq, asset=a) for a in related if a.pk != faq.pk]
    )


# The file-writing services open their own transaction *inside* the stored-file guard (instead of
# the @transaction.atomic decorator), so that a failure at any point, the commit included, also
# removes the stored file.
def asset_create(
    *,
    tenant: Tenant,
    actor: User | None,
    kind: str,
    title: str,
    description: str = "",
    body: str = "",
    language: str | None = None,
    category: str = "",
    tags: str | list[str] = "",
    team: Team | None = None,
    external_id: str = "",
    video_file=None,
    video_url: str = "",
    duration_seconds: int = 0,
    completion_threshold: int = 90,
    completion_requires: str = DocumentCompletion.VIEW,
    completion_min_seconds: int | None = None,
    document_file=None,
    document_name: str | None = None,
    note: str = "",
    related_assets=(),
    status: str = AssetStatus.DRAFT,
) -> Asset:
    """Create an asset of any kind. A document needs ``document_file`` (stored as version 1)."""
    if kind not in AssetKind.values:
        raise ValidationError({"kind": "Unknown kind."})
    _same_tenant(tenant, team)
    if kind == AssetKind.DOCUMENT and document_file is None:
        raise ValidationError({"file": "A document needs a file."})
    asset = Asset(
        tenant=tenant, kind=kind, title=title.strip(), description=description, body=body,
        language=language or tenant.default_language, category=category.strip(),
        tags=Asset.normalise_tags(tags), team=team, external_id=external_id.strip(), video_url=video_url,
        duration_seconds=duration_seconds or 0, completion_threshold=completion_threshold or 90,
        completion_requires=completion_requires or DocumentCompletion.VIEW,
        completion_min_seconds=completion_min_seconds if completion_requires == DocumentCompletion.TIME else None,
        status=status, created_by=actor,
        published_at=timezone.now() if status == AssetStatus.PUBLISHED else None,
    )
    asset.full_clean(exclude=["tenant", "video_file", "created_by"], validate_constraints=False)
    if external_id and Asset.objects.filter(tenant=tenant, external_id=asset.external_id).exists():
        raise ValidationError({"external_id": "Another asset already uses this external id."})
    doc_checked = uploads.validate_upload(document_file, kind=uploads.DOCUMENT, name=document_name) if document_file else None
    video_checked = uploads.validate_upload(video_file, kind=uploads.VIDEO) if video_file else None
    _measure_duration(asset, video_checked)
    version = _new_version(tenant=tenant, asset=asset, checked=doc_checked, number=1, note=note, actor=actor)
    # Files are stored first and removed again if the transaction (commit included) fails.
    with (
        _maybe_stored(asset, video_checked) as video_name,
        _maybe_stored(version, doc_checked) as doc_name,
        transaction.atomic(),
    ):
        if video_name:
            asset.video_file.name = video_name
        asset.save(force_insert=True)
        if kind == AssetKind.FAQ:
            _set_related(tenant=tenant, faq=asset, related=related_assets)
        if version is not None:
            version.asset = asset
            version.file.name = doc_name
            version.save(force_insert=True)
    return asset


def _measure_duration(asset: Asset, checked) -> None:
    """An uploaded video's duration is read from the file by the server (``enablement.media``)
    and replaces any typed-in value; unreadable: the duration stays as given (0 = unknown, the
    training cannot complete until a manager sets it)."""
    if checked is None:
        return
    seconds = media.video_duration_seconds(checked.file)
    if seconds:
        asset.duration_seconds = seconds


class _nothing_stored:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _maybe_stored(instance, checked):
    return uploads.stored_upload(instance, checked, upload_to=private_upload_to) if checked else _nothing_stored()


def _new_version(*, tenant, asset, checked, number, note, actor) -> DocumentVersion | None:
    if checked is None:
        return None
    return DocumentVersion(
        tenant=tenant, asset=asset, version=number, original_name=checked.original_name,
        content_type=checked.content_type, size=checked.size, sha256=checked.sha256, note=note[:300],
        uploaded_by=actor, uploaded_at=timezone.now(),
    )


def asset_update(
    *, tenant: Tenant, actor: User | None, asset: Asset, video_file=None, clear_video_file: bool = False,
    related_assets=None, **fields,
) -> Asset:
    """Change an asset's fields (those in ``ASSET_FIELDS``); a new ``video_file`` replaces the old one."""
    if asset.tenant_id != tenant.pk:
        raise ValidationError("Unknown asset.")
    unknown = set(fields) - set(ASSET_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}")
    _same_tenant(tenant, fields.get("team"))
    if "tags" in fields:
        fields["tags"] = Asset.normalise_tags(fields["tags"])
    if fields.get("external_id"):
        fields["external_id"] = fields["external_id"].strip()
        if Asset.objects.filter(tenant=tenant, external_id=fields["external_id"]).exclude(pk=asset.pk).exists():
            raise ValidationError({"external_id": "Another asset already uses this external id."})
    if "completion_requires" in fields and fields["completion_requires"] != DocumentCompletion.TIME:
        fields["completion_min_seconds"] = None
    changed_rule = [n for n in COMPLETION_RULE_FIELDS if n in fields and fields[n] != getattr(asset, n)]
    if changed_rule and asset_has_activity(tenant=tenant, asset=asset):
        raise ValidationError(
            {n: _("This document already has activity: what completes it can no longer be changed.") for n in changed_rule}
        )
    audited = [n for n in fields if n in ("title", "status", "kind", "external_id", "team", "completion_threshold",
                                          "duration_seconds", *COMPLETION_RULE_FIELDS)]
    before = summary(asset, audited)
    for name, value in fields.items():
        setattr(asset, name, value)
    asset.full_clean(exclude=["tenant", "video_file", "created_by"], validate_constraints=False)
    video_checked = uploads.validate_upload(video_file, kind=uploads.VIDEO) if video_file else None
    _measure_duration(asset, video_checked)
    old_video = asset.video_file.name if (video_checked or clear_video_file) else ""
    with _maybe_stored(asset, video_checked) as video_name, transaction.atomic():
        if video_name:
            asset.video_file.name = video_name
        elif clear_video_file:
            asset.video_file.name = ""
        asset.save()
        if asset.kind == AssetKind.FAQ and related_assets is not None:
            _set_related(tenant=tenant, faq=asset, related=related_assets)
        after = summary(asset, audited)
        if after != before or video_name or clear_video_file:
            audit_record(tenant=tenant, actor=actor, action="asset.updated", target=asset, before=before,
                         after={**after, **({"video_file": "replaced"} if video_name or clear_video_file else {})})
    if old_video:
        storage = asset.video_file.storage
        transaction.on_commit(lambda: storage.delete(old_video))
    return asset


def document_version_add(
    *, tenant: Tenant, actor: User | None, asset: Asset, file, original_name: str | None = None, note: str = ""
) -> DocumentVersion:
    """Upload a new version of a document; earlier versions and their history are kept."""
    if asset.tenant_id != tenant.pk:
        raise ValidationError("Unknown asset.")
    if asset.kind != AssetKind.DOCUMENT:
        raise ValidationError("Only documents have versions.")
    checked = uploads.validate_upload(file, kind=uploads.DOCUMENT, name=original_name)
    version = _new_version(tenant=tenant, asset=asset, checked=checked, number=0, note=note, actor=actor)
    with _maybe_stored(version, checked) as name, transaction.atomic():
        Asset.objects.select_for_update().filter(tenant=tenant, pk=asset.pk).first()
        last = DocumentVersion.objects.filter(tenant=tenant, asset=asset).order_by("-version").first()
        version.version = (last.version + 1) if last else 1
        version.file.name = name
        version.save(force_insert=True)
        Asset.objects.filter(tenant=tenant, pk=asset.pk).update(updated_at=timezone.now())
    return version


@transaction.atomic
def asset_publish(*, tenant: Tenant, actor: User | None, asset: Asset) -> Asset:
    if asset.tenant_id != tenant.pk:
        raise ValidationError("Unknown asset.")
    if asset.kind == AssetKind.DOCUMENT and not DocumentVersion.objects.filter(tenant=tenant, asset=asset).exists():
        raise ValidationError("Upload a file before publishing this document.")
    if asset.kind == AssetKind.ASSESSMENT and not Question.objects.filter(tenant=tenant, asset=asset).exists():
        raise ValidationError(_("Add at least one question before publishing this assessment."))
    if asset.status != AssetStatus.PUBLISHED:
        before = asset.status
        asset.status = AssetStatus.PUBLISHED
        asset.published_at = asset.published_at or timezone.now()
        asset.save(update_fields=["status", "published_at", "updated_at"])
        audit_record(tenant=tenant, actor=actor, action="asset.published", target=asset,
                     before={"status": before}, after={"status": asset.status})
    if asset.kind == AssetKind.FAQ:
        faq_questions_answered(tenant=tenant, asset=asset)
    return asset


@transaction.atomic
def asset_archive(*, tenant: Tenant, actor: User | None, asset: Asset) -> Asset:
    if asset.tenant_id != tenant.pk:
        raise ValidationError("Unknown asset.")
    if asset.status != AssetStatus.ARCHIVED:
        before = asset.status
        asset.status = AssetStatus.ARCHIVED
        asset.save(update_fields=["status", "updated_at"])
        audit_record(tenant=tenant, actor=actor, action="asset.archived", target=asset,
                     before={"status": before}, after={"status": asset.status})
    return asset


@transaction.atomic
def assignment_create(
    *,
    tenant: Tenant,
    actor: User | None,
    target: str,
    due_on: date,
    asset: Asset | None = None,
    learning_path: LearningPath | None = None,
    partner: Partner | None = None,
    tier: PartnerTier | None = None,
    segment: str = "",
    required_completions: int = 1,
    source: str = "manual",
) -> Assignment:
    """Assign an asset or a learning path to a partner, a tier or a segment.

    Tier and segment assignments are expanded when read (``enablement.pairs``),
    so partners joining the tier or segment later inherit them.
    """
    if (asset is None) == (learning_path is None):
        raise ValidationError("Assign either an asset or a learning path.")
    _same_tenant(tenant, asset, learning_path, partner, tier)
    segment = (segment or "").strip()
    expected = {
        AssignmentTarget.PARTNER: (partner is not None, tier is None, not segment),
        AssignmentTarget.TIER: (tier is not None, partner is None, not segment),
        AssignmentTarget.SEGMENT: (bool(segment), partner is None, tier is None),
    }
    if target not in expected or not all(expected[target]):
        raise ValidationError({"target": "The target does not match the partner, tier or segment given."})
    if required_completions < 1:
        raise ValidationError({"required_completions": "At least one user must complete it."})
    if asset is not None and asset.status == AssetStatus.ARCHIVED:
        raise ValidationError({"asset": "An archived asset cannot be assigned."})
    _check_audience(tenant=tenant, asset=asset, path=learning_path, partner=partner, tier=tier, segment=segment)
    assignment = Assignment.objects.create(
        tenant=tenant, asset=asset, learning_path=learning_path, target=target, partner=partner, tier=tier,
        segment=segment, due_on=due_on, required_completions=required_completions, source=source,
        created_by=actor if isinstance(actor, User) else None,
    )
    audit_record(tenant=tenant, actor=actor, action="assignment.created", target=assignment, after=summary(
        assignment, ("asset", "learning_path", "target", "partner", "tier", "segment", "due_on", "required_completions")))
    assignments_notify(tenant=tenant, assignment_ids=[assignment.pk])  # in-app now, e-mail on commit
    return assignment


def _check_audience(*, tenant, asset, path, partner, tier, segment) -> None:
    """Refuse an assignment that would reach partners outside the audience of the asset, the
    path, or any asset in the path."""
    assets = [asset] if asset is not None else [
        item.asset for item in LearningPathItem.objects.filter(tenant=tenant, path=path).select_related("asset")
    ]
    outside = assignment_outside_audience(tenant=tenant, assets=assets, path=path, partner=partner, tier=tier,
                                          segment=segment)
    if outside:
        raise ValidationError({"target": _(
            "“%(title)s” is limited to an audience that does not include this target. "
            "Change its audience or choose another target."
        ) % {"title": outside[0].title}})


AUDIENCE_KINDS = ("tiers", "segments", "partners")


@transaction.atomic
def audience_set(
    *,
    tenant: Tenant,
    actor: User | None,
    asset: Asset | None = None,
    path: LearningPath | None = None,
    tiers=(),
    segments=(),
    partners=(),
) -> None:
    """Replace the audience of an asset or a learning path (all empty = every partner)."""
    if (asset is None) == (path is None):
        raise ValidationError("Give either an asset or a learning path.")
    _same_tenant(tenant, asset, path, *tiers, *partners)
    AudienceRule.objects.filter(tenant=tenant, asset=asset, path=path).delete()
    clean_segments = sorted({s.strip() for s in segments if s and s.strip()})
    AudienceRule.objects.bulk_create(
        [AudienceRule(tenant=tenant, asset=asset, path=path, tier=t) for t in tiers]
        + [AudienceRule(tenant=tenant, asset=asset, path=path, segment=s[:100]) for s in clean_segments]
        + [AudienceRule(tenant=tenant, asset=asset, path=path, partner=p) for p in partners]
    )
    targeting_changed.send(sender=AudienceRule, tenant_id=tenant.pk, what="enablement.audiencerule")
    audit_record(tenant=tenant, actor=actor, action="audience.set", target=asset or path, after={
        "tiers": [str(t) for t in tiers], "segments": clean_segments, "partners": [str(p) for p in partners]})


@transaction.atomic
def assignment_deactivate(*, tenant: Tenant, actor: User | None, assignment: Assignment) -> Assignment:
    if assignment.tenant_id != tenant.pk:
        raise ValidationError("Unknown assignment.")
    if assignment.is_active:
        assignment.is_active = False
        assignment.save(update_fields=["is_active"])
        audit_record(tenant=tenant, actor=actor, action="assignment.deactivated", target=assignment,
                     before={"is_active": True}, after={"is_active": False})
    return assignment


def _path_items(*, tenant: Tenant, path: LearningPath, assets) -> None:
    assets = list(assets)
    _same_tenant(tenant, *assets)
    if not assets:
        raise ValidationError({"assets": "A learning path needs at least one asset."})
    if len({a.pk for a in assets}) != len(assets):
        raise ValidationError({"assets": "Each asset can appear only once in a path."})
    LearningPathItem.objects.filter(tenant=tenant, path=path).delete()
    LearningPathItem.objects.bulk_create(
        [LearningPathItem(tenant=tenant, path=path, asset=a, position=i + 1) for i, a in enumerate(assets)]
    )
    targeting_changed.send(sender=LearningPathItem, tenant_id=tenant.pk, what="enablement.learningpathitem")


@transaction.atomic
def learning_path_create(
    *, tenant: Tenant, actor: User | None, title: str, assets, description: str = "", is_playbook: bool = False
) -> LearningPath:
    """Create a learning path with its assets in the given order."""
    title = title.strip()
    if not title:
        raise ValidationError({"title": "A title is required."})
    if LearningPath.objects.filter(tenant=tenant, title=title).exists():
        raise ValidationError({"title": "Another learning path has this title."})
    path = LearningPath.objects.create(
        tenant=tenant, title=title, description=description, is_playbook=is_playbook, created_by=actor
    )
    _path_items(tenant=tenant, path=path, assets=assets)
    audit_record(tenant=tenant, actor=actor, action="learning_path.created", target=path,
                 after={"title": title, "items": LearningPathItem.objects.filter(tenant=tenant, path=path).count()})
    return path


@transaction.atomic
def learning_path_update(
    *, tenant: Tenant, actor: User | None, path: LearningPath, title: str, assets, description: str = ""
) -> LearningPath:
    """Rename a path and replace its ordered items."""
    if path.tenant_id != tenant.pk:
        raise ValidationError("Unknown learning path.")
    title = title.strip()
    if LearningPath.objects.filter(tenant=tenant, title=title).exclude(pk=path.pk).exists():
        raise ValidationError({"title": "Another learning path has this title."})
    before = {"title": path.title}
    path.title, path.description = title, description
    path.save(update_fields=["title", "description"])
    _path_items(tenant=tenant, path=path, assets=assets)
    audit_record(tenant=tenant, actor=actor, action="learning_path.updated", target=path,
                 before=before, after={"title": title})
    return path
