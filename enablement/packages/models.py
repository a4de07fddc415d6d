"""A training's package (SCORM 1.2, SCORM 2004, cmi5) and each learner's attempt on it."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from enablement.models import Asset
from partners.models import Partner
from partners.tenancy import TenantOwnedModel


class Standard(models.TextChoices):
    SCORM12 = "scorm12", "SCORM 1.2"
    SCORM2004 = "scorm2004", "SCORM 2004"
    CMI5 = "cmi5", "cmi5"


class Package(TenantOwnedModel):
    """One uploaded zip of a training, unpacked under ``folder`` on the private storage.

    A new upload adds a version; the highest version is the one learners launch. ``files`` lists
    every unpacked file as ``[path, size]``: only these paths are ever served.
    """

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="packages")
    version = models.PositiveIntegerField(_("version"))
    standard = models.CharField(_("standard"), max_length=16, choices=Standard.choices)
    edition = models.CharField(_("edition"), max_length=50, blank=True, default="")
    title = models.CharField(_("title"), max_length=300, blank=True, default="")
    launch_path = models.CharField(_("launch file"), max_length=1000)
    launch_query = models.CharField(max_length=1000, blank=True, default="")
    folder = models.CharField(max_length=300, editable=False)
    files = models.JSONField(default=list, editable=False)
    file_count = models.PositiveIntegerField(_("files"), default=0)
    total_size = models.PositiveBigIntegerField(_("unpacked size"), default=0)
    original_name = models.CharField(_("file name"), max_length=255)
    size = models.PositiveBigIntegerField(_("zip size"), default=0)
    sha256 = models.CharField(max_length=64)
    mastery_score = models.FloatField(_("mastery score"), null=True, blank=True)
    # cmi5: the AU's activity id and its moveOn criterion
    activity_id = models.CharField(max_length=1000, blank=True, default="")
    move_on = models.CharField(max_length=40, blank=True, default="")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("uploaded"), default=timezone.now)

    class Meta:
        verbose_name = _("course package")
        verbose_name_plural = _("course packages")
        ordering = ["-version"]
        constraints = [models.UniqueConstraint(fields=["tenant", "asset", "version"], name="uniq_package_version")]

    def __str__(self) -> str:
        return f"{self.original_name} v{self.version}"


class Attempt(TenantOwnedModel):
    """One learner's attempt on one package: the CMI data the runtime committed last, the bookmark
    and suspend data restored on the next launch, and what has been credited and logged."""

    package = models.ForeignKey(Package, on_delete=models.CASCADE, related_name="attempts")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    registration = models.UUIDField(default=uuid.uuid4, editable=False)
    cmi = models.JSONField(default=dict, blank=True)
    location = models.CharField(_("bookmark"), max_length=1000, blank=True, default="")
    suspend_data = models.TextField(blank=True, default="")
    completion_status = models.CharField(_("completion"), max_length=20, blank=True, default="")
    success_status = models.CharField(_("success"), max_length=20, blank=True, default="")
    score_raw = models.FloatField(_("score"), null=True, blank=True)
    score_scaled = models.FloatField(null=True, blank=True)
    seconds = models.FloatField(_("time credited (seconds)"), default=0.0)
    # session time the content reported in the current launch (credited up to the wall clock)
    launch_reported = models.FloatField(default=0.0)
    launches = models.PositiveIntegerField(default=0)
    commits = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen"), default=timezone.now)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)

    class Meta:
        verbose_name = _("package attempt")
        verbose_name_plural = _("package attempts")
        ordering = ["-last_seen_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "package", "user"], name="uniq_package_attempt")]

    def __str__(self) -> str:
        return f"{self.package_id}/{self.user_id}"


class Cmi5Launch(TenantOwnedModel):
    """One launch of a cmi5 AU (a cmi5 *session*): the one-time fetch URL's secret and the
    auth token the AU gets from it (both kept only as SHA-256), valid until ``expires_at``; the
    time credited in this launch (never more than the wall clock since ``created_at``)."""

    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="cmi5_launches")
    session_id = models.UUIDField(default=uuid.uuid4, editable=False)
    actor_key = models.CharField(max_length=500, blank=True, default="")
    fetch_hash = models.CharField(max_length=64)
    token_hash = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    fetched_at = models.DateTimeField(null=True, blank=True)
    terminated_at = models.DateTimeField(null=True, blank=True)
    reported = models.FloatField(default=0.0)
    credited = models.FloatField(default=0.0)

    class Meta:
        verbose_name = _("cmi5 launch")
        verbose_name_plural = _("cmi5 launches")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.attempt_id}/{self.session_id}"
