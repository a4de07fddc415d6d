"""What it means: rollup facts built from the activity log, KPI definitions (targets) and results.

Every fact table carries ``tenant`` and is unique on its grain including the tenant.
Facts are windowed recomputes: the rollup deletes the touched days (or pairs) and inserts
them again from the log in one set-based statement, so a rerun changes nothing.

The derived tables (DailyActivityFact, DailySourceFact, FaqSearchFact, UserAssetState,
PartnerAssetState and MergedEvent) carry no database foreign-key constraints
(``db_constraint=False``): they are caches of the append-only log, rebuilt from it by a full
recompute, and Django's constraints are DEFERRABLE INITIALLY DEFERRED, so every row a recompute
inserted queued a per-row check that ran at COMMIT (111.6 s of a 351 s recompute at 1.1M events).
The rollup only writes ids it read from the log (whose own keys are enforced); deleting a tenant,
partner, asset or user still removes their rows, because ``on_delete=CASCADE`` is Django's (it
collects and deletes them in Python), not the database's. A raw SQL delete of a partner, asset or
user would leave orphans behind that the next full recompute drops. KPI definitions, targets,
results, snapshots and frozen pairs are not derived from the log and keep their constraints.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from enablement.models import Asset
from partners.models import Partner, PartnerTier
from partners.tenancy import TenantOwnedModel


def DerivedTenantKey() -> models.ForeignKey:  # noqa: N802 (reads as a field class)
    """The ``tenant`` key of a derived (rebuildable) table: as ``TenantOwnedModel``'s, without the
    database constraint (see the module docstring); a deleted tenant's rows still go by CASCADE.
    No index of its own: every index and unique constraint of these tables starts with
    ``tenant_id`` and serves a tenant's rows (the CASCADE, the row-level security filter), while a
    single-column index would be one more index maintained per row written (kpis 0029)."""
    return models.ForeignKey(
        "partners.Tenant", on_delete=models.CASCADE, related_name="+", editable=False, db_constraint=False,
        db_index=False,
    )


class DailyActivityFact(TenantOwnedModel):
    """Per (tenant, day in the tenant's time zone, partner, asset, verb)."""

    tenant = DerivedTenantKey()

    day = models.DateField()
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    asset = models.ForeignKey(Asset, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    verb = models.CharField(max_length=32)
    event_count = models.PositiveIntegerField(default=0)
    user_count = models.PositiveIntegerField(default=0)
    max_progress = models.FloatField(null=True, blank=True)
    negative_count = models.PositiveIntegerField(
        default=0, db_default=0, help_text="Events answered 'no' (resolved = false): FAQ feedback."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "day", "partner", "asset", "verb"],
                condition=Q(asset__isnull=False),
                name="uniq_daily_fact_asset",
            ),
            models.UniqueConstraint(
                fields=["tenant", "day", "partner", "verb"], condition=Q(asset__isnull=True), name="uniq_daily_fact_noasset"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "day"], name="daily_fact_tenant_day"),
            models.Index(fields=["tenant", "asset", "day"], name="daily_fact_asset_day"),
            # the partners dashboard: one partner's figures over a period, sorted in SQL
            models.Index(fields=["tenant", "partner", "day"], name="daily_fact_partner_day"),
        ]


class PartnerAssetState(TenantOwnedModel):
    """Completion state per (partner, asset): what the enablement completion rate reads."""

    tenant = DerivedTenantKey()

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    first_activity_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    first_completed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the partner first completed it (for a training: a user crossed the threshold)."
    )
    completed_users = models.PositiveIntegerField(default=0)
    active_users = models.PositiveIntegerField(default=0)
    max_progress = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "partner", "asset"], name="uniq_partner_asset_state")]
        indexes = [models.Index(fields=["tenant", "asset"], name="pas_tenant_asset")]


