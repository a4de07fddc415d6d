"""Demo step: a year of deals per partner. Stronger partners (``partners.demo.partner_strength``)
register more deals, win more often and win bigger."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from partners.deals.models import Deal, DealEvent, DealSource, DealStage
from partners.deals.normalize import customer_key
from partners.demo import partner_strength
from partners.models import Partner, PartnerStatus

CUSTOMERS = {
    "ja": ["山田製作所", "青空物流", "東都銀行", "みなと病院", "北辰電機", "花園食品", "若草不動産", "光速通信", "大地建設", "翠川化学",
           "朝霧ホテルズ", "星野教育", "丸菱商事", "中央自治体", "日の出保険"],
    "en": ["Acme Manufacturing", "Blue Sky Logistics", "First City Bank", "Harbor Hospital", "Polaris Electric",
           "Garden Foods", "Greenleaf Realty", "Lightspeed Telecom", "Terra Construction", "Riverside Chemicals",
           "Morning Mist Hotels", "Starfield Education", "Marubeni Trading", "Central County", "Sunrise Insurance"],
}
PRODUCTS = {"ja": ["クラウド基盤", "セキュリティ", "データ分析", "保守サポート"], "en": ["Cloud Platform", "Security", "Analytics", "Support"]}


def _aware(day: dt.date, hour: int, tz) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, 0)), tz)


def _deals(tenant, partners: list[Partner], rng: random.Random, today: dt.date) -> list[Deal]:
    lang = "ja" if tenant.default_language == "ja" else "en"
    currency, unit = ("JPY", 1_000_000) if lang == "ja" else ("USD", 10_000)
    tz = tenant.zoneinfo
    deals = []
    for p in partners:
        s = partner_strength(p)
        n = 1 + int(s * 9) + rng.randint(0, 2)
        if p.status == PartnerStatus.DORMANT:
            n = rng.randint(0, 1)
        earliest = max(p.joined_on, today - dt.timedelta(days=360))
        span = (today - earliest).days
        if span < 5:
            continue
        for k in range(n):
            created = earliest + dt.timedelta(days=rng.randint(0, span))
            age = (today - created).days
            amount = Decimal(unit) * Decimal(str(round(rng.uniform(0.3, 1.2) * (0.4 + 3 * s * s), 2)))
            stage, closed_on, expected = DealStage.REGISTERED, None, created + dt.timedelta(days=rng.randint(30, 120))
            if age > 40:
                closed_on = min(today, created + dt.timedelta(days=rng.randint(20, 90)))
                roll = rng.random()
                stage = DealStage.WON if roll < 0.1 + 0.7 * s else DealStage.REJECTED if roll > 0.95 else DealStage.LOST
                if stage == DealStage.REJECTED:
                    closed_on = None
            elif age > 10:
                stage = DealStage.APPROVED if rng.random() < 0.7 else DealStage.REGISTERED
            if expected < today and stage in (DealStage.REGISTERED, DealStage.APPROVED):
                expected = today + dt.timedelta(days=rng.randint(7, 60))
            imported = rng.random() < 0.4
            deals.append(
                Deal(
                    tenant=tenant,
                    partner=p,
                    external_id=f"CRM-{tenant.slug[:2].upper()}-{p.external_id}-{k + 1:02d}" if imported else "",
                    customer=rng.choice(CUSTOMERS[lang]),
                    product=rng.choice(PRODUCTS[lang]),
                    amount=amount,
                    currency=currency,
                    expected_close_on=expected,
                    stage=stage,
                    closed_on=closed_on,
                    source=DealSource.IMPORT if imported else DealSource.PORTAL,
                    created_at=_aware(created, 10, tz),
                )
            )
    return deals



@transaction.atomic
def seed(tenant, *, log=print) -> bool:
    if Deal.objects.filter(tenant=tenant).exists():
        return False
    rng = random.Random(f"20261126:outcomes:{tenant.slug}")
    today = timezone.localdate(timezone=tenant.zoneinfo)
    partners = list(Partner.objects.filter(tenant=tenant).select_related("tier", "manager").order_by("external_id", "pk"))
    if not partners:
        return False
    deals = _deals(tenant, partners, rng, today)
    for deal in deals:  # what the services would have set
        deal.customer_key = customer_key(deal.customer)
        if deal.stage in (DealStage.REGISTERED, DealStage.APPROVED):
            deal.expires_on = deal.created_at.date() + dt.timedelta(days=tenant.deal_registration_days)
    Deal.objects.bulk_create(deals, batch_size=500)
    reason = "重複登録のため" if tenant.default_language == "ja" else "Registered twice"
    events = []
    for deal in deals:  # the stage history: registration, then the latest decision
        events.append(DealEvent(tenant=tenant, deal=deal, from_stage="", to_stage=DealStage.REGISTERED, at=deal.created_at))
        previous = DealStage.REGISTERED
        if deal.stage in (DealStage.WON, DealStage.LOST):
            approved = min((deal.created_at + dt.timedelta(days=5)).date(), deal.closed_on)
            events.append(DealEvent(tenant=tenant, deal=deal, from_stage=previous, to_stage=DealStage.APPROVED,
                                    at=_aware(approved, 12, tenant.zoneinfo)))
            previous = DealStage.APPROVED
        if deal.stage != DealStage.REGISTERED:
            day = deal.closed_on or (deal.created_at + dt.timedelta(days=10)).date()
            events.append(DealEvent(
                tenant=tenant, deal=deal, from_stage=previous, to_stage=deal.stage,
                reason=reason if deal.stage == DealStage.REJECTED else "", at=_aware(min(day, today), 17, tenant.zoneinfo),
            ))
    DealEvent.objects.bulk_create(events, batch_size=500)
    won = sum(1 for d in deals if d.stage == DealStage.WON)
    log(f"  {tenant.slug}: {len(deals)} deals ({won} won)")
    return True
