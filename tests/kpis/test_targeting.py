"""Who was targeted is fixed per period; completion on time; attribution at event time; a KPI
definition's series."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from enablement.models import ActivityEvent
from enablement.services.log import activity_record_many
from kpis.dashboards import selectors
from kpis.dashboards.filters import parse_filters
from kpis.definitions import kpi_definition_save
from kpis.metrics import compute_kpis
from kpis.models import FrozenPair, KpiDefinition, KpiResult, PartnerAssetState, UserAssetState
from kpis.rollup import rollup_tenant
from partners.models import User
from tests import factories as f

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 7, 15)  # June is closed, July is current
JUNE = dt.date(2026, 6, 1)


def at(day: dt.date, hour: int = 3) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)  # Tokyo: same day


def _user():
    return User.objects.create(email=f"{uuid.uuid4().hex}@kpis.test")


def log(tenant, *events):
    rows = [
        ActivityEvent(tenant=tenant, partner=p, user=u, asset=a, verb=verb, occurred_at=t, received_at=t,
                      source="portal", event_id=uuid.uuid4().hex, progress=100.0 if verb.startswith("training") else None)
        for p, u, a, verb, t in events
    ]
    activity_record_many(tenant=tenant, events=rows)


def results(tenant, definition):
    return {
        (r.period_start, r.partner_id): (r.numerator, r.denominator, r.value)
        for r in KpiResult.objects.filter(tenant=tenant, definition=definition)
    }


@pytest.fixture
def world(scope_a):
    t = scope_a
    gold = f.PartnerTierFactory(tenant=t, name="Gold", rank=1)
    silver = f.PartnerTierFactory(tenant=t, name="Silver", rank=2)
    p1 = f.PartnerFactory(tenant=t, tier=gold, segment="SMB", joined_on=dt.date(2026, 1, 1))
    p2 = f.PartnerFactory(tenant=t, tier=gold, segment="SMB", joined_on=dt.date(2026, 1, 1))
    late = f.PartnerFactory(tenant=t, tier=gold, segment="SMB", joined_on=dt.date(2026, 6, 20))  # after the June due date
    training = f.AssetFactory(tenant=t, kind="training")
    document = f.AssetFactory(tenant=t, kind="document")
    extra = f.AssetFactory(tenant=t, kind="document")
    path = f.LearningPathFactory(tenant=t)
    f.LearningPathItemFactory(tenant=t, path=path, asset=document)
    tier_assignment = f.AssignmentFactory(tenant=t, target="tier", partner=None, tier=gold, asset=training,
                                          due_on=dt.date(2026, 6, 10))
    path_assignment = f.AssignmentFactory(tenant=t, target="tier", partner=None, tier=gold, asset=None,
                                          learning_path=path, due_on=dt.date(2026, 6, 15))
    u1, u2 = _user(), _user()
    log(t,
        (p1, u1, training, "training.completed", at(dt.date(2026, 6, 5))),   # on time
        (p2, u2, training, "training.completed", at(dt.date(2026, 6, 25))),  # late, but within June
        (p1, u1, document, "document.viewed", at(dt.date(2026, 6, 14))))
    monthly = f.KpiDefinitionFactory(tenant=t, metric="enablement_completion_rate", period="month", target=Decimal(80))
    gold_only = f.KpiDefinitionFactory(tenant=t, metric="enablement_completion_rate", period="month", tier=gold,
                                       target=Decimal(80))
    rollup_tenant(t)
    compute_kpis(t, today=TODAY, periods_back=1)
    return locals()


def test_done_by_the_due_date_counts_and_late_joiners_do_not(world):
    t = world["t"]
    june = results(t, world["monthly"])
    # 4 pairs due in June (training + document for p1 and p2; `late` joined after both due dates)
    assert june[(JUNE, None)] == (Decimal("2.0000"), Decimal("4.0000"), Decimal("50.0000"))
    assert june[(JUNE, world["p1"].pk)][2] == Decimal("100.0000")
    assert june[(JUNE, world["p2"].pk)][2] == Decimal("0.0000")  # completed after its due date
    assert june[(JUNE, world["late"].pk)][1] == Decimal("0.0000")
    filters = parse_filters({"period": "month"}, today=JUNE)
    table = selectors.overview(tenant=t, filters=filters)
    (gold,) = table.tier_completion
    assert (gold.assigned, gold.on_time, gold.by_period_end) == (4, 2, 3)  # by period end: secondary figure
    assert table.rate == 50.0


def test_closed_periods_do_not_rewrite_themselves(world):
    t, p1, p2 = world["t"], world["p1"], world["p2"]
    before = {d: results(t, world[d]) for d in ("monthly", "gold_only")}
    frozen = FrozenPair.objects.filter(tenant=t).count()
    assert frozen == 4
    # afterwards: tiers, paths, asset status and assignments change
    p1.tier = world["silver"]
    p1.save()
    f.LearningPathItemFactory(tenant=t, path=world["path"], asset=world["extra"])
    world["document"].status = "archived"
    world["document"].save()
    f.AssignmentFactory(tenant=t, partner=p2, asset=world["extra"], due_on=dt.date(2026, 6, 20))  # created now, due last month
    world["tier_assignment"].is_active = False
    world["tier_assignment"].save()
    rollup_tenant(t)
    compute_kpis(t, today=TODAY, periods_back=1)
    after = {d: results(t, world[d]) for d in ("monthly", "gold_only")}
    for name in before:
        closed_before = {k: v for k, v in before[name].items() if k[0] == JUNE}
        closed_after = {k: v for k, v in after[name].items() if k[0] == JUNE}
        # the same partners' numbers (a partner that left the tier keeps its past pairs there)
        assert {k: v for k, v in closed_after.items() if k in closed_before} == closed_before, name
        assert all(v[1] == 0 for k, v in closed_after.items() if k not in closed_before), name
    assert FrozenPair.objects.filter(tenant=t).count() == frozen
    # the dashboard's June table still groups p1's June pairs under Gold
    table = selectors.overview(tenant=t, filters=parse_filters({"period": "month"}, today=JUNE))
    assert [(r.tier, r.assigned) for r in table.tier_completion] == [("Gold", 4)]


def test_a_recompute_of_a_closed_period_reproduces_its_numbers(world):
    t = world["t"]
    before = results(t, world["monthly"])
    KpiResult.objects.filter(tenant=t).delete()
    compute_kpis(t, today=TODAY, periods_back=1)
    assert results(t, world["monthly"]) == before


def test_a_user_who_moves_keeps_past_completions_with_the_old_partner(world):
    t, p1, p2, u1 = world["t"], world["p1"], world["p2"], world["u1"]
    # u1 moves to p2 in July and completes the training again there
    log(t, (p2, u1, world["training"], "training.completed", at(dt.date(2026, 7, 2))))
    rollup_tenant(t)
    incremental = (
        sorted(UserAssetState.objects.filter(tenant=t).values_list("user_id", "partner_id", "asset_id", "first_completed_at")),
        sorted(PartnerAssetState.objects.filter(tenant=t).values_list("partner_id", "asset_id", "completed_users")),
    )
    assert UserAssetState.objects.filter(tenant=t, user=u1, partner=p1, asset=world["training"]).exists()
    assert PartnerAssetState.objects.get(tenant=t, partner=p1, asset=world["training"]).completed_users == 1
    assert PartnerAssetState.objects.get(tenant=t, partner=p2, asset=world["training"]).completed_users == 2
    rollup_tenant(t, full=True)
    full = (
        sorted(UserAssetState.objects.filter(tenant=t).values_list("user_id", "partner_id", "asset_id", "first_completed_at")),
        sorted(PartnerAssetState.objects.filter(tenant=t).values_list("partner_id", "asset_id", "completed_users")),
    )
    assert incremental == full
    compute_kpis(t, today=TODAY, periods_back=1)
    assert results(t, world["monthly"])[(JUNE, p1.pk)][2] == Decimal("100.0000")


def test_changing_a_definitions_period_starts_a_new_series_and_keeps_the_old(world):
    t, monthly = world["t"], world["monthly"]
    old_results = results(t, monthly)
    monthly.period = "quarter"
    current = kpi_definition_save(tenant=t, definition=monthly)
    assert current.replaces_id is not None
    old = KpiDefinition.objects.get(pk=current.replaces_id)
    assert (old.period, old.is_active) == ("month", False)
    assert (current.period, current.is_active) == ("quarter", True)
    assert results(t, old) == old_results  # still readable
    compute_kpis(t, today=TODAY, periods_back=1)
    assert results(t, old) == old_results  # inactive: not recomputed, not mixed
    assert {k[0] for k in results(t, current)} == {dt.date(2026, 4, 1), dt.date(2026, 7, 1)}
    # a target change is edited in place
    current.target = Decimal(70)
    assert kpi_definition_save(tenant=t, definition=current).pk == current.pk


def test_pacing_prorates_a_count_target_and_compares_the_same_days(scope_a):
    t = scope_a
    partners = [f.PartnerFactory(tenant=t, joined_on=dt.date(2026, 1, 1)) for _ in range(2)]
    doc = f.AssetFactory(tenant=t, kind="document")
    downloads = f.KpiDefinitionFactory(tenant=t, metric="document_downloads", period="month", target=Decimal(150),
                                       warning_band=Decimal(10))
    # 2 December: 12 downloads so far; November had 10 in its first two days and 630 in all
    u = _user()
    log(t, *[(partners[i % 2], u, doc, "document.downloaded", at(dt.date(2026, 12, 1 + i % 2))) for i in range(12)],
        *[(partners[0], u, doc, "document.downloaded", at(dt.date(2026, 11, 1 + i % 2))) for i in range(10)],
        *[(partners[0], u, doc, "document.downloaded", at(dt.date(2026, 11, 10))) for _ in range(620)])
    rollup_tenant(t)
    compute_kpis(t, today=dt.date(2026, 12, 2), periods_back=1)
    current = KpiResult.objects.get(tenant=t, definition=downloads, period_start=dt.date(2026, 12, 1), partner=None)
    assert current.elapsed_days == 2
    assert current.target == Decimal("9.68")  # 150 × 2/31
    assert current.status == "on_track"  # 12 against 9.68, not "off track" against 150
    assert current.previous_to_date == Decimal("10.0000")  # not all 630 of November
    per_partner = KpiResult.objects.filter(tenant=t, definition=downloads, partner__isnull=False)
    assert {r.status for r in per_partner} == {"no_target"}  # a tenant-wide count is no per-partner target
    card = next(c for c in selectors.kpi_cards(tenant=t, end=dt.date(2026, 12, 31), language="en") if c.definition == downloads)
    assert card.to_date and card.change == Decimal("2.0000")
    closed = KpiResult.objects.get(tenant=t, definition=downloads, period_start=dt.date(2026, 11, 1), partner=None)
    assert (closed.elapsed_days, closed.target, closed.previous_to_date) == (None, Decimal(150), None)


def test_the_filter_bar_changes_the_cards(world):
    t, gold, p1 = world["t"], world["gold"], world["p1"]
    filters = parse_filters({"period": "month"}, tier_ids={gold.pk, world["silver"].pk}, today=JUNE)
    plain = {c.definition.pk: c for c in selectors.kpi_cards(tenant=t, end=filters.end, language="en", filters=filters)}
    assert not plain[world["monthly"].pk].live and plain[world["monthly"].pk].value == Decimal("50.0000")
    # a partner filter: computed for that partner only
    narrowed = parse_filters({"period": "month", "q": p1.name}, tier_ids={gold.pk}, today=JUNE)
    cards = {c.definition.pk: c for c in selectors.kpi_cards(tenant=t, end=narrowed.end, language="en", filters=narrowed)}
    card = cards[world["monthly"].pk]
    assert card.live and card.value == Decimal("100.0000") and card.status == "on_track"
    # another period than the definition's: the quarter containing June
    quarter = parse_filters({"period": "quarter"}, today=JUNE)
    card = {c.definition.pk: c for c in selectors.kpi_cards(tenant=t, end=quarter.end, language="en", filters=quarter)}[
        world["monthly"].pk]
    assert card.live and (card.current.period_start, card.current.period_end) == (dt.date(2026, 4, 1), dt.date(2026, 6, 30))
    assert card.value == Decimal("50.0000")


def test_the_segment_filter_lists_distinct_values(scope_a):
    for i in range(6):
        f.PartnerFactory(tenant=scope_a, name=f"P{i}", segment=["SMB", "Enterprise"][i % 2])
    assert selectors.filter_choices(tenant=scope_a).segments == ["Enterprise", "SMB"]


def test_dated_targets_per_tier_segment_and_partner(world):
    from kpis.models import KpiTarget

    t, monthly, gold, p1, p2 = world["t"], world["monthly"], world["gold"], world["p1"], world["p2"]
    KpiTarget.objects.create(tenant=t, definition=monthly, effective_from=dt.date(2026, 7, 1), target=Decimal(60))
    KpiTarget.objects.create(tenant=t, definition=monthly, tier=gold, effective_from=dt.date(2026, 1, 1), target=Decimal(40))
    KpiTarget.objects.create(tenant=t, definition=monthly, partner=p1, effective_from=dt.date(2026, 6, 1), target=Decimal(95))
    KpiTarget.objects.create(tenant=t, definition=monthly, partner=p2, effective_from=dt.date(2026, 8, 1), target=Decimal(10))
    compute_kpis(t, today=TODAY, periods_back=1)

    def target(start, partner=None):
        return KpiResult.objects.get(tenant=t, definition=monthly, period_start=start, partner=partner).target

    assert target(JUNE) == Decimal(80)  # the dated 60 applies from July only
    assert target(dt.date(2026, 7, 1)) == Decimal(60)
    assert target(JUNE, p1) == Decimal(95)  # the partner's own target
    assert target(JUNE, p2) == Decimal(40)  # its tier's (its own starts in August)
    june_p2 = KpiResult.objects.get(tenant=t, definition=monthly, period_start=JUNE, partner=p2)
    assert june_p2.status == "off_track"  # 0 % against 40


def test_a_partner_count_target_judges_that_partner(scope_a):
    from kpis.models import KpiTarget

    t = scope_a
    partner = f.PartnerFactory(tenant=t, joined_on=dt.date(2026, 1, 1))
    other = f.PartnerFactory(tenant=t, joined_on=dt.date(2026, 1, 1))
    doc = f.AssetFactory(tenant=t, kind="document")
    downloads = f.KpiDefinitionFactory(tenant=t, metric="document_downloads", period="month", target=Decimal(150))
    KpiTarget.objects.create(tenant=t, definition=downloads, partner=partner, effective_from=dt.date(2026, 1, 1), target=Decimal(3))
    u = _user()
    log(t, *[(partner, u, doc, "document.downloaded", at(dt.date(2026, 6, 3))) for _ in range(4)])
    rollup_tenant(t)
    compute_kpis(t, today=TODAY, periods_back=1)
    row = KpiResult.objects.get(tenant=t, definition=downloads, period_start=JUNE, partner=partner)
    assert (row.target, row.status) == (Decimal(3), "on_track")
    assert KpiResult.objects.get(tenant=t, definition=downloads, period_start=JUNE, partner=other).status == "no_target"