class UserAssetState(TenantOwnedModel):
    """Completion state per (user, partner, asset): each event counts for the partner the user
    belonged to when it happened, so a user who moves to another partner leaves their past
    completions with the old one."""

    tenant = DerivedTenantKey()

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    first_activity_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    first_completed_at = models.DateTimeField(null=True, blank=True)
    watched_share = models.FloatField(default=0, help_text="Union of played segments / duration, 0..1.")
    max_progress = models.FloatField(null=True, blank=True)
    seconds = models.FloatField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user", "partner", "asset"], name="uniq_user_partner_asset_state")
        ]
        indexes = [models.Index(fields=["tenant", "partner", "asset"], name="uas_partner_asset")]


class FrozenPair(TenantOwnedModel):
    """An assigned ``(partner, asset)`` pair as it was targeted when its due date passed.

    Written once by ``kpis.targeting.pairs_freeze`` for every pair whose due date is over, with the
    partner's tier and segment at that time; never updated. The completion rate of a period reads
    these rows for due dates already frozen, so later changes of tiers, segments, learning paths,
    asset status or assignments do not rewrite closed periods.
    """

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="+")
    due_on = models.DateField()
    required_completions = models.PositiveSmallIntegerField(default=1)
    tier = models.ForeignKey(PartnerTier, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    segment = models.CharField(max_length=100, blank=True, default="")
    frozen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "partner", "asset"], name="uniq_frozen_pair")]
        indexes = [models.Index(fields=["tenant", "due_on"], name="frozen_pair_due")]


class PartnerSnapshot(TenantOwnedModel):
    """A partner's tier, segment and status from ``since`` on, as the KPI computation saw them.

    Written by ``kpis.targeting.partners_snapshot`` (run with ``pairs_freeze`` before every KPI
    computation) only when any of them differs from the partner's latest snapshot, with
    ``since`` = the first day not yet frozen; never updated. A closed period reads the snapshot in
    force on its last day, so changing a tier, segment or status never rewrites a closed period of
    any tier- or segment-filtered KPI or of the active-partner rate. Days before a partner's first
    snapshot use that snapshot.
    """

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    since = models.DateField()
    tier = models.ForeignKey(PartnerTier, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    segment = models.CharField(max_length=100, blank=True, default="")
    status = models.CharField(max_length=16, blank=True, default="")
    taken_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "partner", "since"], name="uniq_partner_snapshot")]


class RequirementSnapshot(TenantOwnedModel):
    """How many certified people a tier required of one certification from ``since`` on, as the KPI
    computation saw it (``required_people`` 0: not required any more).

    Written by ``kpis.targeting.requirements_snapshot`` (run with ``partners_snapshot`` before every KPI
    computation) only when a tier's requirement differs from its latest snapshot, with ``since`` = the
    first day not yet frozen; the tenant's first snapshots are valid from the start (what is required now
    is all that is known of the past). A closed period's certified-partner rate reads the requirements in
    force on its last day, so adding, raising or removing a requirement never rewrites a closed period.
    """

    tier = models.ForeignKey(PartnerTier, on_delete=models.CASCADE, related_name="+")
    certification = models.ForeignKey("certifications.Certification", on_delete=models.CASCADE, related_name="+")
    since = models.DateField()
    required_people = models.PositiveSmallIntegerField()
    taken_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "tier", "certification", "since"], name="uniq_requirement_snapshot")
        ]


class PairFreeze(TenantOwnedModel):
    """How far the tenant's pairs are frozen: every pair due on or before ``frozen_through``."""

    frozen_through = models.DateField()
    frozen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant"], name="uniq_pair_freeze")]


class FaqSearchFact(TenantOwnedModel):
    """Daily FAQ search facts per normalised keyword and partner."""

    tenant = DerivedTenantKey()

    day = models.DateField()
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    query = models.CharField(max_length=300)
    searches = models.PositiveIntegerField(default=0)
    zero_result_searches = models.PositiveIntegerField(default=0)
    unresolved_searches = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "day", "partner", "query"], name="uniq_faq_search_fact"),
        ]
        indexes = [models.Index(fields=["tenant", "day"], name="faq_fact_tenant_day")]


