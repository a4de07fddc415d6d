"""Dashboard test data: facts and KPI results built directly (bulk_create), no rollup run."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from django_scopes import scope

from enablement.models import AssetKind, AssignmentTarget
from kpis.dashboards.filters import period_bounds
from kpis.models import DailyActivityFact, FaqSearchFact, KpiResult, PartnerAssetState, UserAssetState
from partners.models import Membership, Partner, Role, SupportActivity, User
from tests import factories as f


def build_dashboard_data(tenant, *, partners: int = 10, manager=None) -> dict:
    """A tenant with ``partners`` partners (bulk-created), facts, states, FAQ facts and KPI results."""
    today = timezone.localdate()
    month_start, month_end = period_bounds("month", today)
    prev_start, prev_end = period_bounds("month", month_start - dt.timedelta(days=1))
    with scope(tenant=tenant.pk):
        gold = f.PartnerTierFactory(tenant=tenant, name="ゴールド", rank=1)
        silver = f.PartnerTierFactory(tenant=tenant, name="シルバー", rank=2)
        team = f.TeamFactory(tenant=tenant, name="営業推進部")
        training = f.AssetFactory(tenant=tenant, kind=AssetKind.TRAINING, title="製品基礎トレーニング", team=team)
        document = f.AssetFactory(tenant=tenant, kind=AssetKind.DOCUMENT, title="提案資料 2026", team=team)
        faq = f.AssetFactory(tenant=tenant, kind=AssetKind.FAQ, title="ライセンスの更新方法は？")
        unused = f.AssetFactory(tenant=tenant, kind=AssetKind.DOCUMENT, title="未使用の資料")
        f.AssignmentFactory(
            tenant=tenant, asset=training, target=AssignmentTarget.TIER, partner=None, tier=gold,
            due_on=today - dt.timedelta(days=1) if today.day > 1 else today,
        )
        f.AssignmentFactory(
            tenant=tenant, asset=document, target=AssignmentTarget.TIER, partner=None, tier=silver, due_on=month_end
        )
        manager_user = manager.user if manager else f.UserFactory()
        rows = Partner.objects.bulk_create(
            [
                Partner(
                    tenant=tenant,
                    name=f"パートナー {i:04d}",
                    tier=gold if i % 2 == 0 else silver,
                    segment="SMB" if i % 3 else "Enterprise",
                    status="active" if i % 4 else "nurturing",
                    manager=manager_user,
                    joined_on=today - dt.timedelta(days=300),
                )
                for i in range(partners)
            ]
        )
        facts, states, faq_facts, results = [], [], [], []
        definition = f.KpiDefinitionFactory(tenant=tenant, target=Decimal("80"))
        downloads_def = f.KpiDefinitionFactory(
            tenant=tenant, name_ja="資料ダウンロード数", name_en="Document downloads", metric="document_downloads",
            target=Decimal("100"),
        )
        for i, p in enumerate(rows):
            facts.append(DailyActivityFact(tenant=tenant, partner=p, asset=training, day=month_start, verb="training.started", event_count=2, user_count=1))
            facts.append(DailyActivityFact(tenant=tenant, partner=p, asset=training, day=month_start, verb="training.completed", event_count=1, user_count=1))
            facts.append(DailyActivityFact(tenant=tenant, partner=p, asset=document, day=month_start, verb="document.downloaded", event_count=i % 5, user_count=1))
            facts.append(DailyActivityFact(tenant=tenant, partner=p, asset=None, day=today - dt.timedelta(days=45), verb="faq.searched", event_count=20, user_count=1))
            facts.append(DailyActivityFact(tenant=tenant, partner=p, asset=faq, day=month_start, verb="faq.feedback", event_count=1, user_count=1))
            done = i % 4 == 0
            states.append(PartnerAssetState(
                tenant=tenant, partner=p, asset=training, completed_users=1 if done else 0, active_users=1,
                first_completed_at=timezone.now() if done else None,
                last_activity_at=timezone.now() - dt.timedelta(days=i % 40),
            ))
            faq_facts.append(FaqSearchFact(tenant=tenant, partner=p, day=month_start, query="ライセンス 更新", searches=3, zero_result_searches=0, unresolved_searches=2))
            faq_facts.append(FaqSearchFact(tenant=tenant, partner=p, day=month_start, query="請求書", searches=1, zero_result_searches=1, unresolved_searches=1))
            results.append(KpiResult(tenant=tenant, definition=definition, partner=p, period_start=month_start, period_end=month_end, numerator=1, denominator=2, value=Decimal("50"), target=definition.target, status="off_track"))
        DailyActivityFact.objects.bulk_create(facts, batch_size=2000)
        PartnerAssetState.objects.bulk_create(states, batch_size=2000)
        FaqSearchFact.objects.bulk_create(faq_facts, batch_size=2000)
        KpiResult.objects.bulk_create(results, batch_size=2000)
        overall = KpiResult.objects.create(
            tenant=tenant, definition=definition, period_start=month_start, period_end=month_end,
            numerator=Decimal("62"), denominator=Decimal("100"), value=Decimal("62.5"), target=definition.target, status="off_track",
        )
        previous = KpiResult.objects.create(
            tenant=tenant, definition=definition, period_start=prev_start, period_end=prev_end,
            numerator=Decimal("55"), denominator=Decimal("100"), value=Decimal("55"), target=definition.target, status="off_track",
        )
        empty = KpiResult.objects.create(
            tenant=tenant, definition=downloads_def, period_start=month_start, period_end=month_end,
            numerator=0, denominator=0, value=None, target=downloads_def.target, status="no_data",
        )
        first = rows[0]
        user = User.objects.create_user(email=f"user-{tenant.slug}@example.test", password="x", name="山田 太郎")
        Membership.objects.create(tenant=tenant, user=user, role=Role.PARTNER_USER, partner=first)
        UserAssetState.objects.create(tenant=tenant, user=user, partner=first, asset=training, watched_share=0.8, max_progress=80,
                                      first_activity_at=timezone.now(), last_activity_at=timezone.now())
        SupportActivity.objects.create(tenant=tenant, partner=first, manager=manager_user, kind="meeting", occurred_on=today, notes="定例会")
        f.DealFactory(tenant=tenant, partner=first, customer="株式会社サンプル")
    return {
        "partners": rows, "first": first, "training": training, "document": document, "unused": unused,
        "definition": definition, "overall": overall, "previous": previous, "empty": empty, "gold": gold,
    }


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Dashboard tests create many users; hashing strength is not what they test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def data_a(tenant_a, manager_a):
    return build_dashboard_data(tenant_a, partners=10, manager=manager_a)
