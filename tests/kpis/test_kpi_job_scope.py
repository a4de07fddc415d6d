"""The periodic KPI job recomputes only the periods and partners whose inputs changed, and what it
stores always equals a computation of every period and partner (``kpis.scope``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from django_scopes import scope
from hypothesis import given
from hypothesis import strategies as st

from enablement.certifications.models import Certificate, Certification
from enablement.services.log import activity_record_many
from kpis import metrics
from kpis.metrics import RESULT_FIELDS, compute_kpis
from kpis.models import KpiInputChange, KpiResult, KpiTarget, OverviewAtRisk, OverviewPairCount, RollupState
from kpis.overview import refresh_overview_summary
from kpis.periods import recent_periods
from kpis.rollup import rollup_tenant
from kpis.scope import KpiTouched
from tests import factories as f
from tests.kpis.test_rollup_properties import BASE, HYPOTHESIS, TODAY, World, event_st

RECEIVED = BASE + dt.timedelta(days=10)  # the log's clock: every step receives later than the one before


def _world() -> World:
    """The property tests' world, plus the two certificate KPIs and a certification to issue."""
    world = World()
    with scope(tenant=world.tenant.pk):
        for metric in ("certified_partner_rate", "expiring_certificates"):
            world.definitions.append(world._definition(metric, "month"))
        world.certification = Certification.objects.create(tenant=world.tenant, name="Sales")
    world.step = 0
    return world


def _stored(world) -> dict:
    with scope(tenant=world.tenant.pk):
        return {
            (r.definition_id, r.period_start, r.partner_id): tuple(getattr(r, n) for n in RESULT_FIELDS)
            for r in KpiResult.objects.filter(tenant=world.tenant)
        }


def _job(world, *, today: dt.date = TODAY) -> dict:
    """What ``kpis_refresh_now`` does, on the test's calendar: roll up, then compute what was touched."""
    report: dict = {}
    with scope(tenant=world.tenant.pk):
        stats = rollup_tenant(world.tenant)
        report["results"] = compute_kpis(
            world.tenant, today=today, periods_back=1, report=report, touched=KpiTouched.from_stats(stats)
        )
    report["stats"] = stats
    return report


def _assert_equals_full_recompute(world, *, today: dt.date = TODAY) -> None:
    """A computation of every period and partner (rolled back afterwards) finds nothing to change."""
    stored = _stored(world)
    with scope(tenant=world.tenant.pk), transaction.atomic():
        report: dict = {}
        compute_kpis(world.tenant, today=today, periods_back=1, report=report)
        full = _stored(world)
        transaction.set_rollback(True)
    assert report["scope"] == "full"
    assert full == stored
    assert report["written"] == 0


def _send(world, specs, *, late_days: int = 0) -> None:
    """Log ``specs`` (received after everything before); ``late_days``: they happened that many days
    earlier (late events for old days)."""
    world.step += 1
    received = RECEIVED + dt.timedelta(hours=world.step)
    events = world.events(specs, received_at=received, start_index=1000 * world.step)
    for e in events:
        e.occurred_at -= dt.timedelta(days=late_days)
    with scope(tenant=world.tenant.pk):
        activity_record_many(tenant=world.tenant, events=events)


# --- the property: any mix of changes, the scoped job equals a full recompute ------------------------

events_st = st.tuples(
    st.just("events"), st.lists(event_st, min_size=1, max_size=8), st.sampled_from([0, 0, 3, 20, 30, 45])  # 30: into the previous month's first days
)
assignment_st = st.tuples(
    st.just("assignment"), st.sampled_from(["retarget", "create", "deactivate", "delete"]),
    st.tuples(st.sampled_from(["partner", "tier", "segment"]), st.integers(0, 11)),
)
step_st = st.one_of(
    events_st,
    st.tuples(st.just("target"), st.integers(0, 13), st.sampled_from([Decimal("10"), Decimal("75")])),
    st.tuples(st.just("definition"), st.integers(0, 13), st.sampled_from([Decimal("0"), Decimal("99")])),
    st.tuples(st.just("tier"), st.integers(0, 2), st.booleans()),
    st.tuples(st.just("support"), st.integers(0, 2), st.integers(0, 40)),
    st.tuples(st.just("certificate"), st.integers(0, 2), st.integers(0, 70)),
    st.tuples(st.just("nothing"), st.none(), st.none()),
    assignment_st,
)