class DailySourceFact(TenantOwnedModel):
    """Per (tenant, day in the tenant's time zone, source, verb): how many events each source
    (portal, API, xAPI, import) sent, and how many of them came from an API key that is not a
    trusted source (they never count as completions). Read by the measurement-health page."""

    tenant = DerivedTenantKey()

    day = models.DateField()
    source = models.CharField(max_length=16)
    verb = models.CharField(max_length=32)
    event_count = models.PositiveIntegerField(default=0)
    untrusted_count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "day", "source", "verb"], name="uniq_daily_source_fact"),
        ]
        indexes = [models.Index(fields=["tenant", "day"], name="daily_source_fact_day")]


class MergedEvent(TenantOwnedModel):
    """An event already merged into the daily facts (the rollup's seen-events set).

    Written in the same transaction as the additive upserts of the facts, so an event is counted
    exactly once even when the incremental window overlaps the previous one or a killed run is
    redelivered. Only events received after the settled boundary (``watermark - overlap``) are
    kept: older ones can never be looked at again by an incremental run, so the table stays as
    small as the overlap."""

    # no index of its own: the unique (tenant, event id) index must be the one every probe uses
    tenant = models.ForeignKey("partners.Tenant", on_delete=models.CASCADE, related_name="+", editable=False, db_index=False,
                               db_constraint=False)
    event_id = models.BigIntegerField(help_text="ActivityEvent id (no foreign key: the log is partitioned).")
    received_at = models.DateTimeField()
    batch = models.PositiveBigIntegerField(default=0, help_text="RollupState.merge_batch of the run that merged it.")

    class Meta:
        # One index only: every probe of the set is by (tenant, event id). The table's content is
        # replaced run after run, so its statistics are always stale; with a second index (the
        # tenant's) the planner picked that one and scanned the whole set per probe.
        constraints = [models.UniqueConstraint(fields=["tenant", "event_id"], name="uniq_merged_event")]


class RollupState(TenantOwnedModel):
    """The watermark of a tenant's incremental rollup (a FillState, as in Zulip's analytics).

    ``requested``: "Refresh now" was asked and the job is queued (or the queue was unreachable:
    the next scheduled rollup picks it up). ``running``: a run holds the lease, renewed by its
    heartbeat; a run whose lease ran out (its worker was killed) is *stale* (``effective_status``)
    and the next run takes the state over. Times are the database's clock.
    """

    class Status(models.TextChoices):
        IDLE = "idle", _("Idle")
        REQUESTED = "requested", _("Requested")
        RUNNING = "running", _("Running")
        FAILED = "failed", _("Failed")

    STALE = "stale"

    watermark = models.DateTimeField(null=True, blank=True, help_text="Events received up to here are rolled up.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.IDLE)
    requested_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    run_id = models.CharField(max_length=32, blank=True, default="", help_text="The run holding the lease.")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True, help_text="A running run not renewed by then is stale.")
    kpis_computed_at = models.DateTimeField(null=True, blank=True)
    kpis_full_on = models.DateField(
        null=True, blank=True,
        help_text="The tenant-local day of the last KPI computation of every period and partner: "
        "runs on that day may recompute only what changed (kpis.scope).",
    )
    kpis_full_back = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="How many periods back that computation went."
    )
    overlap_events = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Events received in (watermark - overlap, watermark] when the last rollup ended: the next "
        "run finds the same number there when no writer committed late, and reports only newer events to the KPIs.",
    )
    last_error = models.TextField(blank=True, default="")
    merge_batch = models.PositiveBigIntegerField(
        default=0, help_text="Number of the last incremental merge (MergedEvent.batch of its new events)."
    )
    rebuild_hi = models.DateTimeField(
        null=True, blank=True, help_text="A chunked full recompute is under way: events received up to here."
    )
    rebuild_next = models.DateField(null=True, blank=True, help_text="First day the chunked recompute has still to do.")
    rebuild_last = models.DateField(null=True, blank=True, help_text="Last day of the chunked recompute.")
    rebuild_states = models.BooleanField(
        default=False, help_text="The chunked recompute rebuilds the states too (in chunks of users, then of partners)."
    )
    rebuild_phase = models.CharField(
        max_length=16, blank=True, default="",
        help_text="Where the chunked recompute is: 'users' / 'partners' (the states, by id ranges), '' (the days).",
    )
    rebuild_after = models.BigIntegerField(
        null=True, blank=True, help_text="Last user or partner id whose states the current phase has rebuilt."
    )

    def effective_status(self, now) -> str:
        """``status``, or ``stale`` for a run whose lease ran out before ``now`` (the database's now)."""
        if self.status == self.Status.RUNNING and (self.lease_until is None or self.lease_until <= now):
            return self.STALE
        return self.status

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant"], name="uniq_rollup_state_per_tenant")]


