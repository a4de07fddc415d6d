"""What is offered and what was done with it: assets, learning paths, assignments, the activity log."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from partners.models import Partner, PartnerTier
from partners.tenancy import TenantOwnedModel


def private_upload_to(instance, filename: str) -> str:
    """Uploaded files live under MEDIA_ROOT/<tenant>/ with a random name; never served by URL."""
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"t{instance.tenant_id}/{type(instance).__name__.lower()}/{uuid.uuid4().hex}.{ext}"


class Team(TenantOwnedModel):
    """The department that owns content (channel sales, marketing, education, …)."""

    name = models.CharField(_("name"), max_length=100)

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="uniq_team_name_per_tenant")]

    def __str__(self) -> str:
        return self.name


class AssetKind(models.TextChoices):
    TRAINING = "training", _("Training")
    DOCUMENT = "document", _("Document")
    FAQ = "faq", _("FAQ")
    ASSESSMENT = "assessment", _("Assessment")


class DocumentCompletion(models.TextChoices):
    """What completes a document (``Asset.completion_requires``; other kinds keep their own rule)."""

    VIEW = "view", _("Viewed")
    DOWNLOAD = "download", _("Downloaded")
    TIME = "time", _("Read for a minimum time")


class AssetStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
    ARCHIVED = "archived", _("Archived")


class Asset(TenantOwnedModel):
    """One piece of enablement: a training (video), a document, an FAQ or an assessment.

    An assessment's settings and question bank live in ``enablement.assessments``.

    FAQ: ``title`` is the question and ``body`` the answer (Markdown, sanitised on render).
    Tags are stored normalised as ``",tag1,tag2,"`` so ``tags__contains=",tag,"`` matches exactly.
    """

    kind = models.CharField(_("kind"), max_length=16, choices=AssetKind.choices)
    title = models.CharField(_("title"), max_length=300)
    description = models.TextField(_("description"), blank=True, default="")
    body = models.TextField(_("answer"), blank=True, default="", help_text=_("FAQ answer (Markdown)."))
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, default="ja")
    category = models.CharField(_("category"), max_length=100, blank=True, default="")
    tags = models.CharField(_("tags"), max_length=500, blank=True, default="")
    team = models.ForeignKey(
        Team, verbose_name=_("owning team"), null=True, blank=True, on_delete=models.SET_NULL, related_name="assets"
    )
    status = models.CharField(_("status"), max_length=16, choices=AssetStatus.choices, default=AssetStatus.DRAFT)
    external_id = models.CharField(_("external id"), max_length=200, blank=True, default="")
    # training
    video_file = models.FileField(_("video file"), upload_to=private_upload_to, blank=True, max_length=300)
    video_url = models.URLField(_("video URL"), blank=True, default="", max_length=1000)
    duration_seconds = models.PositiveIntegerField(_("duration (seconds)"), default=0)
    completion_threshold = models.PositiveSmallIntegerField(
        _("completion threshold (%)"),
        default=90,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("Share of the video that must actually be watched."),
    )
    # document: what completes it (enablement.completion); fixed once the document has activity
    completion_requires = models.CharField(
        _("completed when"),
        max_length=16,
        choices=DocumentCompletion.choices,
        default=DocumentCompletion.VIEW,
        help_text=_(
            "Documents only: viewed (opening it is enough), downloaded, or read in the portal for a "
            "minimum time. It cannot be changed once the document has activity."
        ),
    )
    completion_min_seconds = models.PositiveIntegerField(
        _("minimum reading time (seconds)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Required when the document is completed by reading time."),
    )
    related_assets = models.ManyToManyField(
        "self", through="FaqRelatedAsset", symmetrical=False, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    published_at = models.DateTimeField(_("published"), null=True, blank=True)

    class Meta:
        verbose_name = _("asset")
        verbose_name_plural = _("assets")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "external_id"], condition=~Q(external_id=""), name="uniq_asset_external_id"
            ),
            models.CheckConstraint(
                condition=Q(kind=AssetKind.DOCUMENT) | Q(completion_requires=DocumentCompletion.VIEW),
                name="asset_completion_rule_documents_only",
            ),
            models.CheckConstraint(
                condition=(
                    Q(completion_requires=DocumentCompletion.TIME)
                    & Q(completion_min_seconds__isnull=False)  # NULL >= 1 is unknown, which a CHECK lets pass
                    & Q(completion_min_seconds__gte=1)
                )
                | (~Q(completion_requires=DocumentCompletion.TIME) & Q(completion_min_seconds__isnull=True)),
                name="asset_completion_min_seconds_iff_time",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "kind", "status"]), models.Index(fields=["tenant", "status", "-created_at"])]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        super().clean()
        errors: dict[str, str] = {}
        rule = self.completion_requires or DocumentCompletion.VIEW
        if self.kind != AssetKind.DOCUMENT and rule != DocumentCompletion.VIEW:
            errors["completion_requires"] = _("Only documents can require a download or a reading time.")
        if rule == DocumentCompletion.TIME:
            if not self.completion_min_seconds or self.completion_min_seconds < 1:
                errors["completion_min_seconds"] = _("Give the reading time (at least 1 second) that completes the document.")
        elif self.completion_min_seconds is not None:
            errors["completion_min_seconds"] = _("A reading time applies only when the document is completed by reading time.")
        if errors:
            raise ValidationError(errors)

    @property
    def tag_list(self) -> list[str]:
        return [t for t in self.tags.split(",") if t]

    @staticmethod
    def normalise_tags(tags: list[str] | str) -> str:
        items = tags.split(",") if isinstance(tags, str) else tags
        clean = sorted({t.strip().lower() for t in items if t and t.strip()})
        return f",{','.join(clean)}," if clean else ""


class DocumentVersion(TenantOwnedModel):
    """An uploaded file of a document asset. A new upload adds a version; old ones are kept."""

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField(_("version"))
    file = models.FileField(_("file"), upload_to=private_upload_to, max_length=300)
    original_name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField(_("size"))
    sha256 = models.CharField(max_length=64)
    note = models.CharField(_("change note"), max_length=300, blank=True, default="")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("uploaded"), default=timezone.now)

    class Meta:
        verbose_name = _("document version")
        verbose_name_plural = _("document versions")
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "asset", "version"], name="uniq_document_version"),
        ]

    def __str__(self) -> str:
        return f"{self.original_name} v{self.version}"


class FaqRelatedAsset(TenantOwnedModel):
    faq = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="+")
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "faq", "asset"], name="uniq_faq_related_asset")]


class LearningPath(TenantOwnedModel):
    """An ordered set of assets (also what a success-pattern playbook becomes)."""

    title = models.CharField(_("title"), max_length=300)
    description = models.TextField(_("description"), blank=True, default="")
    is_playbook = models.BooleanField(_("playbook"), default=False, help_text=_("Created from a success pattern."))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("learning path")
        verbose_name_plural = _("learning paths")
        ordering = ["title"]
        constraints = [models.UniqueConstraint(fields=["tenant", "title"], name="uniq_learning_path_title")]

    def __str__(self) -> str:
        return self.title


class LearningPathItem(TenantOwnedModel):
    path = models.ForeignKey(LearningPath, on_delete=models.CASCADE, related_name="items")
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "path", "asset"], name="uniq_path_asset")]


class AudienceRule(TenantOwnedModel):
    """Limits who may see an asset or a learning path: a tier, a segment or a named partner.

    An asset (or path) with no rules is for every partner of the tenant; with rules, only for the
    partners that match at least one. ``enablement.audiences`` is the one place that reads them.
    """

    asset = models.ForeignKey(Asset, null=True, blank=True, on_delete=models.CASCADE, related_name="audience_rules")
    path = models.ForeignKey(
        "LearningPath", null=True, blank=True, on_delete=models.CASCADE, related_name="audience_rules"
    )
    tier = models.ForeignKey(PartnerTier, verbose_name=_("tier"), null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    segment = models.CharField(_("segment"), max_length=100, blank=True, default="")
    partner = models.ForeignKey(Partner, verbose_name=_("partner"), null=True, blank=True, on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name = _("audience rule")
        verbose_name_plural = _("audience rules")
        constraints = [
            models.CheckConstraint(
                condition=(Q(asset__isnull=False) & Q(path__isnull=True)) | (Q(asset__isnull=True) & Q(path__isnull=False)),
                name="audience_rule_one_subject",
            ),
            models.CheckConstraint(
                condition=(Q(tier__isnull=False) & Q(segment="") & Q(partner__isnull=True))
                | (Q(tier__isnull=True) & ~Q(segment="") & Q(partner__isnull=True))
                | (Q(tier__isnull=True) & Q(segment="") & Q(partner__isnull=False)),
                name="audience_rule_one_target",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "asset"]), models.Index(fields=["tenant", "path"])]


class AssignmentTarget(models.TextChoices):
    PARTNER = "partner", _("Partner")
    TIER = "tier", _("Tier")
    SEGMENT = "segment", _("Segment")


class Assignment(TenantOwnedModel):
    """Who an asset (or a learning path) is for, by when, and how many of the partner's users must complete it.

    Tier and segment assignments are expanded when they are read, so a partner joining a
    tier later inherits the tier's assignments.
    """

    asset = models.ForeignKey(Asset, null=True, blank=True, on_delete=models.CASCADE, related_name="assignments")
    learning_path = models.ForeignKey(
        LearningPath, null=True, blank=True, on_delete=models.CASCADE, related_name="assignments"
    )
    target = models.CharField(_("target"), max_length=16, choices=AssignmentTarget.choices)
    partner = models.ForeignKey(Partner, null=True, blank=True, on_delete=models.CASCADE, related_name="assignments")
    tier = models.ForeignKey(PartnerTier, null=True, blank=True, on_delete=models.CASCADE, related_name="assignments")
    segment = models.CharField(_("segment"), max_length=100, blank=True, default="")
    due_on = models.DateField(_("due date"))
    required_completions = models.PositiveSmallIntegerField(
        _("users who must complete"), default=1, validators=[MinValueValidator(1)]
    )
    is_active = models.BooleanField(_("active"), default=True)
    source = models.CharField(_("source"), max_length=16, default="manual")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("assignment")
        verbose_name_plural = _("assignments")
        ordering = ["due_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(asset__isnull=False) & Q(learning_path__isnull=True))
                | (Q(asset__isnull=True) & Q(learning_path__isnull=False)),
                name="assignment_asset_xor_path",
            ),
            models.CheckConstraint(
                condition=(Q(target="partner") & Q(partner__isnull=False) & Q(tier__isnull=True) & Q(segment=""))
                | (Q(target="tier") & Q(tier__isnull=False) & Q(partner__isnull=True) & Q(segment=""))
                | (Q(target="segment") & ~Q(segment="") & Q(partner__isnull=True) & Q(tier__isnull=True)),
                name="assignment_target_consistent",
            ),
            models.CheckConstraint(condition=Q(required_completions__gte=1), name="assignment_required_positive"),
        ]
        indexes = [models.Index(fields=["tenant", "due_on"]), models.Index(fields=["tenant", "partner"])]

    def __str__(self) -> str:
        what = self.asset or self.learning_path
        return f"{what} → {self.get_target_display()}"


class Verb(models.TextChoices):
    TRAINING_STARTED = "training.started", _("Training started")
    TRAINING_PROGRESSED = "training.progressed", _("Training progressed")
    TRAINING_COMPLETED = "training.completed", _("Training completed")
    DOCUMENT_VIEWED = "document.viewed", _("Document viewed")
    DOCUMENT_DOWNLOADED = "document.downloaded", _("Document downloaded")
    DOCUMENT_READ = "document.read", _("Document read (minimum time)")
    FAQ_SEARCHED = "faq.searched", _("FAQ searched")
    FAQ_VIEWED = "faq.viewed", _("FAQ viewed")
    FAQ_FEEDBACK = "faq.feedback", _("FAQ feedback")
    PORTAL_LOGIN = "portal.login", _("Portal login")
    ASSESSMENT_ATTEMPTED = "assessment.attempted", _("Assessment attempted")
    ASSESSMENT_PASSED = "assessment.passed", _("Assessment passed")
    ASSESSMENT_FAILED = "assessment.failed", _("Assessment failed")


class EventSource(models.TextChoices):
    PORTAL = "portal", _("Portal")
    API = "api", _("API")
    XAPI = "xapi", _("xAPI")
    IMPORT = "import", _("Import")


class ActivityEvent(TenantOwnedModel):
    """The append-only activity log: one row per thing that happened.

    UPDATE and DELETE are refused by database triggers (SQLite and PostgreSQL migrations).
    Written only through ``enablement.services.log.activity_record`` (and its batch form).
    """

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_ref = models.CharField(max_length=300, blank=True, default="")
    asset = models.ForeignKey(Asset, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    verb = models.CharField(max_length=32, choices=Verb.choices)
    occurred_at = models.DateTimeField()
    # Set by the database's clock on insert (one clock for every web node; rollups watermark on it).
    received_at = models.DateTimeField(db_default=Now())
    progress = models.FloatField(null=True, blank=True)
    seconds = models.FloatField(null=True, blank=True)
    position = models.FloatField(null=True, blank=True)
    played_segments = models.JSONField(null=True, blank=True)
    query = models.CharField(max_length=300, blank=True, default="")
    result_count = models.IntegerField(null=True, blank=True)
    resolved = models.BooleanField(null=True, blank=True)
    source = models.CharField(max_length=16, choices=EventSource.choices, default=EventSource.PORTAL)
    event_id = models.CharField(max_length=100)
    session_key = models.CharField(max_length=64, blank=True, default="")
    extra = models.JSONField(default=dict, blank=True)
    # Who vouches for a completion: NULL = decided by this server (portal, import), True/False =
    # an external system whose API key is / is not a trusted source. False never completes.
    trusted = models.BooleanField(null=True, blank=True)

    class Meta:
        verbose_name = _("activity event")
        verbose_name_plural = _("activity events")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "source", "event_id"], name="uniq_event_id_per_source"),
        ]
        indexes = [
            models.Index(fields=["tenant", "received_at"], name="event_tenant_received"),
            models.Index(fields=["tenant", "occurred_at"], name="event_tenant_occurred"),
            models.Index(fields=["tenant", "partner", "asset", "verb"], name="event_partner_asset"),
            models.Index(fields=["tenant", "user", "asset", "verb"], name="event_user_asset"),
            # the rollup's per-event lookups: a user's earlier events of one verb around a time
            # (distinct users of a day, FAQ searches and what followed them)
            models.Index(fields=["tenant", "user", "verb", "occurred_at"], name="event_user_verb_time"),
        ]

    def __str__(self) -> str:
        return f"{self.verb} {self.occurred_at:%Y-%m-%d %H:%M}"


class ActivityEventKey(TenantOwnedModel):
    """The log's idempotency key ``(tenant, source, event_id)``, kept apart from the events.

    PostgreSQL only (empty on SQLite, where the log's own unique constraint does the job): the log
    is partitioned by month, and a unique index of a partitioned table must contain the partition
    key, so the key of every event ever stored lives here, written in the same statement as the
    event (``enablement.services.log``; a row trigger on the log writes it for any other insert).
    Keys outlive retention: an archived event sent again is still a duplicate.
    """

    pk = models.CompositePrimaryKey("tenant", "source", "event_id")
    source = models.CharField(max_length=16, choices=EventSource.choices)
    event_id = models.CharField(max_length=100)

    class Meta:
        verbose_name = _("activity event key")
        verbose_name_plural = _("activity event keys")

    def __str__(self) -> str:
        return f"{self.source}:{self.event_id}"


class ActivityArchive(TenantOwnedModel):
    """One archived month of a tenant's log: the gzip-compressed JSON-lines file on the media
    storage that holds the month's events after retention removed them from the log
    (``enablement.services.retention``). Written only after the file was read back and verified."""

    month = models.DateField(help_text="First day of the tenant-local month.")
    path = models.CharField(max_length=300)
    manifest_path = models.CharField(max_length=300)
    rows = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("archived month of the activity log")
        verbose_name_plural = _("archived months of the activity log")
        ordering = ["month", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "path"], name="uniq_activity_archive_path")]
        indexes = [models.Index(fields=["tenant", "month"], name="activity_archive_month")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} ({self.rows})"


class PlaySession(TenantOwnedModel):
    """A server-side play session of one user on one training, started when the player page opens
    (and a reading session on a document completed by reading time: ``enablement.services.reading``).

    Watch time is credited only within it: never more than the wall-clock time elapsed since
    ``started_at`` times the maximum playback rate. The page carries a signed token naming the
    session, the user and the asset (``enablement.services.training``).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="+")
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    credited_seconds = models.FloatField(default=0.0)

    class Meta:
        verbose_name = _("play session")
        verbose_name_plural = _("play sessions")
        indexes = [models.Index(fields=["tenant", "user", "asset", "-started_at"], name="play_session_user_asset")]

    def __str__(self) -> str:
        return f"{self.user_id}/{self.asset_id} {self.started_at:%Y-%m-%d %H:%M}"