def _audience(world, kind: str, i: int) -> dict:
    """An assignment's audience of ``kind`` (``i`` picks the partner, tier or segment)."""
    if kind == "partner":
        return {"target": "partner", "partner": world.partners[i % 3], "tier": None, "segment": ""}
    if kind == "tier":
        return {"target": "tier", "partner": None, "tier": (world.gold, world.silver)[i % 2], "segment": ""}
    return {"target": "segment", "partner": None, "tier": None, "segment": ("SMB", "Enterprise")[i % 2]}


def _assignment_change(world, op: str, kind: str, i: int) -> None:
    """An assignment retargeted to another audience (a new due date too), created, deactivated
    (the active flag saved alone) or deleted."""
    from enablement.models import Assignment

    rows = list(Assignment.objects.filter(tenant=world.tenant).order_by("pk"))
    if op == "create" or not rows:
        f.AssignmentFactory(tenant=world.tenant, asset=world.assets[i % len(world.assets)],
                            due_on=TODAY + dt.timedelta(days=i - 6), **_audience(world, kind, i))
        return
    row = rows[i % len(rows)]
    if op == "retarget":
        for name, value in _audience(world, kind, i).items():
            setattr(row, name, value)
        row.due_on = TODAY + dt.timedelta(days=i - 6)
        row.save()
    elif op == "deactivate":
        row.is_active = not row.is_active
        row.save(update_fields=["is_active"])
    else:
        row.delete()


def _apply(world, step) -> None:
    kind, a, b = step
    if kind == "events":
        _send(world, a, late_days=b)
        return
    with scope(tenant=world.tenant.pk):
        if kind == "target":
            definition = world.definitions[a % len(world.definitions)]
            KpiTarget.objects.create(tenant=world.tenant, definition=definition, effective_from=dt.date(2026, 2, 1), target=b)
        elif kind == "definition":
            definition = world.definitions[a % len(world.definitions)]
            definition.target = b
            definition.save()
        elif kind == "tier":
            partner = world.partners[a]
            partner.tier = world.silver if b else world.gold
            partner.save()
        elif kind == "support":
            f.SupportActivityFactory(tenant=world.tenant, partner=world.partners[a], occurred_on=TODAY - dt.timedelta(days=b))
        elif kind == "assignment":
            _assignment_change(world, a, *b)
        elif kind == "certificate":
            issued = dt.datetime.combine(TODAY - dt.timedelta(days=b), dt.time(3), tzinfo=dt.UTC)
            Certificate.objects.create(
                tenant=world.tenant, certification=world.certification, holder=world.users[a][0], partner=world.partners[a],
                sequence=world.step + 100 * a + 1000 * b, issued_at=issued, expires_at=issued + dt.timedelta(days=40),
                renewable_from=issued + dt.timedelta(days=20),
            )
            world.step += 1


@pytest.mark.django_db
@HYPOTHESIS
@given(first=st.lists(event_st, max_size=30), steps=st.lists(step_st, min_size=1, max_size=4))
def test_after_any_mix_of_changes_the_scoped_job_stores_what_a_full_recompute_computes(first, steps):
    world = _world()
    _send(world, first)
    assert _job(world)["scope"] == "full"  # the day's first run
    for step in steps:
        _apply(world, step)
        _job(world)
        _assert_equals_full_recompute(world)
        _assert_overview_equals_full_rebuild(world)
    with scope(tenant=world.tenant.pk):
        assert not KpiInputChange.objects.filter(tenant=world.tenant).exists()  # every change was consumed


@pytest.mark.django_db
@HYPOTHESIS
@given(first=st.lists(event_st, max_size=20), steps=st.lists(st.one_of(assignment_st, assignment_st, events_st), min_size=1, max_size=5))
def test_after_assignment_changes_of_every_audience_the_kept_overview_equals_a_full_rebuild(first, steps):
    """Assignments to a partner, a tier or a segment retargeted, created, deactivated or deleted
    (with events between): each names the partners it targets before and after — never every
    partner here, each audience reaching someone — and the overview summary the job keeps equals a
    rebuild of every partner's rows."""
    from kpis.scope import overview_partners

    world = _world()
    _send(world, first)
    _job(world)
    for step in steps:
        _apply(world, step)
        if step[0] == "assignment":
            with scope(tenant=world.tenant.pk):
                pending = KpiInputChange.objects.filter(tenant=world.tenant).values_list("pk", flat=True)
                named = overview_partners(world.tenant, pending)
            assert named is not None and 0 < len(named) <= 3
        _job(world)
        _assert_equals_full_recompute(world)
        _assert_overview_equals_full_rebuild(world)


