"""Measurement health: what is not measured or looks wrong (the manage area's health page).

Reads the facts and rollup tables, the catalogue and the refusal counters — never scans the
activity log; its one touch of the log is the newest ``received_at`` (an index lookup on
``(tenant, received_at)``), to say how far the rollup lags behind. A fixed number of queries
whatever the tenant's size.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Exists, IntegerField, Max, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from enablement.models import (
    ActivityEvent,
    Asset,
    AssetKind,
    AssetStatus,
    EventSource,
    IngestRefusal,
    RefusalReason,
)
from kpis.models import DailyActivityFact, DailySourceFact, PartnerAssetState, RollupState
from partners.models import Membership, Partner, Role, Tenant

LIST_LIMIT = 20
COMPLETION_VERBS = ("training.completed",)


@dataclass(frozen=True)
class SourceVolume:
    source: str
    label: str
    events: int
    completions: int
    untrusted: int


@dataclass(frozen=True)
class Refusals:
    source: str
    source_label: str
    reason: str
    reason_label: str
    count: int


@dataclass
class Health:
    days: int
    since: dt.date
    newest_received_at: dt.datetime | None
    watermark: dt.datetime | None
    rollup_status: str
    lag: dt.timedelta | None  # newest event received - watermark (None: nothing to compare)
    untimed_trainings: list[Asset] = field(default_factory=list)
    untimed_count: int = 0
    unused_assets: list[Asset] = field(default_factory=list)
    unused_count: int = 0
    quiet_partners: list[Partner] = field(default_factory=list)
    quiet_count: int = 0
    partner_count: int = 0
    refusals: list[Refusals] = field(default_factory=list)
    refused_total: int = 0
    volumes: list[SourceVolume] = field(default_factory=list)

    @property
    def accepted_total(self) -> int:
        return sum(v.events for v in self.volumes)

    @property
    def rollup_status_label(self) -> str:
        return str(dict(RollupState.Status.choices).get(self.rollup_status, _("Never run")))

    @property
    def lag_minutes(self) -> int | None:
        return None if self.lag is None else max(0, round(self.lag.total_seconds() / 60))

    @property
    def issue_count(self) -> int:
        lagging = 1 if self.lag is not None and self.lag > dt.timedelta(minutes=30) else 0
        return self.untimed_count + self.unused_count + self.quiet_count + self.refused_total + lagging


def measurement_health(*, tenant: Tenant, days: int = 30, quiet_days: int = 90, today: dt.date | None = None) -> Health:
    """The health figures of one tenant over the last ``days`` days (9 queries)."""
    today = today or timezone.localdate(timezone=tenant.zoneinfo)
    since = today - dt.timedelta(days=days - 1)

    state = RollupState.objects.filter(tenant=tenant).values("watermark", "status").first() or {}
    newest = ActivityEvent.objects.filter(tenant=tenant).aggregate(m=Max("received_at"))["m"]
    watermark = state.get("watermark")
    lag = None
    if newest is not None:
        lag = newest - watermark if watermark is not None else newest - tenant.created_at
        lag = max(lag, dt.timedelta(0))
    health = Health(
        days=days,
        since=since,
        newest_received_at=newest,
        watermark=watermark,
        rollup_status=state.get("status", "never"),
        lag=lag,
    )

    # Trainings whose duration is unknown: nobody can complete them until a manager sets it.
    untimed = (
        Asset.objects.filter(tenant=tenant, kind=AssetKind.TRAINING, duration_seconds=0)
        .exclude(status=AssetStatus.ARCHIVED)
        .order_by("title", "pk")
        .only("pk", "title", "status", "kind")
    )
    health.untimed_trainings = list(untimed[: LIST_LIMIT + 1])
    health.untimed_count = len(health.untimed_trainings)
    if health.untimed_count > LIST_LIMIT:
        health.untimed_count = untimed.count()
        health.untimed_trainings = health.untimed_trainings[:LIST_LIMIT]

    # Published assets no partner has ever used (per the rolled-up states).
    used = PartnerAssetState.objects.filter(tenant=tenant, asset=OuterRef("pk"))
    unused = (
        Asset.objects.filter(tenant=tenant, status=AssetStatus.PUBLISHED)
        .filter(~Exists(used))
        .order_by("created_at", "pk")
        .only("pk", "title", "kind", "created_at")
    )
    health.unused_assets = list(unused[: LIST_LIMIT + 1])
    health.unused_count = len(health.unused_assets)
    if health.unused_count > LIST_LIMIT:
        health.unused_count = unused.count()
        health.unused_assets = health.unused_assets[:LIST_LIMIT]

    # Partners with no user activity in the last ``quiet_days`` days (daily facts), with how many
    # partner-user accounts they have (0: nobody could have been active).
    recent = DailyActivityFact.objects.filter(
        tenant=tenant, partner=OuterRef("pk"), day__gte=today - dt.timedelta(days=quiet_days - 1), user_count__gt=0
    )
    accounts = (
        Membership.objects.filter(tenant=tenant, partner=OuterRef("pk"), role=Role.PARTNER_USER, is_active=True)
        .order_by()
        .values("partner")
        .annotate(n=Count("pk"))
        .values("n")
    )
    partners = Partner.objects.filter(tenant=tenant).aggregate(
        total=Count("pk"), quiet=Count("pk", filter=~Exists(recent))
    )
    health.partner_count, health.quiet_count = partners["total"], partners["quiet"]
    health.quiet_partners = list(
        Partner.objects.filter(tenant=tenant)
        .filter(~Exists(recent))
        .annotate(accounts=Coalesce(Subquery(accounts, output_field=IntegerField()), 0))
        .select_related("tier")
        .order_by("accounts", "name", "pk")[:LIST_LIMIT]
    )

    # Refused events per source and reason, and accepted volumes per source (facts).
    source_labels = dict(EventSource.choices)
    reason_labels = dict(RefusalReason.choices)
    rows = (
        IngestRefusal.objects.filter(tenant=tenant, day__gte=since)
        .values("source", "reason")
        .annotate(n=Sum("count"))
        .order_by("-n", "source", "reason")
    )
    health.refusals = [
        Refusals(r["source"], source_labels.get(r["source"], r["source"]), r["reason"], reason_labels.get(r["reason"], r["reason"]), r["n"])
        for r in rows
    ]
    health.refused_total = sum(r.count for r in health.refusals)
    volumes = {
        r["source"]: r
        for r in DailySourceFact.objects.filter(tenant=tenant, day__gte=since)
        .values("source")
        .annotate(
            events=Sum("event_count"),
            completions=Coalesce(Sum("event_count", filter=Q(verb__in=COMPLETION_VERBS)), 0),
            untrusted=Sum("untrusted_count"),
        )
        .order_by()
    }
    health.volumes = [
        SourceVolume(
            source=value,
            label=label,
            events=(volumes.get(value) or {}).get("events") or 0,
            completions=(volumes.get(value) or {}).get("completions") or 0,
            untrusted=(volumes.get(value) or {}).get("untrusted") or 0,
        )
        for value, label in EventSource.choices
    ]
    return health