class RefusalReason(models.TextChoices):
    VERB_KIND = "verb_kind", _("Verb does not fit the asset kind")
    BEFORE_TENANT = "before_tenant", _("Happened before the tenant existed")
    BEFORE_ASSET = "before_asset", _("Happened before the asset existed")
    FUTURE = "future", _("Lies ahead of the server clock")
    OUTSIDE_AUDIENCE = "outside_audience", _("Partner outside the asset's audience")
    UNKNOWN_PARTNER = "unknown_partner", _("Unknown partner")
    UNKNOWN_ASSET = "unknown_asset", _("Unknown asset")
    SERVER_ONLY = "server_only", _("Only this server records this verb")
    INVALID = "invalid", _("Malformed event")


class IngestRefusal(TenantOwnedModel):
    """How many events an external source sent that ingestion refused, per day and reason.

    A counter, not a copy: the refused payloads are answered to the sender and not kept. Written
    by ``enablement.validation.refusals_record``; read by the measurement-health page.
    """

    day = models.DateField()
    source = models.CharField(max_length=16, choices=EventSource.choices)
    reason = models.CharField(max_length=32, choices=RefusalReason.choices)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("refused events")
        verbose_name_plural = _("refused events")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "day", "source", "reason"], name="uniq_ingest_refusal"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.source} {self.reason}: {self.count}"