@pytest.mark.django_db
def test_an_assignment_reaching_no_partner_or_too_many_asks_for_every_partner(monkeypatch):
    """An assignment's marker names the partners it targets only while they are some and few: a tier
    with no partner, or more partners than ``ASSIGNMENT_MAX_PARTNERS``, marks every partner."""
    from kpis import scope as kpi_scope

    world = _world()

    def marker():
        changes = list(KpiInputChange.objects.filter(tenant=world.tenant))
        KpiInputChange.objects.filter(tenant=world.tenant).delete()
        assert len(changes) == 1 and changes[0].everything and changes[0].source == "enablement.assignment"
        return changes[0].partner_ids

    with scope(tenant=world.tenant.pk):
        KpiInputChange.objects.filter(tenant=world.tenant).delete()
        empty = f.PartnerTierFactory(tenant=world.tenant, name="Bronze")
        KpiInputChange.objects.filter(tenant=world.tenant).delete()
        row = f.AssignmentFactory(tenant=world.tenant, target="tier", partner=None, tier=empty, asset=world.assets[1],
                                  due_on=TODAY)
        assert marker() == []  # nobody in the tier: every partner (no partner named)
        row.tier = world.gold
        row.save()
        assert marker() == sorted(p.pk for p in world.partners[:2])  # nobody before, Gold's two after
        monkeypatch.setattr(kpi_scope, "ASSIGNMENT_MAX_PARTNERS", 1)
        row.tier = world.silver
        row.save()
        assert marker() == []  # three partners, more than the limit: every partner
        row.target, row.tier, row.partner = "partner", None, world.partners[2]
        row.save()
        assert marker() == [world.partners[2].pk]  # Silver's one and the partner: the same one
        row.delete()
        assert marker() == [world.partners[2].pk]


def _overview_rows(world) -> tuple[list, list]:
    with scope(tenant=world.tenant.pk):
        pairs = OverviewPairCount.objects.filter(tenant=world.tenant).values_list(
            "partner_id", "tier_id", "segment", "due_on", "done_on", "pairs")
        risks = OverviewAtRisk.objects.filter(tenant=world.tenant).values_list(
            "partner_id", "overdue", "oldest_due", "recent", "previous")
        return sorted(pairs, key=repr), sorted(risks, key=repr)


def _assert_overview_equals_full_rebuild(world) -> None:
    """The overview summary the job kept — rewritten for the partners its markers named only — equals
    a rebuild of every partner's rows (rolled back)."""
    stored = _overview_rows(world)
    with scope(tenant=world.tenant.pk), transaction.atomic():
        refresh_overview_summary(world.tenant, TODAY, partner_ids=None)
        full = _overview_rows(world)
        transaction.set_rollback(True)
    assert full == stored


# --- what is computed -----------------------------------------------------------------------------------


def _partner_rows(world, partner) -> set:
    return {k for k in _stored(world) if k[2] == partner.pk}


@pytest.mark.django_db
def test_no_new_events_compute_nothing_and_one_partners_events_only_its_rows_and_the_overall_rows():
    world = _world()
    _send(world, [(0, 0, "document.downloaded", 1, q, None, None, "", None, None) for q in range(0, 380, 40)])
    full = _job(world)
    assert full["scope"] == "full" and full["results"] > 0
    idle = _job(world)  # the overlap's events were seen by the previous run: nothing new
    assert idle["scope"] == "scoped" and idle["results"] == 0 and idle["periods"] == 0
    assert not idle["stats"].kpi_touched_partner_ids and not idle["stats"].kpi_touched_days

    _send(world, [(1, 0, "document.downloaded", 1, 380, None, None, "", None, None)])  # partner 1, on 3 March
    one = _job(world)
    assert one["stats"].kpi_touched_partner_ids == {world.partners[1].pk}
    assert one["stats"].kpi_touched_days == {TODAY}
    assert one["scope"] == "scoped" and 0 < one["results"] < full["results"] / 2
    # only the current periods (the ones containing 3 March), and in them partner 1 and the overall rows
    current = sum(1 for d in world.definitions for s, e in recent_periods(d.period, TODAY, 1) if s <= TODAY <= e)
    assert one["periods"] == current
    assert one["results"] <= 2 * current
    _assert_equals_full_recompute(world)


