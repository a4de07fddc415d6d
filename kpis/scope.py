"""What the periodic KPI computation must recompute: the partners and days whose inputs changed.

``compute_kpis(touched=...)`` recomputes only the periods that contain touched days (see
``KpiTouched.covers``) and, in them, the tenant-level row and the touched partners' rows. Its
stored results then equal a computation of every period and partner, because each result reads:

* **facts and states** (the rollup): a run reports the partners and tenant-local days whose facts
  or states it changed (``RollupStats.kpi_touched_*``) and records them durably in the same
  transaction (``record_rollup_touched``), so a KPI computation that fails or is killed after the
  rollup committed still sees them next time;
* **every other input** — KPI definitions and dated targets; partners (tier, segment, status,
  joined date, created or deleted) and tiers; assets (status, publication, kind), assignments,
  learning paths and their items, audience rules (who is targeted); certificates and the tiers'
  certification requirements; support activities; the tenant's time zone — writes a
  ``KpiInputChange`` in the transaction of the change (the model signals below; the services that
  write such rows in bulk call ``record_input_change`` themselves). All of them ask for
  everything, except a new support activity (its partner and day) and a new certificate (its
  partner, from the day it was issued); a partner's own change (created, edited, deleted) and an
  assignment created, edited or deleted ask for everything but name the partners whose overview
  counts they can move (``overview_partners``): that partner; the partners the assignment targets
  before and after the change (its partner, or those now in its tier or segment);
* **the clock**: the current period's pacing, elapsed days and comparison with the previous
  period depend on the tenant-local date, and the frozen pairs and partner snapshots move once a
  day, so the first run of a tenant-local day computes everything (``RollupState.kpis_full_on``);
  the certificate metrics of the current period are evaluated at the computation's instant, so
  each run also touches the partners holding a certificate that became valid, expired, was
  revoked or entered its last 30 days since the previous run (``certificate_boundaries``).

The API keys' trusted-source setting is not an input here: whether an event is trusted is stored
on the event when it is received (a later change of the key leaves stored events as they are).
The nightly run still computes everything (``touched=None``), the safety net.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models.signals import post_delete, post_save, pre_delete, pre_save
from django.dispatch import Signal
from django_scopes import scope

from kpis.models import KpiInputChange
from kpis.periods import period_before

# Sent by ``compute_kpis`` inside its transaction, right after it consumed the tenant's pending input
# markers and refreshed the overview summary: ``tenant``, ``changed`` (a marker was consumed or pairs
# moved). Readers above kpis in the import graph keep their own stored figures with it (the success
# patterns' adoption table), exact as long as no marker is pending.
inputs_consumed = Signal()

# Metrics read from the rollup's *states* (first activity / first completion of a pair, over its
# whole history) or from certificates valid at an instant: a change dated on a day can move a
# number of any later period (a pair due later done on time, a first completion moved earlier),
# so every period ending on or after a touched day is recomputed. Other metrics read day-grain
# facts: only the periods containing a touched day (and the current period's comparison with the
# days of the previous one).
LATER_PERIODS_METRICS = frozenset(
    {
        "enablement_completion_rate",
        "training_completion_rate",
        "median_days_to_first_completion",
        "certified_partner_rate",
        "expiring_certificates",
    }
)


@dataclass(frozen=True)
class KpiTouched:
    """Partners and tenant-local days whose KPI inputs changed, or ``everything``."""

    partner_ids: frozenset[int] = field(default_factory=frozenset)
    days: frozenset[dt.date] = field(default_factory=frozenset)
    everything: bool = False

    @classmethod
    def of(cls, partner_ids: Iterable[int] = (), days: Iterable[dt.date] = (), everything: bool = False) -> KpiTouched:
        return cls(frozenset(int(p) for p in partner_ids), frozenset(days), bool(everything))

    @classmethod
    def from_stats(cls, stats) -> KpiTouched:
        """What a rollup run reports (``RollupStats.kpi_touched_*``)."""
        return cls.of(stats.kpi_touched_partner_ids, stats.kpi_touched_days, stats.kpi_touched_all)

    @property
    def empty(self) -> bool:
        return not self.everything and not (self.partner_ids and self.days)

    def union(self, other: KpiTouched) -> KpiTouched:
        return KpiTouched(self.partner_ids | other.partner_ids, self.days | other.days, self.everything or other.everything)

    def covers(self, metric: str, kind: str, start: dt.date, end: dt.date, today: dt.date) -> bool:
        """Must the period ``[start, end]`` of a ``kind`` definition of ``metric`` be recomputed?"""
        if self.moves(metric, start, end):
            return True
        if self.everything or not self.partner_ids or not self.days:
            return False
        if start <= today < end:  # the current period compares with the first days of the previous one
            before = period_before(kind, start)
            return any(before <= d < start for d in self.days)
        return False

    def moves(self, metric: str, start: dt.date, end: dt.date) -> bool:
        """Can a computation of ``metric`` over the days ``[start, end]`` (a period, or the first days
        of the previous one the current period compares with) differ from before these changes?"""
        if self.everything:
            return True
        if not self.partner_ids or not self.days:
            return False
        if metric in LATER_PERIODS_METRICS:
            return min(self.days) <= end
        return any(start <= d <= end for d in self.days)


EVERYTHING = KpiTouched(everything=True)


# --- the durable record -------------------------------------------------------------------------------


def record_input_change(
    tenant_id: int | None, source: str, *, partner_ids: Iterable[int] | None = None, days: Iterable[dt.date] | None = None
) -> None:
    """Write a ``KpiInputChange`` (in the caller's transaction): everything, or — given both
    ``partner_ids`` and ``days`` — those partners on those days. ``partner_ids`` alone: everything
    for the KPI results, but only those partners' overview counts (``overview_partners``)."""
    if tenant_id is None:
        return
    scoped = partner_ids is not None and days is not None
    with scope(tenant=tenant_id):  # row-level security: the row is the tenant's, whatever scope the caller is in
        KpiInputChange.objects.create(
            tenant_id=tenant_id,
            source=source[:64],
            everything=not scoped,
            partner_ids=sorted({int(p) for p in partner_ids}) if partner_ids is not None else [],
            days=sorted({d.isoformat() for d in days}) if scoped else [],
        )


def record_rollup_touched(tenant_id: int, stats) -> None:
    """The rollup's part, inside its transaction: what this run changed (nothing: no row)."""
    touched = KpiTouched.from_stats(stats)
    if touched.everything:
        record_input_change(tenant_id, "rollup")
    elif not touched.empty:
        record_input_change(tenant_id, "rollup", partner_ids=touched.partner_ids, days=touched.days)


def pending_changes(tenant) -> tuple[list[int], KpiTouched]:
    """The tenant's unconsumed changes: their ids (deleted by the computation that read them) and
    their union."""
    ids: list[int] = []
    merged = KpiTouched()
    for pk, everything, partner_ids, days in KpiInputChange.objects.filter(tenant=tenant).order_by("pk").values_list(
        "pk", "everything", "partner_ids", "days"
    ):
        ids.append(pk)
        merged = merged.union(
            EVERYTHING if everything else KpiTouched.of(partner_ids or (), (dt.date.fromisoformat(d) for d in days or ()))
        )
    return ids, merged


def overview_partners(tenant, change_ids: Iterable[int]) -> frozenset[int] | None:
    """The partners whose overview counts (``kpis.overview``) the markers ``change_ids`` can have
    moved, or None for every partner. A partner's counts read its own pairs (targeted with its
    tier, segment and join date), states and facts only: a rollup's partners, a partner created,
    edited or deleted (an ``everything`` marker naming it) and an assignment created, edited or
    deleted (naming the partners it targets before and after) move those partners'; any other
    ``everything`` marker (tiers, assets, audiences, learning paths, the time zone…, or an
    assignment reaching no partner or more than ``ASSIGNMENT_MAX_PARTNERS``) moves them all."""
    ids = list(change_ids)
    partners: set[int] = set()
    for start in range(0, len(ids), 500):
        for everything, partner_ids in KpiInputChange.objects.filter(tenant=tenant, pk__in=ids[start:start + 500]).values_list(
            "everything", "partner_ids"
        ):
            if everything and not partner_ids:
                return None
            partners.update(int(p) for p in partner_ids or ())
    return frozenset(partners)


def certificate_boundaries(tenant, since: dt.datetime | None, until: dt.datetime, today: dt.date) -> KpiTouched:
    """Partners holding a certificate whose validity or 30-day expiry window began or ended in
    ``(since, until]``: their certificate figures of the current period moved with the clock."""
    from enablement.certifications.models import Certificate
    from kpis.metrics import EXPIRING_DAYS

    if since is None:
        return EVERYTHING
    if until <= since:
        return KpiTouched()
    horizon = dt.timedelta(days=EXPIRING_DAYS)
    rows = Certificate.objects.filter(tenant=tenant).filter(
        _between("issued_at", since, until)
        | _between("expires_at", since, until)
        | _between("expires_at", since + horizon, until + horizon)
        | _between("revoked_at", since, until)
    )
    ids = set(rows.values_list("partner_id", flat=True).distinct().order_by())
    return KpiTouched.of(ids, [today]) if ids else KpiTouched()


def _between(name: str, lo: dt.datetime, hi: dt.datetime):
    from django.db.models import Q

    return Q(**{f"{name}__gt": lo, f"{name}__lte": hi})


# --- the signals ----------------------------------------------------------------------------------------


def _tenant_id(instance) -> int | None:
    return getattr(instance, "tenant_id", None)


def _label(instance_or_model) -> str:
    return f"{instance_or_model._meta.app_label}.{instance_or_model._meta.model_name}"


def _everything(sender, instance, raw: bool = False, **kwargs) -> None:
    if raw:  # fixtures: loaded data is computed by the next full run
        return
    record_input_change(_tenant_id(instance), _label(instance))


def _partner(sender, instance, raw: bool = False, **kwargs) -> None:
    """A partner created, edited or deleted: everything for the KPI results (tenant totals, targets
    by tier…), that partner only for the overview's counts."""
    if raw:
        return
    record_input_change(_tenant_id(instance), _label(instance), partner_ids=[instance.pk] if instance.pk else None)


# The fields that decide whom an assignment targets (``enablement.pairs``).
ASSIGNMENT_AUDIENCE_FIELDS = ("target", "partner_id", "tier_id", "segment")
# Past this many partners an assignment's marker names none (every partner: one statement, no long
# lists; the overview's scoped step falls back to every partner past the same number anyway).
ASSIGNMENT_MAX_PARTNERS = 500


def _assignment_stored(sender, instance, raw: bool = False, **kwargs) -> None:
    """Before an assignment is saved or deleted: whom its stored row targets (``pre_save`` /
    ``pre_delete``; an instance being added has no stored row)."""
    if raw or instance._state.adding or instance.pk is None or instance.tenant_id is None:
        return
    with scope(tenant=instance.tenant_id):
        instance._kpi_audience_before = sender.objects.filter(tenant_id=instance.tenant_id, pk=instance.pk).values_list(
            *ASSIGNMENT_AUDIENCE_FIELDS
        ).first()


def _audience_partners(tenant_id: int, audiences: Iterable[tuple]) -> list[int] | None:
    """The partners the assignment audiences ``(target, partner_id, tier_id, segment)`` reach now
    (``enablement.pairs``: a partner, the partners of a tier, of a segment), or None past
    ``ASSIGNMENT_MAX_PARTNERS`` or when they reach no partner (a marker naming no partner means
    every partner)."""
    from django.db.models import Q

    from partners.models import Partner

    named: set[int] = set()
    tiers: set[int] = set()
    segments: set[str] = set()
    for target, partner_id, tier_id, segment in audiences:
        if target == "partner" and partner_id is not None:
            named.add(int(partner_id))
        elif target == "tier" and tier_id is not None:
            tiers.add(int(tier_id))
        elif target == "segment" and segment:
            segments.add(segment)
        else:  # not a known audience: assume it reaches everybody
            return None
    if tiers or segments:
        with scope(tenant=tenant_id):
            found = Partner.objects.filter(tenant_id=tenant_id).filter(
                Q(tier_id__in=sorted(tiers)) | Q(segment__in=sorted(segments))
            ).values_list("id", flat=True).order_by("id")[: ASSIGNMENT_MAX_PARTNERS + 1]
            named.update(found)
    if not named or len(named) > ASSIGNMENT_MAX_PARTNERS:
        return None
    return sorted(named)


def _assignment(sender, instance, raw: bool = False, update_fields=None, signal=None, **kwargs) -> None:
    """An assignment created, edited or deleted: everything for the KPI results; for the overview's
    counts, the partners it targets before and after the change — its partner, or the partners now
    in its tier or segment (a partner's pairs read only the assignments that reach it; a partner
    that joins or leaves the tier or segment later writes its own marker)."""
    if raw:
        return
    before = instance.__dict__.pop("_kpi_audience_before", None)
    current = tuple(getattr(instance, name) for name in ASSIGNMENT_AUDIENCE_FIELDS)
    audiences = [before] if before is not None else []
    if signal is not post_delete:  # saved: whom the row targets now
        if before is not None and update_fields is not None:  # the fields not saved stay as stored
            written = {instance._meta.get_field(name).attname for name in update_fields}
            current = tuple(value if name in written else stored
                            for name, value, stored in zip(ASSIGNMENT_AUDIENCE_FIELDS, current, before, strict=True))
        audiences.append(current)
    elif before is None:  # deleted with no stored row read: its own fields
        audiences.append(current)
    partner_ids = _audience_partners(instance.tenant_id, audiences) if instance.tenant_id is not None else None
    record_input_change(_tenant_id(instance), _label(instance), partner_ids=partner_ids)


def _tenant_saved(sender, instance, raw: bool = False, created: bool = False, update_fields=None, **kwargs) -> None:
    """The tenant's time zone decides every tenant-local day; other settings change no KPI."""
    if raw or created or (update_fields is not None and "time_zone" not in update_fields):
        return
    record_input_change(instance.pk, _label(instance))


def _support_activity(sender, instance, raw: bool = False, created: bool = True, **kwargs) -> None:
    """A new (or deleted) support activity changes its partner's figures on its day; an edit may
    have moved it to another partner or day, so it asks for everything."""
    if raw:
        return
    if created and instance.partner_id is not None and instance.occurred_on is not None:
        record_input_change(instance.tenant_id, _label(instance), partner_ids=[instance.partner_id],
                            days=[instance.occurred_on])
    else:
        record_input_change(instance.tenant_id, _label(instance))


def _certificate(sender, instance, raw: bool = False, created: bool = True, **kwargs) -> None:
    """A new (or deleted) certificate changes its partner's certificate figures from the day it was
    issued on; an edit (a revocation) asks for everything."""
    if raw:
        return
    if created and instance.partner_id is not None and instance.issued_at is not None:
        day = instance.issued_at.astimezone(instance.tenant.zoneinfo).date()
        record_input_change(instance.tenant_id, _label(instance), partner_ids=[instance.partner_id], days=[day])
    else:
        record_input_change(instance.tenant_id, _label(instance))


def _deleted(handler):
    def receiver(sender, instance, **kwargs):
        handler(sender, instance, created=True, **kwargs)

    return receiver


def _unless_tenant_deleted(handler):
    """A row deleted because its tenant is (the cascade of ``Tenant.delete()``) asks the KPI job
    for nothing: the tenant's changes were deleted earlier in the same cascade, and a new one would
    point at a tenant that is gone (the deletion would fail at COMMIT on the foreign key)."""
    from partners.models import Tenant

    def receiver(sender, instance, origin=None, **kwargs):
        model = getattr(origin, "model", type(origin))  # an instance, or the queryset .delete() was called on
        if model is not None and issubclass(model, Tenant):
            return
        handler(sender, instance, origin=origin, **kwargs)

    return receiver


INPUT_MODELS = (
    "kpis.KpiDefinition",
    "kpis.KpiTarget",
    "partners.PartnerTier",
    "enablement.Asset",
    "enablement.LearningPath",
    "enablement.LearningPathItem",
    "enablement.AudienceRule",
    "certifications.TierCertificationRequirement",
)


def _targeting_changed(sender, tenant_id: int, what: str = "", **kwargs) -> None:
    record_input_change(tenant_id, what or _label(sender))


def connect() -> None:
    """Connect the receivers (``KpisConfig.ready``)."""
    from django.apps import apps

    from enablement.signals import targeting_changed

    for label in INPUT_MODELS:
        model = apps.get_model(label)
        post_save.connect(_everything, sender=model, dispatch_uid=f"kpis.scope.save.{label}")
        post_delete.connect(_unless_tenant_deleted(_everything), sender=model, weak=False, dispatch_uid=f"kpis.scope.delete.{label}")
    partner = apps.get_model("partners.Partner")
    post_save.connect(_partner, sender=partner, dispatch_uid="kpis.scope.save.partners.Partner")
    post_delete.connect(_unless_tenant_deleted(_partner), sender=partner, weak=False, dispatch_uid="kpis.scope.delete.partners.Partner")
    assignment = apps.get_model("enablement.Assignment")
    pre_save.connect(_assignment_stored, sender=assignment, dispatch_uid="kpis.scope.stored.enablement.Assignment")
    pre_delete.connect(_assignment_stored, sender=assignment, dispatch_uid="kpis.scope.stored_del.enablement.Assignment")
    post_save.connect(_assignment, sender=assignment, dispatch_uid="kpis.scope.save.enablement.Assignment")
    post_delete.connect(_unless_tenant_deleted(_assignment), sender=assignment, weak=False,
                        dispatch_uid="kpis.scope.delete.enablement.Assignment")
    post_save.connect(_tenant_saved, sender=apps.get_model("partners.Tenant"), dispatch_uid="kpis.scope.tenant")
    support = apps.get_model("partners.SupportActivity")
    post_save.connect(_support_activity, sender=support, dispatch_uid="kpis.scope.save.support")
    post_delete.connect(_unless_tenant_deleted(_deleted(_support_activity)), sender=support, weak=False, dispatch_uid="kpis.scope.delete.support")
    certificate = apps.get_model("certifications.Certificate")
    post_save.connect(_certificate, sender=certificate, dispatch_uid="kpis.scope.save.certificate")
    post_delete.connect(_unless_tenant_deleted(_deleted(_certificate)), sender=certificate, weak=False, dispatch_uid="kpis.scope.delete.certificate")
    targeting_changed.connect(_targeting_changed, dispatch_uid="kpis.scope.targeting")
