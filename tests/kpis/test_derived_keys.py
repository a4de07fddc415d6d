"""The derived rollup tables carry no database foreign-key constraints (kpis 0028: each queued a
per-row deferred check at COMMIT of a full recompute), but deleting a partner, asset or user
still removes their rows (Django's CASCADE, run in Python), and the log's PROTECT still refuses the
deletion of a partner or asset that has events — leaving the derived rows in place."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models.deletion import ProtectedError
from django_scopes import scope

from kpis.models import (
    DailyActivityFact,
    DailySourceFact,
    FaqSearchFact,
    FrozenPair,
    KpiResult,
    MergedEvent,
    PartnerAssetState,
    UserAssetState,
)
from tests.factories import (
    ActivityEventFactory,
    AssetFactory,
    DailyActivityFactFactory,
    FaqSearchFactFactory,
    PartnerAssetStateFactory,
    PartnerFactory,
    TenantFactory,
    UserAssetStateFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

DERIVED = (DailyActivityFact, DailySourceFact, FaqSearchFact, UserAssetState, PartnerAssetState, MergedEvent)


def _foreign_keys(model) -> dict[str, tuple[str, str]]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
    return {name: c["foreign_key"] for name, c in constraints.items() if c["foreign_key"]}


@pytest.mark.parametrize("model", DERIVED, ids=lambda m: m.__name__)
def test_derived_tables_have_no_database_foreign_keys(model):
    assert _foreign_keys(model) == {}


@pytest.mark.parametrize("model", (FrozenPair, KpiResult), ids=lambda m: m.__name__)
def test_tables_not_derived_from_the_log_keep_theirs(model):
    assert _foreign_keys(model)


def _world():
    tenant = TenantFactory()
    user = UserFactory()
    with scope(tenant=tenant.pk):  # (PostgreSQL) row-level security: tenant rows inside its scope
        partner, other = PartnerFactory(tenant=tenant), PartnerFactory(tenant=tenant)
        asset, other_asset = AssetFactory(tenant=tenant), AssetFactory(tenant=tenant)
        for p in (partner, other):
            for a in (asset, other_asset):
                DailyActivityFactFactory(tenant=tenant, partner=p, asset=a)
                PartnerAssetStateFactory(tenant=tenant, partner=p, asset=a)
                UserAssetStateFactory(tenant=tenant, partner=p, asset=a, user=user)
            FaqSearchFactFactory(tenant=tenant, partner=p)
    return tenant, partner, other, asset, other_asset, user


def _rows(tenant):
    with scope(tenant=tenant.pk):
        return {
            "daily": set(DailyActivityFact.objects.values_list("partner_id", "asset_id")),
            "pas": set(PartnerAssetState.objects.values_list("partner_id", "asset_id")),
            "uas": set(UserAssetState.objects.values_list("user_id", "partner_id", "asset_id")),
            "faq": set(FaqSearchFact.objects.values_list("partner_id", flat=True)),
        }


def test_deleting_a_partner_still_removes_its_facts_and_states():
    tenant, partner, other, asset, other_asset, user = _world()
    with scope(tenant=tenant.pk):
        partner.delete()
    rows = _rows(tenant)
    assert rows["daily"] == rows["pas"] == {(other.pk, asset.pk), (other.pk, other_asset.pk)}
    assert rows["uas"] == {(user.pk, other.pk, asset.pk), (user.pk, other.pk, other_asset.pk)}
    assert rows["faq"] == {other.pk}


def test_deleting_an_asset_still_removes_its_facts_and_states():
    tenant, partner, other, asset, other_asset, user = _world()
    with scope(tenant=tenant.pk):
        asset.delete()
    rows = _rows(tenant)
    assert rows["daily"] == rows["pas"] == {(partner.pk, other_asset.pk), (other.pk, other_asset.pk)}
    assert rows["uas"] == {(user.pk, partner.pk, other_asset.pk), (user.pk, other.pk, other_asset.pk)}
    assert rows["faq"] == {partner.pk, other.pk}


def test_deleting_a_user_still_removes_their_states():
    tenant, partner, other, asset, other_asset, user = _world()
    keep = UserFactory()
    with scope(tenant=tenant.pk):
        UserAssetStateFactory(tenant=tenant, partner=partner, asset=asset, user=keep)
        user.delete()
    rows = _rows(tenant)
    assert rows["uas"] == {(keep.pk, partner.pk, asset.pk)}
    assert len(rows["daily"]) == len(rows["pas"]) == 4


def test_a_partner_or_asset_with_events_is_still_protected_and_keeps_its_facts():
    tenant, partner, other, asset, other_asset, user = _world()
    with scope(tenant=tenant.pk):
        ActivityEventFactory(tenant=tenant, partner=partner, asset=asset, user=user)
        with pytest.raises(ProtectedError):
            partner.delete()
        with pytest.raises(ProtectedError):
            asset.delete()
    rows = _rows(tenant)
    assert len(rows["daily"]) == len(rows["pas"]) == len(rows["uas"]) == 4
