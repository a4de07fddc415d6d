"""Django admin for enablement, scoped to the tenant admin's own tenant (partners.tenancy.admin).

Uploads made here go through the same checks as the manage area (``enablement.uploads``) and new
document versions through ``enablement.services.document_version_add``. The activity log is
read-only: no add, change or delete (the database refuses UPDATE/DELETE anyway).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from enablement.models import (
    ActivityEvent,
    Asset,
    AssetKind,
    AssetStatus,
    Assignment,
    DocumentVersion,
    FaqQuestion,
    FaqRelatedAsset,
    FaqSynonym,
    LearningPath,
    LearningPathItem,
    Team,
)
from enablement.selectors.catalog import asset_has_activity
from enablement.services.faq import synonym_terms_clean
from partners.tenancy.admin import TenantScopedAdmin, TenantScopedInline


@admin.register(Team)
class TeamAdmin(TenantScopedAdmin):
    list_display = ["name"]
    search_fields = ["name"]


class DocumentVersionInline(TenantScopedInline):
    """Versions are kept forever: shown here, added with the "new version" field above."""

    model = DocumentVersion
    fields = ["version", "original_name", "size", "content_type", "note", "uploaded_by", "uploaded_at"]
    readonly_fields = fields
    can_delete = False
    verbose_name_plural = _("document versions")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class FaqRelatedAssetInline(TenantScopedInline):
    model = FaqRelatedAsset
    fk_name = "faq"
    fields = ["asset"]
    verbose_name = _("related asset")
    verbose_name_plural = _("related assets (FAQ)")


class AssetAdminForm(forms.ModelForm):
    new_version = forms.FileField(
        label=_("upload a new version"),
        required=False,
        help_text=_("Documents only. The previous versions are kept."),
    )
    new_version_note = forms.CharField(label=_("change note"), required=False, max_length=300)

    # No Meta here: the admin builds the model form per request, inside the tenant scope
    # (a class-level Meta would query the Team choices at import time, outside any scope).

    def clean_tags(self):
        return Asset.normalise_tags(self.cleaned_data.get("tags", ""))

    def clean_video_file(self):
        from enablement import uploads

        value = self.cleaned_data.get("video_file")
        if isinstance(value, UploadedFile):
            uploads.validate_upload(value, kind=uploads.VIDEO)
            value.seek(0)
        return value

    def clean(self):
        data = super().clean()
        new_version = data.get("new_version")
        if new_version:
            if data.get("kind") != AssetKind.DOCUMENT:
                self.add_error("new_version", ValidationError(_("Only documents have file versions.")))
            else:
                from enablement import uploads

                try:
                    uploads.validate_upload(new_version, kind=uploads.DOCUMENT)
                    new_version.seek(0)
                except ValidationError as exc:
                    self.add_error("new_version", exc)
        return data


@admin.register(Asset)
class AssetAdmin(TenantScopedAdmin):
    form = AssetAdminForm
    list_display = ["title", "kind", "status", "category", "team", "language", "published_at", "updated_at"]
    list_filter = ["kind", "status", "language", "team"]
    search_fields = ["title", "description", "category", "tags", "external_id"]
    list_select_related = ["team"]
    fieldsets = (
        (None, {"fields": ("kind", "title", "description", "language", "status", "published_at")}),
        (_("Classification"), {"fields": ("category", "tags", "team", "external_id")}),
        (_("Training"), {"fields": ("video_file", "video_url", "duration_seconds", "completion_threshold")}),
        (_("Document"), {"fields": ("completion_requires", "completion_min_seconds", "new_version", "new_version_note")}),
        (_("FAQ"), {"fields": ("body",)}),
    )

    def get_readonly_fields(self, request, obj=None):
        """What completes a document is fixed once it has activity (a new rule would rewrite past
        completions and closed KPI periods); the field's help text says so."""
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and asset_has_activity(tenant=obj.tenant, asset=obj):
            fields += ["completion_requires", "completion_min_seconds"]
        return fields

    def get_inlines(self, request, obj):
        if obj is not None and obj.kind == AssetKind.DOCUMENT:
            return [DocumentVersionInline]
        if obj is not None and obj.kind == AssetKind.FAQ:
            return [FaqRelatedAssetInline]
        return []

    def save_model(self, request, obj, form, change):
        if obj.status == AssetStatus.PUBLISHED and obj.published_at is None:
            obj.published_at = timezone.now()
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        new_version = form.cleaned_data.get("new_version")
        if new_version:
            from enablement.services.catalog import document_version_add

            document_version_add(
                tenant=form.instance.tenant,
                actor=request.user,
                asset=form.instance,
                file=new_version,
                note=form.cleaned_data.get("new_version_note", ""),
            )


class LearningPathItemInline(TenantScopedInline):
    model = LearningPathItem
    fields = ["position", "asset"]
    ordering = ["position", "id"]


@admin.register(LearningPath)
class LearningPathAdmin(TenantScopedAdmin):
    list_display = ["title", "is_playbook", "created_at"]
    list_filter = ["is_playbook"]
    search_fields = ["title"]
    inlines = [LearningPathItemInline]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(Assignment)
class AssignmentAdmin(TenantScopedAdmin):
    list_display = ["__str__", "target", "due_on", "required_completions", "is_active", "source"]
    list_filter = ["target", "is_active", "source"]
    list_select_related = ["asset", "learning_path", "partner", "tier"]
    fields = [
        "asset",
        "learning_path",
        "target",
        "partner",
        "tier",
        "segment",
        "due_on",
        "required_completions",
        "is_active",
    ]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(ActivityEvent)
class ActivityEventAdmin(TenantScopedAdmin):
    """The append-only log, read-only."""

    list_display = ["occurred_at", "verb", "partner", "user", "asset", "source", "progress", "query", "result_count", "resolved"]
    list_filter = ["verb", "source"]
    search_fields = ["query", "event_id", "actor_ref"]
    list_select_related = ["partner", "user", "asset"]
    ordering = ["-occurred_at", "-id"]
    show_full_result_count = False
    actions = None

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class FaqSynonymAdminForm(forms.ModelForm):
    class Meta:
        model = FaqSynonym
        fields = ["terms"]

    def clean_terms(self):
        try:
            return synonym_terms_clean(self.cleaned_data["terms"])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict.get("terms", exc.messages)) from exc


@admin.register(FaqSynonym)
class FaqSynonymAdmin(TenantScopedAdmin):
    """The same list as manage → FAQ → FAQ synonyms."""

    form = FaqSynonymAdminForm
    list_display = ["terms", "updated_at"]
    search_fields = ["terms"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(FaqQuestion)
class FaqQuestionAdmin(TenantScopedAdmin):
    """Questions partner users sent from the FAQ search (answered from the manage FAQ page)."""

    list_display = ["message", "query", "partner", "user", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["message", "query"]
    list_select_related = ["partner", "user"]
    readonly_fields = ["partner", "user", "query", "message", "answer", "created_at", "answered_at"]
    fields = ["partner", "user", "query", "message", "status", "answer", "created_at", "answered_at"]

    def has_add_permission(self, request):
        return False
