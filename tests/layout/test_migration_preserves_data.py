"""The package layout moved models between apps (Deal → deals, PatternRun/PatternItem → patterns)
with state-only migrations. A database holding data at the old head migrates to the new head with
nothing lost: same tables, same rows, readable through the new models."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django_scopes import scopes_disabled

from partners.tenancy.rls import drop_row_level_security, ensure_row_level_security

# The heads before the layout change (main at 1c88c14).
OLD_HEAD = [
    ("partners", "0002_api_throttle_table"),
    ("enablement", "0010_xapi_statement"),
    ("kpis", "0012_daily_fact_negative_count"),
]
MOVED_APPS = ["deals", "patterns"]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state([t for t in targets if t[1] is not None]).apps


@pytest.mark.django_db(transaction=True)
def test_old_head_to_new_head_keeps_deals_and_patterns():
    drop_row_level_security()  # PostgreSQL: policies pin tenant_id columns that rewinding drops
    old_apps = _migrate([*OLD_HEAD, *((app, None) for app in MOVED_APPS)])
    Tenant = old_apps.get_model("partners", "Tenant")
    Partner = old_apps.get_model("partners", "Partner")
    OldDeal = old_apps.get_model("partners", "Deal")
    OldRun = old_apps.get_model("kpis", "PatternRun")
    OldItem = old_apps.get_model("kpis", "PatternItem")
    OldCT = old_apps.get_model("contenttypes", "ContentType")

    tenant = Tenant.objects.create(slug="legacy", name="Legacy", default_language="ja", time_zone="Asia/Tokyo")
    partner = Partner.objects.create(tenant=tenant, name="旧パートナー", external_id="P-1")
    deals = [
        OldDeal.objects.create(tenant=tenant, partner=partner, customer=f"顧客{i}", amount=Decimal("1000.50") * i,
                               currency="JPY", stage="won" if i % 2 else "registered", external_id=f"D-{i}",
                               closed_on=dt.date(2026, 3, i) if i % 2 else None)
        for i in range(1, 6)
    ]
    run = OldRun.objects.create(tenant=tenant, window_start=dt.date(2026, 1, 1), window_end=dt.date(2026, 6, 30),
                                status="ok", top_n=3, other_n=9)
    OldItem.objects.create(tenant=tenant, run=run, item_type="support_activity_kind", activity_kind="co_selling",
                           rank=1, top_count=3, other_count=1, lift=9.0, ci_low=1.2, ci_high=60.0)
    # as in a database that never saw the new apps: only the old content types exist
    OldCT.objects.filter(app_label__in=MOVED_APPS).delete()
    OldCT.objects.get_or_create(app_label="partners", model="deal")
    OldCT.objects.get_or_create(app_label="kpis", model="patternrun")

    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    ensure_row_level_security()

    from kpis.patterns.models import PatternItem, PatternRun
    from partners.deals.models import Deal

    with scopes_disabled():
        stored = {d.external_id: d for d in Deal.objects.filter(tenant_id=tenant.pk)}
        assert sorted(stored) == [f"D-{i}" for i in range(1, 6)]
        for old in deals:
            new = stored[old.external_id]
            assert (new.pk, new.partner_id, new.customer, new.amount, new.stage, new.closed_on) == (
                old.pk, partner.pk, old.customer, old.amount, old.stage, old.closed_on)
        new_run = PatternRun.objects.get(tenant_id=tenant.pk)
        assert (new_run.pk, new_run.top_n, new_run.other_n, new_run.status) == (run.pk, 3, 9, "ok")
        item = PatternItem.objects.get(run=new_run)
        assert (item.activity_kind, item.rank, item.lift) == ("co_selling", 1, 9.0)
    assert Deal._meta.db_table == "partners_deal"
    assert PatternRun._meta.db_table == "kpis_patternrun"
    # the content types followed the models (admin history and permissions stay attached)
    assert ContentType.objects.filter(app_label="deals", model="deal").exists()
    assert ContentType.objects.filter(app_label="patterns", model="patternrun").exists()
    assert not ContentType.objects.filter(app_label="partners", model="deal").exists()