class KpiInputChange(TenantOwnedModel):
    """Something the next KPI computation must see: written in the same transaction as the change.

    The rollup writes one per run that changed facts (the partners and tenant-local days touched,
    or ``everything`` for a full or ``since`` run); every other input of the KPI results (targets,
    definitions, assignments and audiences, learning paths, partners and tiers, assets,
    certificates, the tenant's time zone — ``kpis.scope``) writes one with ``everything``, except
    a new support activity (its partner and day). ``compute_kpis`` reads the pending rows first
    thing and deletes the ones it read when its transaction commits, so a change is never lost
    between a rollup and a failed or killed KPI computation.
    """

    created_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=64, help_text="What changed (app_label.model, or rollup).")
    everything = models.BooleanField(default=True, help_text="Recompute every period and partner.")
    partner_ids = models.JSONField(default=list, blank=True)
    days = models.JSONField(default=list, blank=True, help_text="Tenant-local days (ISO dates).")

    class Meta:
        indexes = [models.Index(fields=["tenant", "id"], name="kpi_input_change_tenant")]


class Metric(models.TextChoices):
    ENABLEMENT_COMPLETION_RATE = "enablement_completion_rate", _("Enablement completion rate")
    TRAINING_COMPLETION_RATE = "training_completion_rate", _("Training completion rate")
    ACTIVE_PARTNER_RATE = "active_partner_rate", _("Active partner rate")
    CONTENT_UTILISATION = "content_utilisation", _("Content utilisation")
    DOCUMENT_DOWNLOADS = "document_downloads", _("Document downloads")
    DOCUMENT_VIEWS = "document_views", _("Document views")
    FAQ_UNRESOLVED_RATE = "faq_unresolved_rate", _("FAQ unresolved rate")
    SUPPORT_ACTIVITIES_PER_PARTNER = "support_activities_per_partner", _("Support activities per partner")
    MEDIAN_DAYS_TO_FIRST_COMPLETION = "median_days_to_first_completion", _("Median days to first completion")
    CERTIFIED_PARTNER_RATE = "certified_partner_rate", _("Certified partner rate")
    EXPIRING_CERTIFICATES = "expiring_certificates", _("Certificates expiring within 30 days")
    ASSESSMENT_PASS_RATE = "assessment_pass_rate", _("Assessment pass rate")


# Count metrics: a partial period's target is prorated to the elapsed days (pacing); a
# tenant-wide count target is not a per-partner target.
COUNT_METRICS = frozenset({"document_downloads", "document_views"})
PER_PARTNER_COUNT_METRICS = frozenset({"support_activities_per_partner"})

RATE_METRICS = frozenset(
    {
        Metric.ENABLEMENT_COMPLETION_RATE,
        Metric.TRAINING_COMPLETION_RATE,
        Metric.ACTIVE_PARTNER_RATE,
        Metric.CONTENT_UTILISATION,
        Metric.FAQ_UNRESOLVED_RATE,
        Metric.CERTIFIED_PARTNER_RATE,
        Metric.ASSESSMENT_PASS_RATE,
    }
)


