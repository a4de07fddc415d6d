"""An assessment's settings, its question bank and the attempts at it.

The asset itself is an ``enablement.Asset`` of kind ``assessment``; ``AssessmentSettings`` holds
what only an assessment has. Correct answers live here and never reach the portal before an
attempt is graded (``enablement.assessments.grading`` grades, on the server only).
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from enablement.models import Asset
from partners.models import Partner
from partners.tenancy import TenantOwnedModel


class AssessmentSettings(TenantOwnedModel):
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="+")
    pass_mark = models.PositiveSmallIntegerField(
        _("pass mark (%)"), default=70, validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("The score (percent of the questions drawn) an attempt needs to pass."),
    )
    attempt_limit = models.PositiveSmallIntegerField(
        _("attempts allowed"), default=3, validators=[MaxValueValidator(100)], help_text=_("0 = unlimited.")
    )
    time_limit_minutes = models.PositiveSmallIntegerField(
        _("time limit (minutes)"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(600)],
        help_text=_("Leave empty for no time limit."),
    )
    draw_count = models.PositiveSmallIntegerField(
        _("questions per attempt"), default=0, validators=[MaxValueValidator(500)],
        help_text=_("How many questions each attempt draws from the bank at random. 0 = all."),
    )
    shuffle = models.BooleanField(_("random order"), default=True, help_text=_("Shuffle questions and choices per attempt."))

    class Meta:
        verbose_name = _("assessment settings")
        verbose_name_plural = _("assessment settings")
        constraints = [models.UniqueConstraint(fields=["tenant", "asset"], name="uniq_assessment_settings")]

    def __str__(self) -> str:
        return str(self.asset)


class QuestionKind(models.TextChoices):
    SINGLE = "single", _("Single choice")
    MULTIPLE = "multiple", _("Multiple choice")
    TRUE_FALSE = "true_false", _("True / false")
    SHORT = "short", _("Short answer")


class ShortMatch(models.TextChoices):
    EXACT = "exact", _("Exact (ignores case, full/half width and spacing)")
    PATTERN = "pattern", _("Pattern (regular expression, whole answer)")


class Question(TenantOwnedModel):
    """One question of an assessment's bank.

    single / multiple: ``choices``; true/false: ``correct_true``; short: ``accepted_answers`` (one
    per line) or ``pattern``. Multiple choice scores partially unless ``all_or_nothing``
    (``enablement.assessments.grading``).
    """

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="questions")
    kind = models.CharField(_("type"), max_length=16, choices=QuestionKind.choices)
    text = models.TextField(_("question"), max_length=2000)
    position = models.PositiveIntegerField(_("position"), default=0)
    all_or_nothing = models.BooleanField(
        _("all or nothing"), default=False,
        help_text=_("Multiple choice: full marks only for exactly the correct set, otherwise 0."),
    )
    correct_true = models.BooleanField(_("the statement is true"), null=True, blank=True)
    short_match = models.CharField(_("answer check"), max_length=8, choices=ShortMatch.choices, default=ShortMatch.EXACT)
    accepted_answers = models.TextField(_("accepted answers"), blank=True, default="", max_length=2000,
                                        help_text=_("One per line."))
    pattern = models.CharField(_("pattern"), max_length=200, blank=True, default="")
    explanation = models.TextField(_("explanation"), blank=True, default="", max_length=2000,
                                   help_text=_("Shown with the correct answer once it may be revealed."))
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["tenant", "asset", "position"], name="assessment_question_order")]

    def __str__(self) -> str:
        return self.text[:80]

    @property
    def accepted_list(self) -> list[str]:
        return [line.strip() for line in self.accepted_answers.splitlines() if line.strip()]


class Choice(TenantOwnedModel):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="choices")
    text = models.CharField(_("choice"), max_length=500)
    is_correct = models.BooleanField(_("correct"), default=False)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("choice")
        verbose_name_plural = _("choices")
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["tenant", "question"], name="assessment_choice_question")]

    def __str__(self) -> str:
        return self.text


class AttemptStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("attempt", "In progress")
    GRADED = "graded", _("Graded")


class Attempt(TenantOwnedModel):
    """One attempt of one user at one assessment, created on the server when it starts.

    The drawn questions and their order (``question_ids``, ``choice_order``), ``started_at`` and
    ``deadline`` are fixed on the server. ``number`` counts the user's attempts at the asset; the
    unique key on it makes two concurrent starts unable to take the same slot, so the attempt
    limit holds. ``results`` keeps, per question id, the score (0..1) and the answer given.
    """

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    number = models.PositiveIntegerField(_("attempt"))
    status = models.CharField(_("status"), max_length=8, choices=AttemptStatus.choices, default=AttemptStatus.OPEN)
    started_at = models.DateTimeField(_("started"))
    deadline = models.DateTimeField(_("deadline"), null=True, blank=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    question_ids = models.JSONField(default=list)
    choice_order = models.JSONField(default=dict)
    pass_mark = models.PositiveSmallIntegerField(_("pass mark (%)"))
    score = models.FloatField(_("score"), null=True, blank=True, help_text=_("0..1"))
    passed = models.BooleanField(_("passed"), null=True, blank=True)
    timed_out = models.BooleanField(_("timed out"), default=False)
    results = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("attempt")
        verbose_name_plural = _("attempts")
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user", "asset", "number"], name="uniq_attempt_number"),
            models.CheckConstraint(condition=Q(score__isnull=True) | (Q(score__gte=0) & Q(score__lte=1)),
                                   name="attempt_score_range"),
        ]
        indexes = [
            models.Index(fields=["tenant", "asset", "-started_at"], name="attempt_asset_started"),
            models.Index(fields=["tenant", "user", "asset"], name="attempt_user_asset"),
        ]

    def __str__(self) -> str:
        return f"{self.asset_id}/{self.user_id} #{self.number}"

    @property
    def percent(self) -> float | None:
        return None if self.score is None else round(self.score * 100, 1)
