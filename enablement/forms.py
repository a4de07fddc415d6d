"""Manage-area forms: assets (per kind), document versions, assignments, learning paths.

Forms only check input; the services do the writes (and check the upload again).
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from enablement import uploads
from enablement.models import (
    Asset,
    AssetKind,
    AssetStatus,
    AssignmentTarget,
    DocumentCompletion,
    LearningPath,
    Team,
)
from partners.models import Partner, PartnerTier
from partners.reading import partner_ordering

PATH_STEPS = 10


class UploadField(forms.FileField):
    """A file field that runs the upload checks (name, size, content) during form validation."""

    def __init__(self, *, upload_kind: str, **kwargs):
        self.upload_kind = upload_kind
        super().__init__(**kwargs)

    def clean(self, data, initial=None):
        value = super().clean(data, initial)
        if value and hasattr(value, "read") and value is not initial:
            self.checked = uploads.validate_upload(value, kind=self.upload_kind)
        return value


def _accept(kind: str) -> str:
    return ",".join(f".{ext}" for ext in uploads.ALLOWED[kind])


class AssetForm(forms.Form):
    """Fields depend on the kind: training (video or URL), document (file on create), FAQ (Q&A)."""

    title = forms.CharField(label=_("Title"), max_length=300)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    category = forms.CharField(label=_("Category"), max_length=100, required=False)
    tags = forms.CharField(
        label=_("Tags"), max_length=500, required=False, help_text=_("Separate tags with commas.")
    )
    team = forms.ModelChoiceField(empty_label="—", label=_("Owning team"), queryset=Team.objects.none(), required=False)
    external_id = forms.CharField(
        label=_("External id"), max_length=200, required=False, help_text=_("Optional id used by the API and imports.")
    )

    def __init__(self, *args, tenant, kind: str, asset: Asset | None = None, rule_locked: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenant, self.kind, self.asset = tenant, kind, asset
        self.fields["team"].queryset = Team.objects.filter(tenant=tenant).order_by("name")
        if kind == AssetKind.TRAINING:
            self.fields["video_file"] = UploadField(
                label=_("Video file (MP4 or WebM)"),
                upload_kind=uploads.VIDEO,
                required=False,
                widget=forms.FileInput(attrs={"accept": _accept(uploads.VIDEO)}),
                help_text=_("Or give a video URL below."),
            )
            if asset is not None and asset.video_file:
                self.fields["video_file"].help_text = _(
                    "A video is uploaded; choose a file only to replace it."
                )
                self.fields["clear_video_file"] = forms.BooleanField(
                    label=_("Remove the uploaded video"), required=False
                )
            self.fields["video_url"] = forms.URLField(label=_("Video URL"), required=False, max_length=1000)
            self.fields["duration_seconds"] = forms.IntegerField(label=_("Duration (seconds)"), min_value=0, initial=0)
            self.fields["completion_threshold"] = forms.IntegerField(
                label=_("Completion threshold (%)"),
                min_value=1,
                max_value=100,
                initial=90,
                help_text=_("Share of the video that must actually be watched."),
            )
        elif kind == AssetKind.DOCUMENT and asset is None:
            self.fields["file"] = UploadField(
                label=_("File"),
                upload_kind=uploads.DOCUMENT,
                widget=forms.ClearableFileInput(attrs={"accept": _accept(uploads.DOCUMENT)}),
                help_text=_("PDF, PPTX, DOCX, XLSX, ZIP, PNG or JPEG, up to %(mb)s MB.")
                % {"mb": settings.UPLOAD_MAX_BYTES // (1024 * 1024)},
            )
        if kind == AssetKind.DOCUMENT:
            self._completion_fields(rule_locked)
        if kind == AssetKind.FAQ:
            self.fields["title"].label = _("Question")
            self.fields["body"] = forms.CharField(
                label=_("Answer (Markdown)"), widget=forms.Textarea(attrs={"rows": 8})
            )
            related = Asset.objects.filter(tenant=tenant).exclude(kind=AssetKind.FAQ).order_by("title")
            if asset is not None:
                related = related.exclude(pk=asset.pk)
            self.fields["related_assets"] = forms.ModelMultipleChoiceField(
                label=_("Related assets"),
                queryset=related,
                required=False,
                widget=forms.SelectMultiple(attrs={"size": 6}),
            )
        if asset is None:
            self.fields["language"].initial = tenant.default_language

    def _completion_fields(self, locked: bool) -> None:
        """What completes a document; fixed once the document has activity (changing it would
        rewrite which past views count as completions)."""
        self.fields["completion_requires"] = forms.ChoiceField(
            label=_("Completed when"),
            choices=DocumentCompletion.choices,
            initial=DocumentCompletion.VIEW,
            required=False,  # left out: the document keeps its rule (a new one: viewed)
            help_text=_(
                "Viewed: opening the document completes it. Downloaded: only a download does. "
                "Read for a minimum time: the partner keeps the document open in the portal for the "
                "time below (only time the page is visible counts, measured by the server)."
            ),
        )
        self.fields["completion_min_seconds"] = forms.IntegerField(
            label=_("Minimum reading time (seconds)"),
            min_value=1,
            max_value=24 * 3600,
            required=False,
            help_text=_("Required when the document is completed by reading time, e.g. 300 for 5 minutes."),
        )
        if locked:
            message = _(
                "This document already has activity, so what completes it can no longer be changed: "
                "a different rule would rewrite past completions and closed KPI periods. Create a new "
                "document to use another rule."
            )
            for name in ("completion_requires", "completion_min_seconds"):
                self.fields[name].disabled = True
                self.fields[name].help_text = message

    def clean_tags(self):
        return Asset.normalise_tags(self.cleaned_data.get("tags", ""))

    def clean_external_id(self):
        value = self.cleaned_data.get("external_id", "").strip()
        if value:
            clash = Asset.objects.filter(tenant=self.tenant, external_id=value)
            if self.asset is not None:
                clash = clash.exclude(pk=self.asset.pk)
            if clash.exists():
                raise ValidationError(_("Another asset already uses this external id."))
        return value

    def clean(self):
        data = super().clean()
        if self.kind == AssetKind.TRAINING:
            has_video = bool(data.get("video_file")) or bool(data.get("video_url"))
            if self.asset is not None and self.asset.video_file and not data.get("clear_video_file"):
                has_video = True
            if not has_video:
                raise ValidationError(_("Upload a video file or give a video URL."))
        if "completion_requires" in self.fields:
            if not data.get("completion_requires"):
                data["completion_requires"] = self.asset.completion_requires if self.asset else DocumentCompletion.VIEW
                if self.asset is not None and "completion_min_seconds" not in self.data:
                    data["completion_min_seconds"] = self.asset.completion_min_seconds
            if data.get("completion_requires") == DocumentCompletion.TIME:
                if not data.get("completion_min_seconds") and "completion_min_seconds" not in self.errors:
                    self.add_error(
                        "completion_min_seconds",
                        _("Give the reading time (at least 1 second) that completes the document."),
                    )
            else:
                data["completion_min_seconds"] = None
        return data

    def service_kwargs(self) -> dict:
        """The cleaned data as keyword arguments for asset_create / asset_update."""
        data = dict(self.cleaned_data)
        if "video_file" in data:
            value = data.pop("video_file")
            if value:
                data["video_file"] = value
        data["clear_video_file"] = bool(data.pop("clear_video_file", False)) and not data.get("video_file")
        if "file" in data:
            data["document_file"] = data.pop("file")
        return data


class DocumentVersionForm(forms.Form):
    file = UploadField(
        label=_("New file"),
        upload_kind=uploads.DOCUMENT,
        widget=forms.ClearableFileInput(attrs={"accept": _accept(uploads.DOCUMENT)}),
    )
    note = forms.CharField(label=_("Change note"), max_length=300, required=False)


class AssetFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False)
    kind = forms.ChoiceField(label=_("Kind"), required=False, choices=[("", _("All kinds")), *AssetKind.choices])
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("All statuses")), *AssetStatus.choices]
    )
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.none(), required=False, empty_label=_("All teams"))

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.filter(tenant=tenant).order_by("name")


class AssignmentForm(forms.Form):
    asset = forms.ModelChoiceField(empty_label="—", label=_("Asset"), queryset=Asset.objects.none(), required=False)
    learning_path = forms.ModelChoiceField(empty_label="—", label=_("Learning path"), queryset=LearningPath.objects.none(), required=False)
    target = forms.ChoiceField(label=_("Assign to"), choices=AssignmentTarget.choices)
    partner = forms.ModelChoiceField(empty_label="—", label=_("Partner"), queryset=Partner.objects.none(), required=False)
    tier = forms.ModelChoiceField(empty_label="—", label=_("Tier"), queryset=PartnerTier.objects.none(), required=False)
    segment = forms.ChoiceField(label=_("Segment"), required=False)
    due_on = forms.DateField(label=_("Due date"), widget=forms.DateInput(attrs={"type": "date"}))
    required_completions = forms.IntegerField(
        label=_("Users who must complete"), min_value=1, max_value=100, initial=1
    )

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["asset"].queryset = (
            Asset.objects.filter(tenant=tenant).exclude(status=AssetStatus.ARCHIVED).order_by("kind", "title")
        )
        self.fields["learning_path"].queryset = LearningPath.objects.filter(tenant=tenant).order_by("title")
        self.fields["partner"].queryset = Partner.objects.filter(tenant=tenant).order_by(*partner_ordering())
        self.fields["tier"].queryset = PartnerTier.objects.filter(tenant=tenant).order_by("rank", "name")
        segments = (
            Partner.objects.filter(tenant=tenant).exclude(segment="").values_list("segment", flat=True).distinct()
        )
        self.fields["segment"].choices = [("", "—"), *((s, s) for s in sorted(set(segments)))]

    def clean(self):
        data = super().clean()
        if bool(data.get("asset")) == bool(data.get("learning_path")):
            raise ValidationError(_("Choose either an asset or a learning path."))
        target = data.get("target")
        if target and not data.get(target):
            self.add_error(target, _("Choose the %(target)s to assign to.") % {"target": AssignmentTarget(target).label})
        return data


class LearningPathForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=300)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, tenant, path: LearningPath | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenant, self.path = tenant, path
        assets = Asset.objects.filter(tenant=tenant).exclude(status=AssetStatus.ARCHIVED).order_by("kind", "title")
        current = list(path.items.order_by("position", "id").values_list("asset_id", flat=True)) if path else []
        for i in range(PATH_STEPS):
            self.fields[f"step_{i + 1}"] = forms.ModelChoiceField(empty_label="—",
                label=_("Step %(n)s") % {"n": i + 1},
                queryset=assets,
                required=False,
                initial=current[i] if i < len(current) else None,
            )

    def clean_title(self):
        title = self.cleaned_data["title"].strip()
        clash = LearningPath.objects.filter(tenant=self.tenant, title=title)
        if self.path is not None:
            clash = clash.exclude(pk=self.path.pk)
        if clash.exists():
            raise ValidationError(_("Another learning path has this title."))
        return title

    def clean(self):
        data = super().clean()
        steps = [data.get(f"step_{i + 1}") for i in range(PATH_STEPS)]
        chosen = [a for a in steps if a]
        if not chosen:
            raise ValidationError(_("Choose at least one asset."))
        if len({a.pk for a in chosen}) != len(chosen):
            raise ValidationError(_("Each asset can appear only once in a path."))
        data["assets"] = chosen
        return data

    def step_fields(self):
        return [self[f"step_{i + 1}"] for i in range(PATH_STEPS)]


class AudienceForm(forms.Form):
    """Who may see an asset or a learning path: tiers, segments, named partners (none = everyone)."""

    tiers = forms.ModelMultipleChoiceField(
        label=_("Tiers"), queryset=PartnerTier.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    segments = forms.MultipleChoiceField(label=_("Segments"), required=False, widget=forms.CheckboxSelectMultiple)
    partners = forms.ModelMultipleChoiceField(
        label=_("Named partners"), queryset=Partner.objects.none(), required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text=_("Hold Ctrl (⌘ on a Mac) to choose several."),
    )

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tiers"].queryset = PartnerTier.objects.filter(tenant=tenant).order_by("rank", "name")
        segments = (
            Partner.objects.filter(tenant=tenant).exclude(segment="").values_list("segment", flat=True).distinct().order_by("segment")
        )
        self.fields["segments"].choices = [(s, s) for s in segments]
        self.fields["partners"].queryset = Partner.objects.filter(tenant=tenant).order_by(*partner_ordering())


class FaqSynonymForm(forms.Form):
    terms = forms.CharField(
        label=_("Words that mean the same"),
        max_length=500,
        help_text=_("Separate the words or phrases with commas, e.g. 値引き, ディスカウント, discount."),
        widget=forms.TextInput(attrs={"placeholder": "値引き, ディスカウント, 割引"}),
    )
