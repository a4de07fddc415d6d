"""The 支援消化率 KPI card and the overview's tier table count the same pairs the same way: on the
seeded demo tenant, for every period of the cards' trend and every tier, they give the same rate."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.utils import timezone
from django_scopes import scope

from enablement import demo as enablement_demo
from kpis import demo as kpis_demo
from kpis.dashboards import selectors
from kpis.dashboards.filters import parse_filters
from kpis.metrics import metric_values
from kpis.models import KpiDefinition, KpiResult, Metric, Period
from kpis.periods import recent_periods
from partners import demo as partners_demo
from partners.models import PartnerTier, Tenant

pytestmark = pytest.mark.django_db


def _one_decimal(value) -> float | None:
    return None if value is None else float(Decimal(value).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


@pytest.fixture
def sakura():
    partners_demo.seed(log=lambda *a: None)
    tenant = Tenant.objects.get(slug="sakura")
    with scope(tenant=tenant.pk):
        enablement_demo.seed(tenant, log=lambda *a: None)
        kpis_demo.seed(tenant, log=lambda *a: None)
        yield tenant


@pytest.mark.parametrize("period", [Period.MONTH, Period.QUARTER])
def test_the_card_and_the_tier_table_agree_for_every_period_and_tier(sakura, period):
    tenant = sakura
    today = timezone.now().astimezone(tenant.zoneinfo).date()
    definition = KpiDefinition.objects.get(
        tenant=tenant, metric=Metric.ENABLEMENT_COMPLETION_RATE, period=period, tier__isnull=True, segment=""
    )
    tiers = list(PartnerTier.objects.filter(tenant=tenant))
    choices = selectors.filter_choices(tenant=tenant)
    checked_pairs = 0
    for start, end in recent_periods(period, today, 11 if period == Period.MONTH else 3):
        filters = parse_filters({"period": period}, tier_ids=choices.tier_ids, today=start)
        assert (filters.start, filters.end) == (start, end)
        # the card: the stored overall result of the period, as kpi_cards shows it
        cards = {c.definition.pk: c for c in selectors.kpi_cards(tenant=tenant, end=end, language="ja")}
        card = cards[definition.pk]
        assert card.current.period_start == start
        table = selectors.overview(tenant=tenant, filters=filters)
        assert table.assigned_total == int(card.current.denominator), (start, "pairs")
        assert table.completed_total == int(card.current.numerator), (start, "completed")
        assert table.rate == _one_decimal(card.value), start
        assert sum(t.assigned for t in table.tier_completion) == table.assigned_total
        checked_pairs += table.assigned_total
        # per tier: the tier-filtered KPI (what a tier card computes) and the tier table's row
        rows = {t.tier: t for t in table.tier_completion}
        for tier in tiers:
            tier_definition = KpiDefinition(
                tenant=tenant, metric=Metric.ENABLEMENT_COMPLETION_RATE, period=period, tier=tier, target=80
            )
            overall, _ = metric_values(tenant, tier_definition, start, end)
            filtered = selectors.overview(
                tenant=tenant, filters=parse_filters({"period": period, "tier": str(tier.pk)},
                                                     tier_ids=choices.tier_ids, today=start)
            )
            row = rows.get(tier.name)
            assert (row.assigned if row else 0) == int(overall.denominator) == filtered.assigned_total, (start, tier.name)
            assert (row.rate if row else None) == _one_decimal(overall.value) == filtered.rate, (start, tier.name)
        # a stored tier-filtered card (the demo's top-tier KPI) agrees too
        for stored in KpiResult.objects.filter(
            tenant=tenant, definition__metric=Metric.ENABLEMENT_COMPLETION_RATE, definition__period=period,
            definition__tier__isnull=False, period_start=start, partner__isnull=True,
        ).select_related("definition__tier"):
            row = rows.get(stored.definition.tier.name)
            assert (row.rate if row else None) == _one_decimal(stored.value), (start, "stored tier card")
    assert checked_pairs > 0