class Period(models.TextChoices):
    WEEK = "week", _("Week")
    MONTH = "month", _("Month")
    QUARTER = "quarter", _("Quarter")


class Direction(models.TextChoices):
    HIGHER = "higher", _("Higher is better")
    LOWER = "lower", _("Lower is better")


class KpiStatus(models.TextChoices):
    ON_TRACK = "on_track", _("On track")
    AT_RISK = "at_risk", _("At risk")
    OFF_TRACK = "off_track", _("Off track")
    NO_DATA = "no_data", _("No data")
    NO_TARGET = "no_target", _("No target")


class KpiDefinition(TenantOwnedModel):
    """A KPI with its target, set by tenant admins in Django admin.

    Rates are stored as percentages (0–100).
    """

    name_ja = models.CharField(_("name (Japanese)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200)
    metric = models.CharField(_("metric"), max_length=48, choices=Metric.choices)
    period = models.CharField(_("period"), max_length=16, choices=Period.choices, default=Period.MONTH)
    tier = models.ForeignKey(
        PartnerTier, verbose_name=_("tier filter"), null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    segment = models.CharField(_("segment filter"), max_length=100, blank=True, default="")
    target = models.DecimalField(_("target"), max_digits=12, decimal_places=2, validators=[MinValueValidator(0)])
    direction = models.CharField(_("direction"), max_length=8, choices=Direction.choices, default=Direction.HIGHER)
    warning_band = models.DecimalField(
        _("warning band"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("10"),
        validators=[MinValueValidator(0)],
        help_text=_("How far from the target (in the metric's unit) still counts as 'at risk' rather than 'off track'."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    replaces = models.ForeignKey(
        "self",
        verbose_name=_("replaces"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        help_text=_("Changing the metric, period or partner filter starts a new series; the old one stays readable."),
    )

    class Meta:
        verbose_name = _("KPI definition")
        verbose_name_plural = _("KPI definitions")
        ordering = ["metric", "period", "id"]

    def __str__(self) -> str:
        return self.name_en or self.name_ja

    def name_for(self, language: str) -> str:
        return self.name_ja if language.startswith("ja") and self.name_ja else (self.name_en or self.name_ja)

    @property
    def is_rate(self) -> bool:
        return self.metric in RATE_METRICS

    def clean(self) -> None:
        errors = {}
        if self.target is not None and self.target < 0:
            errors["target"] = _("A target cannot be negative.")
        elif self.target is not None and self.metric in RATE_METRICS and self.target > 100:
            errors["target"] = _("This metric is a percentage: the target must be between 0 and 100.")
        if self.warning_band is not None and self.warning_band < 0:
            errors["warning_band"] = _("The warning band cannot be negative.")
        if errors:
            raise ValidationError(errors)


class KpiTarget(TenantOwnedModel):
    """A dated target of a KPI definition, for everyone or for one tier, segment or partner.

    A period is judged by the target in force when it began (the latest ``effective_from`` on or
    before the period's first day); the most specific one wins — partner, then segment, then
    tier, then an unscoped dated target, then the definition's own target.
    """

    definition = models.ForeignKey(KpiDefinition, on_delete=models.CASCADE, related_name="targets")
    tier = models.ForeignKey(PartnerTier, verbose_name=_("tier"), null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    segment = models.CharField(_("segment"), max_length=100, blank=True, default="")
    partner = models.ForeignKey(Partner, verbose_name=_("partner"), null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    effective_from = models.DateField(_("effective from"))
    target = models.DecimalField(_("target"), max_digits=12, decimal_places=2, validators=[MinValueValidator(0)])

    class Meta:
        verbose_name = _("target")
        verbose_name_plural = _("targets")
        ordering = ["definition", "effective_from", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(tier__isnull=True) | (Q(segment="") & Q(partner__isnull=True)))
                & (Q(segment="") | Q(partner__isnull=True)),
                name="kpi_target_one_scope",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "definition", "effective_from"], name="kpi_target_dated")]


class KpiResult(TenantOwnedModel):
    """One computed KPI value per (definition, period, partner or overall)."""

    definition = models.ForeignKey(KpiDefinition, on_delete=models.CASCADE, related_name="results")
    period_start = models.DateField()
    period_end = models.DateField(help_text="Inclusive.")
    partner = models.ForeignKey(Partner, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    numerator = models.DecimalField(max_digits=16, decimal_places=4, default=0)
    denominator = models.DecimalField(max_digits=16, decimal_places=4, default=0)
    value = models.DecimalField(max_digits=16, decimal_places=4, null=True, blank=True, help_text="Null: no data (0/0).")
    target = models.DecimalField(max_digits=12, decimal_places=2)
    status = models.CharField(max_length=16, choices=KpiStatus.choices, default=KpiStatus.NO_DATA)
    computed_at = models.DateTimeField(default=timezone.now)
    elapsed_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Set for the current, partial period: the days counted so far (pacing)."
    )
    previous_to_date = models.DecimalField(
        max_digits=16, decimal_places=4, null=True, blank=True,
        help_text="Current period only: the previous period's value over the same number of days.",
    )
    asset_uses = models.JSONField(
        null=True, blank=True,
        help_text="Content utilisation only: a partner's row, the ids of the published assets it used in the "
        "period (sorted); the overall row, {asset id: partners that used it}. A scoped KPI run adjusts the "
        "overall by the touched partners' lists (kpis.metrics).",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "definition", "period_start", "partner"],
                condition=Q(partner__isnull=False),
                name="uniq_kpi_result_partner",
            ),
            models.UniqueConstraint(
                fields=["tenant", "definition", "period_start"],
                condition=Q(partner__isnull=True),
                name="uniq_kpi_result_overall",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "definition", "period_start"], name="kpi_result_def_period")]


class OverviewSummary(TenantOwnedModel):
    """The manager overview's counts as of ``as_of`` (tenant-local day), kept by the KPI job
    (``kpis.overview.refresh_overview_summary``, in the transaction that consumes the
    ``KpiInputChange`` markers). The page reads them instead of aggregating every targeted pair and
    60 days of facts — only while they are exact: computed for today and with no marker pending
    (every input of the overview — facts, states, assignments, tiers, partners… — writes one). The
    rows are per partner: a run rewrites the partners its markers name.
    """

    as_of = models.DateField()
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant"], name="uniq_overview_summary")]


class OverviewPairCount(TenantOwnedModel):
    """Targeted pairs (``kpis.targeting``) of one partner, counted by the tier and segment they were
    targeted with, their due date and the tenant-local day they were done (null: not done). Kept per
    partner so that a KPI run rewrites only the touched partners' rows, and a partner filter is a
    WHERE on them."""

    partner_id = models.BigIntegerField()  # no FK: a deleted partner's rows go with the next KPI run
    tier_id = models.IntegerField(null=True, blank=True)  # no FK: a deleted tier keeps its frozen pairs' id
    segment = models.CharField(max_length=100, blank=True, default="")
    due_on = models.DateField()
    done_on = models.DateField(null=True, blank=True)
    pairs = models.PositiveIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "due_on"], name="overview_pairs_due"),
            models.Index(fields=["tenant", "partner_id"], name="overview_pairs_partner"),
        ]


class OverviewAtRisk(TenantOwnedModel):
    """A partner that the overview's at-risk list may show as of ``OverviewSummary.as_of``: overdue
    pairs not done, or activity of the last 30 days down by half or more against the 30 before."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    overdue = models.PositiveIntegerField(default=0)
    oldest_due = models.DateField(null=True, blank=True)
    recent = models.BigIntegerField(default=0)
    previous = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "partner"], name="uniq_overview_at_risk")]