@pytest.mark.django_db
def test_a_late_event_recomputes_its_old_period_and_the_later_ones_of_state_metrics_only():
    world = _world()
    _send(world, [(0, 0, "document.downloaded", 1, 380, None, None, "", None, None)])
    _job(world)
    _send(world, [(0, 0, "training.completed", 0, 8, 100.0, None, "", None, None)], late_days=30)  # ~28 January
    late = _job(world)
    day = min(late["stats"].kpi_touched_days)
    assert day < dt.date(2026, 2, 1)
    assert late["scope"] == "scoped" and late["periods"] > 0
    _assert_equals_full_recompute(world)


@pytest.mark.django_db
def test_a_target_change_records_a_marker_and_the_next_job_computes_everything():
    world = _world()
    _send(world, [(0, 0, "document.downloaded", 1, 380, None, None, "", None, None)])
    _job(world)
    with scope(tenant=world.tenant.pk):
        assert not KpiInputChange.objects.filter(tenant=world.tenant).exists()
        definition = world.definitions[1]  # training completion rate
        KpiTarget.objects.create(tenant=world.tenant, definition=definition, partner=world.partners[0],
                                 effective_from=dt.date(2026, 1, 1), target=Decimal("1"))
        marker = KpiInputChange.objects.get(tenant=world.tenant)
        assert marker.everything and marker.source == "kpis.kpitarget"
    after = _job(world)
    assert after["scope"] == "full" and after["written"] > 0
    with scope(tenant=world.tenant.pk):
        assert not KpiInputChange.objects.filter(tenant=world.tenant).exists()
        row = KpiResult.objects.get(definition=definition, partner=world.partners[0], period_start=dt.date(2026, 3, 1))
        assert row.target == Decimal("1.00")
    assert _job(world)["scope"] == "scoped"
    _assert_equals_full_recompute(world)


@pytest.mark.django_db
def test_a_new_support_activity_touches_its_partner_and_day_only():
    world = _world()
    _send(world, [(0, 0, "document.downloaded", 1, 380, None, None, "", None, None)])
    _job(world)
    with scope(tenant=world.tenant.pk):
        f.SupportActivityFactory(tenant=world.tenant, partner=world.partners[2], occurred_on=dt.date(2026, 2, 10))
        marker = KpiInputChange.objects.get(tenant=world.tenant)
    assert not marker.everything and marker.partner_ids == [world.partners[2].pk] and marker.days == ["2026-02-10"]
    run = _job(world)
    assert run["scope"] == "scoped" and run["written"] > 0
    _assert_equals_full_recompute(world)


@pytest.mark.django_db
def test_facts_rolled_up_before_a_failed_kpi_computation_are_computed_by_the_next_run(monkeypatch):
    """The rollup's marker is committed with its facts: a KPI computation that fails after it loses nothing."""
    world = _world()
    _send(world, [(0, 0, "document.downloaded", 1, 380, None, None, "", None, None)])
    _job(world)
    _send(world, [(1, 0, "document.downloaded", 1, 381, None, None, "", None, None)])
    real = metrics._write_changed

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(metrics, "_write_changed", broken)
    with pytest.raises(RuntimeError):
        _job(world)
    monkeypatch.setattr(metrics, "_write_changed", real)
    with scope(tenant=world.tenant.pk):
        marker = KpiInputChange.objects.get(tenant=world.tenant)
    assert marker.source == "rollup" and marker.partner_ids == [world.partners[1].pk]
    again = _job(world)  # the rollup finds nothing new; the marker says what to compute
    assert not again["stats"].kpi_touched_partner_ids
    assert again["scope"] == "scoped" and again["written"] > 0
    _assert_equals_full_recompute(world)


@pytest.mark.django_db
def test_the_first_run_of_a_day_and_a_partial_run_compute_everything():
    world = _world()
    _send(world, [(0, 0, "document.downloaded", 1, 380, None, None, "", None, None)])
    _job(world)
    assert _job(world)["scope"] == "scoped"
    assert _job(world, today=TODAY + dt.timedelta(days=1))["scope"] == "full"
    _assert_equals_full_recompute(world, today=TODAY + dt.timedelta(days=1))
    with scope(tenant=world.tenant.pk):
        compute_kpis(world.tenant, today=TODAY + dt.timedelta(days=1), definitions=world.definitions[:1])
        assert RollupState.objects.get(tenant=world.tenant).kpis_full_on is None
    assert _job(world, today=TODAY + dt.timedelta(days=1))["scope"] == "full"


