"""Demo step: a year of deals per partner and the planted success pattern.

Runs after ``enablement.demo`` and before ``kpis.demo`` (which rolls the log up). Stronger partners
(``partners.demo.partner_strength``) register more deals, win more often and win bigger. The
planted pattern: ~85% of the top partners completed the training "deal-registration-masterclass"
some weeks BEFORE their first won deal, against ~15% of the other partners; ~70% of the top
partners also viewed a sales document about ten weeks before their first win (~20% of others),
and most had a co-selling session with their channel manager. ``kpis.demo_patterns`` then mines
it, so the success-patterns page shows the masterclass ranked first.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from enablement.models import ActivityEvent, Asset, AssetKind, AssetStatus, EventSource
from enablement.services import activity_record_many
from kpis.selectors_patterns import partner_cohorts
from partners.demo import partner_strength
from partners.models import (
    Deal,
    DealSource,
    DealStage,
    Membership,
    Partner,
    PartnerStatus,
    Role,
    SupportActivity,
)

MASTERCLASS_ID = "deal-registration-masterclass"
MASTERCLASS_TITLE = {"ja": "案件登録マスタークラス", "en": "Deal registration masterclass"}
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


def _training_events(tenant, asset: Asset, partner: Partner, user_id, start: dt.datetime) -> list[ActivityEvent]:
    base = f"demo-masterclass-{partner.external_id}"
    dur = asset.duration_seconds or 1800
    common = {"tenant": tenant, "partner": partner, "user_id": user_id, "asset": asset, "source": EventSource.IMPORT}
    return [
        ActivityEvent(**common, verb="training.started", occurred_at=start, event_id=f"{base}-started", progress=0.0),
        ActivityEvent(**common, verb="training.progressed", occurred_at=start + dt.timedelta(minutes=15),
                      event_id=f"{base}-progressed", progress=50.0, seconds=dur / 2, played_segments=[[0, dur / 2]]),
        ActivityEvent(**common, verb="training.completed", occurred_at=start + dt.timedelta(minutes=35),
                      event_id=f"{base}-completed", progress=100.0, seconds=dur / 2, played_segments=[[0, dur]]),
    ]


@transaction.atomic
def seed(tenant, *, log=print) -> bool:
    if Deal.objects.filter(tenant=tenant).exists():
        return False
    rng = random.Random(f"20261126:outcomes:{tenant.slug}")
    today = timezone.localdate(timezone=tenant.zoneinfo)
    tz = tenant.zoneinfo
    partners = list(Partner.objects.filter(tenant=tenant).select_related("tier", "manager").order_by("external_id", "pk"))
    if not partners:
        return False
    deals = _deals(tenant, partners, rng, today)
    Deal.objects.bulk_create(deals, batch_size=500)

    lang = "ja" if tenant.default_language == "ja" else "en"
    masterclass = Asset.objects.filter(tenant=tenant, external_id=MASTERCLASS_ID).first()
    if masterclass is None:
        masterclass = Asset.objects.create(
            tenant=tenant, kind=AssetKind.TRAINING, external_id=MASTERCLASS_ID, title=MASTERCLASS_TITLE[lang],
            description="", language=lang, status=AssetStatus.PUBLISHED, duration_seconds=1800,
            published_at=timezone.now() - dt.timedelta(days=500), category="sales",
        )
    document = (
        Asset.objects.filter(tenant=tenant, kind=AssetKind.DOCUMENT, status=AssetStatus.PUBLISHED).order_by("pk").first()
    )
    users: dict[int, int] = {}
    demo_partner_ids: set[int] = set()
    for m in Membership.objects.filter(tenant=tenant, role=Role.PARTNER_USER).order_by("pk").values(
        "partner_id", "user_id", "user__email"
    ):
        users.setdefault(m["partner_id"], m["user_id"])
        if m["user__email"].startswith("partner@"):
            demo_partner_ids.add(m["partner_id"])  # the demo login keeps a visible gap to the pattern

    with timezone.override(tz):
        cohorts = partner_cohorts(tenant=tenant, as_of=today)
    top = sorted(cohorts.top, key=lambda r: r.partner.external_id)
    others = sorted(cohorts.non_top, key=lambda r: r.partner.external_id)
    rng.shuffle(top)
    rng.shuffle(others)
    events: list[ActivityEvent] = []
    activities: list[SupportActivity] = []
    n_master_top = round(0.85 * len(top))
    for i, row in enumerate(top):
        p, first_win = row.partner, row.first_win_on or today
        if i < n_master_top:
            day = max(p.joined_on + dt.timedelta(days=1), first_win - dt.timedelta(days=rng.randint(21, 56)))
            if day < first_win:
                events += _training_events(tenant, masterclass, p, users.get(p.pk), _aware(day, 14, tz))
        if document is not None and rng.random() < 0.7:
            day = max(p.joined_on + dt.timedelta(days=1), first_win - dt.timedelta(days=rng.randint(63, 84)))
            if day < first_win:
                events.append(ActivityEvent(
                    tenant=tenant, partner=p, user_id=users.get(p.pk), asset=document, verb="document.viewed",
                    occurred_at=_aware(day, 11, tz), source=EventSource.IMPORT, event_id=f"demo-deck-{p.external_id}"))
        if rng.random() < 0.75:
            day = max(p.joined_on, first_win - dt.timedelta(days=rng.randint(30, 90)))
            activities.append(SupportActivity(tenant=tenant, partner=p, manager=p.manager, kind="co_selling",
                                              occurred_on=day, duration_minutes=90, notes="demo"))
    window_days = (today - cohorts.window_start).days
    candidates = [r for r in others if r.partner.pk not in demo_partner_ids]
    for i, row in enumerate(candidates):
        p = row.partner
        if i < round(0.15 * len(others)):
            day = today - dt.timedelta(days=rng.randint(5, window_days))
            events += _training_events(tenant, masterclass, p, users.get(p.pk), _aware(max(day, p.joined_on), 15, tz))
        if document is not None and rng.random() < 0.2:
            day = today - dt.timedelta(days=rng.randint(5, window_days))
            events.append(ActivityEvent(
                tenant=tenant, partner=p, user_id=users.get(p.pk), asset=document, verb="document.viewed",
                occurred_at=_aware(max(day, p.joined_on), 11, tz), source=EventSource.IMPORT, event_id=f"demo-deck-{p.external_id}"))
        if rng.random() < 0.3:
            activities.append(SupportActivity(tenant=tenant, partner=p, manager=p.manager, kind="co_selling",
                                              occurred_on=today - dt.timedelta(days=rng.randint(5, window_days)),
                                              duration_minutes=60, notes="demo"))
    activity_record_many(tenant=tenant, events=events)
    SupportActivity.objects.bulk_create(activities)
    won = sum(1 for d in deals if d.stage == DealStage.WON)
    log(f"  {tenant.slug}: {len(deals)} deals ({won} won), planted pattern for {len(top)} top partners "
        f"({len(events)} events, {len(activities)} co-selling sessions)")
    return True
