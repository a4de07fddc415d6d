"""Demo steps of the success patterns.

``plant`` (after the deals exist, before the rollup): ~85% of the top partners completed the
training "deal-registration-masterclass" some weeks BEFORE their first won deal, against ~15% of
the other partners; ~70% of the top partners also viewed a sales document about ten weeks before
their first win (~20% of others), and most had a co-selling session with their channel manager.
``mine`` (after the rollup) mines it, so the success-patterns page shows the masterclass first.
"""

from __future__ import annotations

import datetime as dt
import logging
import random

from django.db import transaction
from django.utils import timezone, translation

from enablement.models import ActivityEvent, Asset, AssetKind, AssetStatus, EventSource
from enablement.services.log import activity_record_many
from kpis.models import PartnerAssetState
from kpis.patterns.mining import mine_patterns
from kpis.patterns.models import PatternRun
from kpis.patterns.selectors import partner_cohorts
from kpis.patterns.services import playbook_create_from_run
from kpis.rollup import rollup_tenant
from partners.models import Membership, Partner, Role, SupportActivity

logger = logging.getLogger(__name__)

MASTERCLASS_ID = "deal-registration-masterclass"
DEMO_WINDOW_DAYS = 180
MASTERCLASS_TITLE = {"ja": "案件登録マスタークラス", "en": "Deal registration masterclass"}
def _aware(day: dt.date, hour: int, tz) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, 0)), tz)


def _local_day(value: dt.datetime, tz) -> dt.date:
    return timezone.localtime(value, tz).date()


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
def plant(tenant, *, log=print) -> bool:
    """Plant the pattern in the log (runs after the deals exist and before the rollup)."""
    if ActivityEvent.objects.filter(tenant=tenant, event_id__startswith="demo-masterclass-").exists():
        return False
    rng = random.Random(f"20261126:pattern:{tenant.slug}")
    today = timezone.localdate(timezone=tenant.zoneinfo)
    tz = tenant.zoneinfo
    partners = list(Partner.objects.filter(tenant=tenant).select_related("tier", "manager").order_by("external_id", "pk"))
    if not partners:
        return False

    lang = "ja" if tenant.default_language == "ja" else "en"
    masterclass = Asset.objects.filter(tenant=tenant, external_id=MASTERCLASS_ID).first()
    if masterclass is None:
        masterclass = Asset.objects.create(
            tenant=tenant, kind=AssetKind.TRAINING, external_id=MASTERCLASS_ID, title=MASTERCLASS_TITLE[lang],
            description="", language=lang, status=AssetStatus.PUBLISHED, duration_seconds=1800,
            created_at=timezone.now() - dt.timedelta(days=500), published_at=timezone.now() - dt.timedelta(days=500),
            category="sales",
        )
    document = (
        Asset.objects.filter(tenant=tenant, kind=AssetKind.DOCUMENT, status=AssetStatus.PUBLISHED).order_by("pk").first()
    )
    # No event before its asset existed: the first day each planted asset may be used on.
    usable_from = {a.pk: _local_day(max(a.created_at, a.published_at or a.created_at), tz) + dt.timedelta(days=1)
                   for a in (masterclass, document) if a is not None}
    users: dict[int, int] = {}
    demo_partner_ids: set[int] = set()
    for m in Membership.objects.filter(tenant=tenant, role=Role.PARTNER_USER).order_by("pk").values(
        "partner_id", "user_id", "user__email"
    ):
        users.setdefault(m["partner_id"], m["user_id"])
        if m["user__email"].startswith("partner@"):
            demo_partner_ids.add(m["partner_id"])  # the demo login keeps a visible gap to the pattern

    with timezone.override(tz):
        cohorts = partner_cohorts(tenant=tenant, as_of=today, window_days=DEMO_WINDOW_DAYS)
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
            day = max(p.joined_on + dt.timedelta(days=1), first_win - dt.timedelta(days=rng.randint(21, 56)),
                      usable_from[masterclass.pk])
            if day < first_win:
                events += _training_events(tenant, masterclass, p, users.get(p.pk), _aware(day, 14, tz))
        if document is not None and rng.random() < 0.7:
            day = max(p.joined_on + dt.timedelta(days=1), first_win - dt.timedelta(days=rng.randint(63, 84)),
                      usable_from[document.pk])
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
            day = max(day, p.joined_on, usable_from[masterclass.pk])
            if day < today:
                events += _training_events(tenant, masterclass, p, users.get(p.pk), _aware(day, 15, tz))
        if document is not None and rng.random() < 0.2:
            day = max(today - dt.timedelta(days=rng.randint(5, window_days)), p.joined_on, usable_from[document.pk])
            if day < today:
                events.append(ActivityEvent(
                    tenant=tenant, partner=p, user_id=users.get(p.pk), asset=document, verb="document.viewed",
                    occurred_at=_aware(day, 11, tz), source=EventSource.IMPORT, event_id=f"demo-deck-{p.external_id}"))
        if rng.random() < 0.3:
            activities.append(SupportActivity(tenant=tenant, partner=p, manager=p.manager, kind="co_selling",
                                              occurred_on=today - dt.timedelta(days=rng.randint(5, window_days)),
                                              duration_minutes=60, notes="demo"))
    activity_record_many(tenant=tenant, events=events)
    SupportActivity.objects.bulk_create(activities)
    log(f"  {tenant.slug}: planted pattern for {len(top)} top partners "
        f"({len(events)} events, {len(activities)} co-selling sessions)")
    return True


def mine(tenant, *, log=print) -> bool:
    """Mine the patterns and create the suggested playbook (runs after the rollup)."""
    if PatternRun.objects.filter(tenant=tenant).exists():
        return False
    if not PartnerAssetState.objects.filter(tenant=tenant).exists():
        # The rollup has not run (kpis.demo skipped or failed): roll up now so the mining has states.
        rollup_tenant(tenant, full=True)
    with timezone.override(tenant.zoneinfo), translation.override(tenant.default_language):
        # The demo's activity log covers about six months: mine the same six months.
        run = mine_patterns(tenant=tenant, window_days=DEMO_WINDOW_DAYS)
        path = playbook_create_from_run(tenant=tenant, run=run, actor=None) if run.status == run.Status.OK else None
    first = run.items.select_related("asset", "path").order_by("rank").first()
    log(f"  {tenant.slug}: patterns {run.get_status_display()} — {run.top_n} top vs {run.other_n} others; "
        f"first: {first.label if first else '—'}; playbook: {path.title if path else '—'}")
    return True