@pytest.mark.django_db
def test_a_certificate_expiring_between_two_runs_is_recomputed_in_the_current_period(monkeypatch):
    """The current period's certificate figures are read at the run's instant: a certificate that
    expires (or enters its last 30 days) between two runs touches its partner."""
    world = _world()
    now = dt.datetime(2026, 3, 3, 2, 0, tzinfo=dt.UTC)  # 11:00 on TODAY in Tokyo
    monkeypatch.setattr(timezone, "now", lambda: now)
    with scope(tenant=world.tenant.pk):
        issued = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
        Certificate.objects.create(
            tenant=world.tenant, certification=world.certification, holder=world.users[0][0], partner=world.partners[0],
            issued_at=issued, expires_at=now + dt.timedelta(minutes=10), renewable_from=issued,
        )
        Certificate.objects.create(
            tenant=world.tenant, certification=world.certification, holder=world.users[1][0], partner=world.partners[1],
            issued_at=issued, expires_at=now + dt.timedelta(days=30, minutes=10), renewable_from=issued,
        )
    _send(world, [(2, 0, "document.downloaded", 1, 380, None, None, "", None, None)])
    _job(world)
    rate, expiring = world.definitions[-2], world.definitions[-1]

    def row(definition, partner):
        with scope(tenant=world.tenant.pk):
            return KpiResult.objects.get(definition=definition, partner=partner, period_start=dt.date(2026, 3, 1))

    assert row(rate, world.partners[0]).value == Decimal("100.0000")
    assert row(expiring, world.partners[1]).value == Decimal("0.0000")
    now = now + dt.timedelta(minutes=20)  # partner 0's certificate expired, partner 1's entered its last 30 days
    later = _job(world)
    assert later["scope"] == "scoped" and later["written"] > 0
    assert row(rate, world.partners[0]).value == Decimal("0.0000")
    assert row(expiring, world.partners[1]).value == Decimal("1.0000")
    _assert_equals_full_recompute(world)


def _spec(partner: int, verb: str, asset: int, quarter: int, progress=None) -> tuple:
    return (partner, 0, verb, asset, quarter, progress, None, "", None, None)


@pytest.mark.django_db
def test_one_partners_events_build_the_overall_rows_from_the_stored_partner_rows(monkeypatch):
    """The scoped run reads the touched partner's facts, pairs and first completions only: each
    tenant-level row is the other partners' stored numerators and denominators plus the touched
    partner's new cell (content utilisation: the stored per-asset partner counts adjusted by the
    touched partner's assets), and equals what a computation of every partner stores."""
    world = _world()
    _send(world, [
        _spec(0, "training.completed", 0, 100, 100.0), _spec(2, "training.completed", 0, 200, 100.0),
        _spec(0, "document.downloaded", 1, 150), _spec(1, "document.downloaded", 1, 160),
        _spec(1, "assessment.failed", 4, 170), _spec(2, "document.viewed", 1, 180),
    ])
    full = _job(world)
    assert full["scope"] == "full" and full["overall_from_parts"] == 0

    pair_reads: list = []
    real_pairs = metrics.targeted_pairs

    def pairs(*, tenant, partner_id=None):
        pair_reads.append(partner_id)
        return real_pairs(tenant=tenant, partner_id=partner_id)

    def every_partner(*args, **kwargs):
        raise AssertionError("a computation over every partner's facts")

    monkeypatch.setattr(metrics, "targeted_pairs", pairs)
    monkeypatch.setattr(metrics, "metric_values", every_partner)
    # partner 1 on 3 March: its first training completion (the median moves), the shared document
    # again (content utilisation still counts it once), a passed assessment
    _send(world, [
        _spec(1, "training.completed", 0, 380, 100.0), _spec(1, "document.downloaded", 1, 381),
        _spec(1, "assessment.passed", 4, 382),
    ])
    one = _job(world)
    assert one["stats"].kpi_touched_partner_ids == {world.partners[1].pk}
    assert one["scope"] == "scoped" and one["written"] > 0
    assert one["overall_from_parts"] == one["periods"]  # content utilisation too (KpiResult.asset_uses)
    assert pair_reads and set(pair_reads) == {world.partners[1].pk}  # never the whole tenant's pairs
    monkeypatch.undo()
    _assert_equals_full_recompute(world)
    with scope(tenant=world.tenant.pk):
        median = next(d for d in world.definitions if d.metric == "median_days_to_first_completion")
        row = KpiResult.objects.get(definition=median, partner=None, period_start=dt.date(2026, 3, 1))
    assert row.denominator == Decimal("2")  # partners 2 and 1 completed a first training in March
