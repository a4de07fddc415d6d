"""Demo data step (see partners/management/commands/seed_demo.py): KPI definitions with
targets, then the rollup and the KPI results, so the demo opens with real numbers.

Idempotent: definitions are added only when the tenant has none; the rollup runs whenever
facts or results are missing. Returns True when it added anything.
"""

from __future__ import annotations

import time
from decimal import Decimal

from django.utils import timezone

from kpis.metrics import RECENT_PERIODS_BACK
from kpis.models import DailyActivityFact, Direction, KpiDefinition, KpiResult, KpiTarget, Metric, Period
from kpis.services import kpis_refresh_now
from partners.models import PartnerTier

# (metric, period, Japanese name, English name, target, direction, warning band, top tier only)
DEFINITIONS = [
    (Metric.ENABLEMENT_COMPLETION_RATE, Period.MONTH, "支援消化率", "Enablement completion rate", 80, Direction.HIGHER, 10, False),
    (Metric.ENABLEMENT_COMPLETION_RATE, Period.QUARTER, "支援消化率（四半期）", "Enablement completion rate (quarter)", 85, Direction.HIGHER, 10, False),
    (Metric.ENABLEMENT_COMPLETION_RATE, Period.MONTH, "支援消化率（最上位ティア）", "Enablement completion rate (top tier)", 90, Direction.HIGHER, 5, True),
    (Metric.TRAINING_COMPLETION_RATE, Period.MONTH, "研修修了率", "Training completion rate", 70, Direction.HIGHER, 10, False),
    (Metric.ACTIVE_PARTNER_RATE, Period.MONTH, "アクティブパートナー率", "Active partner rate", 75, Direction.HIGHER, 10, False),
    (Metric.ACTIVE_PARTNER_RATE, Period.WEEK, "アクティブパートナー率（週次）", "Active partner rate (weekly)", 50, Direction.HIGHER, 10, False),
    (Metric.CONTENT_UTILISATION, Period.MONTH, "コンテンツ活用率", "Content utilisation", 60, Direction.HIGHER, 10, False),
    (Metric.DOCUMENT_DOWNLOADS, Period.MONTH, "資料ダウンロード数", "Document downloads", 150, Direction.HIGHER, 30, False),
    (Metric.DOCUMENT_DOWNLOADS, Period.WEEK, "資料ダウンロード数（週次）", "Document downloads (weekly)", 35, Direction.HIGHER, 10, False),
    (Metric.FAQ_UNRESOLVED_RATE, Period.MONTH, "FAQ未解決率", "FAQ unresolved rate", 20, Direction.LOWER, 10, False),
    (Metric.SUPPORT_ACTIVITIES_PER_PARTNER, Period.MONTH, "パートナーあたり支援活動数", "Support activities per partner", 2, Direction.HIGHER, 1, False),
    (Metric.MEDIAN_DAYS_TO_FIRST_COMPLETION, Period.QUARTER, "初回修了までの日数（中央値）", "Median days to first completion", 30, Direction.LOWER, 15, False),
    (Metric.CERTIFIED_PARTNER_RATE, Period.MONTH, "認定パートナー率", "Certified partner rate", 60, Direction.HIGHER, 10, False),
    (Metric.EXPIRING_CERTIFICATES, Period.MONTH, "30日以内に失効する認定", "Certificates expiring within 30 days", 2, Direction.LOWER, 2, False),
    (Metric.ASSESSMENT_PASS_RATE, Period.MONTH, "確認テスト合格率", "Assessment pass rate", 60, Direction.HIGHER, 10, False),
]


def seed(tenant, *, log=print) -> bool:
    added = False
    if not KpiDefinition.objects.filter(tenant=tenant).exists():
        top_tier = PartnerTier.objects.filter(tenant=tenant).order_by("rank", "name").first()
        rows = []
        for metric, period, name_ja, name_en, target, direction, band, top_only in DEFINITIONS:
            if top_only and top_tier is None:
                continue
            rows.append(
                KpiDefinition(
                    tenant=tenant,
                    metric=metric,
                    period=period,
                    # a tier-scoped card shows its tier after the name ("支援消化率 · プラチナ"): not in the name too
                    name_ja=name_ja if not top_only else "支援消化率",
                    name_en=name_en if not top_only else "Enablement completion rate",
                    target=Decimal(target),
                    direction=direction,
                    warning_band=Decimal(band),
                    tier=top_tier if top_only else None,
                )
            )
        for row in rows:
            row.full_clean(exclude=["tenant"])
        KpiDefinition.objects.bulk_create(rows)
        log(f"  {tenant.slug}: {len(rows)} KPI definitions")
        # a per-tier target: the top tier is held to more on the monthly completion rate
        monthly = next((r for r in rows if r.metric == Metric.ENABLEMENT_COMPLETION_RATE and r.period == Period.MONTH
                        and r.tier_id is None), None)
        if monthly is not None and top_tier is not None:
            KpiTarget.objects.create(tenant=tenant, definition=monthly, tier=top_tier, target=Decimal(90),
                                     effective_from=timezone.localdate().replace(day=1, month=1))
        added = True
    if added or not DailyActivityFact.objects.filter(tenant=tenant).exists() or not KpiResult.objects.filter(tenant=tenant).exists():
        started = time.monotonic()
        result = kpis_refresh_now(tenant=tenant, full=True, periods_back=RECENT_PERIODS_BACK)
        log(
            f"  {tenant.slug}: rollup {result.stats.daily_rows} daily facts, {result.results} KPI results "
            f"({time.monotonic() - started:.1f}s)"
        )
        added = True
    return added