# --- FAQ search -------------------------------------------------------------------------------------


class FaqField(models.TextChoices):
    TITLE = "title", _("Question")
    KEYWORDS = "keywords", _("Category and tags")
    BODY = "body", _("Answer")


class FaqTerm(TenantOwnedModel):
    """The search index of FAQs: one row per (FAQ, analysed term, field), written by
    ``enablement.search.index`` whenever an FAQ is saved. The same table and the same queries
    serve SQLite and PostgreSQL."""

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="+")
    term = models.CharField(max_length=100)
    field = models.CharField(max_length=8, choices=FaqField.choices)
    count = models.PositiveSmallIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "asset", "term", "field"], name="uniq_faq_term"),
        ]
        indexes = [models.Index(fields=["tenant", "term"], name="faq_term_lookup")]

    def __str__(self) -> str:
        return f"{self.term} ({self.field})"


class FaqSynonym(TenantOwnedModel):
    """Words a tenant's partners use for the same thing (値引き, ディスカウント, 割引): a search for one
    also finds FAQs that use another."""

    terms = models.CharField(
        _("words that mean the same"),
        max_length=500,
        help_text=_("Separate the words or phrases with commas, e.g. 値引き, ディスカウント, discount."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("FAQ synonym")
        verbose_name_plural = _("FAQ synonyms")
        ordering = ["terms", "id"]
        indexes = [models.Index(fields=["tenant", "updated_at"], name="faq_synonym_tenant")]

    def __str__(self) -> str:
        return self.terms

    @property
    def term_list(self) -> list[str]:
        return split_synonyms(self.terms)


def split_synonyms(value: str) -> list[str]:
    """``"値引き、ディスカウント, discount"`` → ``["値引き", "ディスカウント", "discount"]`` (deduplicated)."""
    seen: list[str] = []
    for item in value.replace("、", ",").replace("，", ",").split(","):
        item = " ".join(item.split())
        if item and item.lower() not in (s.lower() for s in seen):
            seen.append(item)
    return seen


class FaqQuestionStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ANSWERED = "answered", _("Answered")


class FaqQuestion(TenantOwnedModel):
    """A partner user's question sent to their channel manager from a search that found nothing
    (a support request). Answered when a manager publishes an FAQ created from it."""

    partner = models.ForeignKey(Partner, verbose_name=_("partner"), on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("asked by"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    query = models.CharField(_("search"), max_length=300)
    message = models.TextField(_("question"), max_length=2000)
    status = models.CharField(
        _("status"), max_length=16, choices=FaqQuestionStatus.choices, default=FaqQuestionStatus.OPEN
    )
    answer = models.ForeignKey(
        Asset, verbose_name=_("answered by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("asked"), default=timezone.now, editable=False)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)

    class Meta:
        verbose_name = _("partner question")
        verbose_name_plural = _("partner questions")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "status", "created_at"], name="faq_question_status")]

    def __str__(self) -> str:
        return self.query
