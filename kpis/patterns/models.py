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
    # The size of each cohort in the run's stored ranking (``PatternRank``), e.g. {"top": 3, ...}; None:
    # no stored ranking (a run from before it was stored, or one replaced by a newer run of the same
    # window length, share and metric).
    cohort_sizes = models.JSONField(_("cohort sizes"), null=True, blank=True, editable=False)

    class Meta:
        db_table = "kpis_patternrun"
        verbose_name = _("success pattern run")
        verbose_name_plural = _("success pattern runs")
        ordering = ["-computed_at", "-id"]
        indexes = [models.Index(fields=["tenant", "status", "computed_at"], name="pattern_run_latest")]

    def __str__(self) -> str:
        return f"{self.window_start}–{self.window_end} ({self.get_status_display()})"

    @property
    def window_days(self) -> int:
        return (self.window_end - self.window_start).days + 1


class PatternRank(TenantOwnedModel):
    """One partner of a run's stored cohorts: its outcome in the run's window (as of the run), its
    cohort and its place in that cohort's list, so the page reads a list one page at a time from an
    index instead of ranking every partner per request. Written by ``selectors.store_cohorts`` when a
    run is computed; the cohorts and places are recomputed from these figures when a manager changes a
    partner's cohort override (``selectors.restore_cohorts``)."""

    run = models.ForeignKey(PatternRun, on_delete=models.CASCADE, related_name="ranks")
    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="+")
    won_revenue = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    won_count = models.PositiveIntegerField(default=0)
    first_win_on = models.DateField(null=True, blank=True)
    value = models.DecimalField(max_digits=18, decimal_places=2, default=0, help_text="The outcome ranked.")
    cohort = models.CharField(max_length=16)
    pos = models.PositiveIntegerField(help_text="Place in the cohort's list (1-based).")
    pos_kana = models.PositiveIntegerField(help_text="Place in the list in Japanese order (differs for excluded).")
    bottom = models.BooleanField(default=False, help_text="In the bottom cohort by outcome.")
    nurturing = models.BooleanField(default=False, help_text="The partner's status was nurturing when placed.")

    class Meta:
        db_table = "kpis_patternrank"
        verbose_name = _("success pattern cohort place")
        verbose_name_plural = _("success pattern cohort places")
        constraints = [models.UniqueConstraint(fields=["tenant", "run", "partner"], name="pattern_rank_run_partner")]
        indexes = [
            models.Index(fields=["tenant", "run", "cohort", "pos"], name="pattern_rank_page"),
            models.Index(fields=["tenant", "run", "cohort", "pos_kana"], name="pattern_rank_page_kana"),
        ]


class AdoptionRanking(TenantOwnedModel):
    """The playbook adoption table's order as of the last KPI run that consumed the tenant's input
    markers (``selectors.store_adoption``): the partners assigned the playbook, numbered in the table's
    order (``AdoptionRank``), and how many. The page reads a page of it by place while no input marker
    is pending and it was ranked with the playbook's current items; otherwise it ranks live."""

    path = models.ForeignKey(LearningPath, on_delete=models.CASCADE, related_name="+")
    asset_ids = models.JSONField(default=list, help_text="The playbook's assets it was ranked with, sorted.")
    total = models.PositiveIntegerField(default=0, help_text="Partners assigned the playbook.")
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "kpis_adoptionranking"
        verbose_name = _("playbook adoption ranking")
        verbose_name_plural = _("playbook adoption rankings")
        constraints = [models.UniqueConstraint(fields=["tenant", "path"], name="adoption_ranking_path")]


class AdoptionRank(TenantOwnedModel):
    """One partner's place in a stored adoption table (1-based, most of the playbook done first, then
    by name) and when the playbook was first assigned to it."""

    ranking = models.ForeignKey(AdoptionRanking, on_delete=models.CASCADE, related_name="ranks")
    partner = models.ForeignKey("partners.Partner", on_delete=models.CASCADE, related_name="+")
    pos = models.PositiveIntegerField(help_text="Place in the adoption table (1-based).")
    first_assigned_at = models.DateTimeField()

    class Meta:
        db_table = "kpis_adoptionrank"
        verbose_name = _("playbook adoption place")
        verbose_name_plural = _("playbook adoption places")
        constraints = [models.UniqueConstraint(fields=["tenant", "ranking", "partner"], name="adoption_rank_partner")]
        indexes = [models.Index(fields=["tenant", "ranking", "pos"], name="adoption_rank_page")]


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
