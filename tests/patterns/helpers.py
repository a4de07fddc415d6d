"""Constructed data where the answer is known: 5 top partners (won deals) and 20 others."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from kpis.models import PartnerAssetState
from partners.deals.models import DealStage
from tests import factories as f

TODAY = dt.date(2026, 6, 30)


def at(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(10)))


# When the test assets were published: before every constructed first win (an asset published after
# a partner's first win is left out of that partner's shares).
def long_ago() -> dt.datetime:
    return at(dt.date(2024, 1, 1))


def consume(tenant, partner, asset, day: dt.date, *, completed: bool = True) -> PartnerAssetState:
    return PartnerAssetState.objects.create(
        tenant=tenant,
        partner=partner,
        asset=asset,
        first_activity_at=at(day),
        last_activity_at=at(day),
        first_completed_at=at(day) if completed else None,
        completed_users=1 if completed else 0,
        active_users=1,
    )


def build_world(tenant, *, today: dt.date = TODAY, n_top: int = 5, n_other: int = 20):
    """Top partners win big 100 days before ``today`` (first win) and again later; others win small or never."""
    tier = f.PartnerTierFactory(tenant=tenant, name="Gold", rank=1)
    top, others = [], []
    for i in range(n_top):
        p = f.PartnerFactory(tenant=tenant, tier=tier, name=f"Top {i}", external_id=f"T{i}",
                             joined_on=today - dt.timedelta(days=400))
        f.DealFactory(tenant=tenant, partner=p, stage=DealStage.WON, amount=10_000_000,
                      closed_on=today - dt.timedelta(days=100))
        f.DealFactory(tenant=tenant, partner=p, stage=DealStage.WON, amount=5_000_000,
                      closed_on=today - dt.timedelta(days=20))
        top.append(p)
    for i in range(n_other):
        status = "nurturing" if i < 4 else "active"
        p = f.PartnerFactory(tenant=tenant, tier=tier, name=f"Other {i:02d}", external_id=f"O{i}", status=status,
                             joined_on=today - dt.timedelta(days=400))
        if i >= 10:  # half of the others win a little
            f.DealFactory(tenant=tenant, partner=p, stage=DealStage.WON, amount=100_000 + i,
                          closed_on=today - dt.timedelta(days=50))
        others.append(p)
    return top, others
