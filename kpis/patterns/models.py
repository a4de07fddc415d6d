"""Success patterns (DESIGN.md, "Success patterns"): one mining run and its per-item lift table.
The tables keep their old names (``kpis_patternrun``, ``kpis_patternitem``)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from enablement.models import Asset, LearningPath
from partners.models import SupportActivityKind
from partners.tenancy import TenantOwnedModel


class OutcomeMetric(models.TextChoices):
    REVENUE = "revenue", _("Won revenue")
    DEALS = "deals", _("Won deals")


class PatternRun(TenantOwnedModel):
    """One computation of the success patterns for a tenant, with its window and parameters."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        OK = "ok", _("Done")
        INSUFFICIENT = "insufficient", _("Not enough data")
        FAILED = "failed", _("Failed")

    window_start = models.DateField(_("window start"))
    window_end = models.DateField(_("window end"), help_text=_("Inclusive."))
    top_share = models.DecimalField(_("top share"), max_digits=4, decimal_places=3, default=0.2)
    metric = models.CharField(_("outcome metric"), max_length=16, choices=OutcomeMetric.choices, default=OutcomeMetric.REVENUE)
    top_n = models.PositiveIntegerField(_("top partners"), default=0)
    other_n = models.PositiveIntegerField(_("other partners"), default=0)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.RUNNING)
    note = models.TextField(_("note"), blank=True, default="")
    playbook = models.ForeignKey(
        LearningPath, verbose_name=_("playbook"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    computed_at = models.DateTimeField(_("computed"), default=timezone.now)

    class Meta:
        db_table = "kpis_patternrun"
        verbose_name = _("success pattern run")
        verbose_name_plural = _("success pattern runs")
        ordering = ["-computed_at", "-id"]
        indexes = [models.Index(fields=["tenant", "status", "computed_at"], name="pattern_run_latest")]

    def __str__(self) -> str:
        return f"{self.window_start}–{self.window_end} ({self.get_status_display()})"


# Below this many partners on either side (top partners / the others) for whom the item existed
# before their cutoff, an item shows "too early to tell" instead of a lift (docs/kpis.md).
MIN_SAMPLE = 5


class PatternItemType(models.TextChoices):
    ASSET = "asset", _("Asset")
    LEARNING_PATH = "learning_path", _("Learning path")
    SUPPORT_ACTIVITY_KIND = "support_activity_kind", _("Support activity")


class PatternItem(TenantOwnedModel):
    """Share of top partners vs other partners that consumed an item before their first win, over
    the partners for whom the item existed before their cutoff (``top_n`` / ``other_n``)."""

    run = models.ForeignKey(PatternRun, on_delete=models.CASCADE, related_name="items")
    rank = models.PositiveIntegerField(_("rank"), default=0)
    item_type = models.CharField(_("type"), max_length=32, choices=PatternItemType.choices)
    asset = models.ForeignKey(Asset, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    path = models.ForeignKey(LearningPath, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    activity_kind = models.CharField(max_length=16, blank=True, default="", choices=SupportActivityKind.choices)
    top_count = models.PositiveIntegerField(default=0)
    top_n = models.PositiveIntegerField(default=0)
    other_count = models.PositiveIntegerField(default=0)
    other_n = models.PositiveIntegerField(default=0)
    share_top = models.FloatField(default=0)
    share_other = models.FloatField(default=0)
    lift = models.FloatField(null=True, blank=True)
    ci_low = models.FloatField(null=True, blank=True)
    ci_high = models.FloatField(null=True, blank=True)
    median_days_from_joining = models.FloatField(null=True, blank=True)
    typical_order = models.FloatField(null=True, blank=True, help_text="Median rank of first consumption among top partners.")

    class Meta:
        db_table = "kpis_patternitem"
        verbose_name = _("success pattern item")
        verbose_name_plural = _("success pattern items")
        ordering = ["run", "rank"]
        indexes = [models.Index(fields=["tenant", "run", "rank"], name="pattern_item_run_rank")]

    def __str__(self) -> str:
        return f"{self.label} ×{self.lift}"

    @property
    def too_early(self) -> bool:
        """Too few partners for whom the item existed before their cutoff to judge a lift."""
        return self.top_n < MIN_SAMPLE or self.other_n < MIN_SAMPLE

    @property
    def significant(self) -> bool:
        return not self.too_early and self.ci_low is not None and self.ci_low > 1

    @property
    def less_common_in_top(self) -> bool:
        return not self.too_early and self.ci_high is not None and self.ci_high < 1

    @property
    def label(self) -> str:
        if self.item_type == PatternItemType.ASSET and self.asset_id:
            return self.asset.title
        if self.item_type == PatternItemType.LEARNING_PATH and self.path_id:
            return self.path.title
        return str(self.get_activity_kind_display())
