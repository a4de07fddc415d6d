"""Assignments and learning paths: services, pages, and the set-based assignment_pairs selector."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_scopes import scope

from enablement.models import Assignment, LearningPath
from enablement.pairs import assignment_pairs
from enablement.services import catalog
from tests import factories as f

pytestmark = pytest.mark.django_db
DUE = dt.date(2026, 12, 31)


def pairs(tenant, **kw):
    return {(p.partner_id, p.asset_id) for p in assignment_pairs(tenant=tenant, **kw)}


def test_assignment_pairs_expand_partner_tier_segment_and_paths(scope_a, manager_a):
    gold, silver = f.PartnerTierFactory(tenant=scope_a, name="Gold"), f.PartnerTierFactory(tenant=scope_a, name="Silver")
    p1 = f.PartnerFactory(tenant=scope_a, tier=gold, segment="Enterprise")
    p2 = f.PartnerFactory(tenant=scope_a, tier=silver, segment="SMB")
    p3 = f.PartnerFactory(tenant=scope_a, tier=silver, segment="Enterprise")
    a1, a2, a3 = (f.AssetFactory(tenant=scope_a) for _ in range(3))
    path = catalog.learning_path_create(tenant=scope_a, actor=manager_a.user, title="Onboarding", assets=[a2, a3])
    catalog.assignment_create(tenant=scope_a, actor=None, target="tier", tier=gold, asset=a1, due_on=DUE)
    catalog.assignment_create(tenant=scope_a, actor=None, target="partner", partner=p2, asset=a1, due_on=DUE,
                               required_completions=2)
    catalog.assignment_create(tenant=scope_a, actor=None, target="segment", segment="Enterprise",
                               learning_path=path, due_on=DUE)
    rows = assignment_pairs(tenant=scope_a)
    assert {(r.partner_id, r.asset_id) for r in rows} == {
        (p1.pk, a1.pk), (p2.pk, a1.pk), (p1.pk, a2.pk), (p1.pk, a3.pk), (p3.pk, a2.pk), (p3.pk, a3.pk)
    }
    row = next(r for r in rows if r.partner_id == p2.pk)
    assert row.required_completions == 2 and row.due_on == DUE
    assert isinstance(row.assignment_id, int)


def test_partner_added_to_a_tier_later_inherits_the_assignment(scope_a):
    gold = f.PartnerTierFactory(tenant=scope_a, name="Gold")
    asset = f.AssetFactory(tenant=scope_a)
    catalog.assignment_create(tenant=scope_a, actor=None, target="tier", tier=gold, asset=asset, due_on=DUE)
    newcomer = f.PartnerFactory(tenant=scope_a, tier=None)
    assert (newcomer.pk, asset.pk) not in pairs(scope_a)
    newcomer.tier = gold
    newcomer.save()
    assert (newcomer.pk, asset.pk) in pairs(scope_a)
    late = f.PartnerFactory(tenant=scope_a, tier=gold)  # created after the assignment
    assert (late.pk, asset.pk) in pairs(scope_a)


def test_inactive_assignments_late_joiners_and_archived_assets(scope_a):
    tier = f.PartnerTierFactory(tenant=scope_a)
    partner = f.PartnerFactory(tenant=scope_a, tier=tier, joined_on=dt.date(2026, 6, 1))
    late = f.PartnerFactory(tenant=scope_a, tier=tier, joined_on=dt.date(2026, 6, 2))
    asset = f.AssetFactory(tenant=scope_a)
    a = catalog.assignment_create(tenant=scope_a, actor=None, target="tier", tier=tier, asset=asset, due_on=DUE)
    early = catalog.assignment_create(tenant=scope_a, actor=None, target="tier", tier=tier,
                                      asset=f.AssetFactory(tenant=scope_a), due_on=dt.date(2026, 6, 1))
    # a partner that joined after a due date is not held to it
    assert (late.pk, early.asset_id) not in pairs(scope_a)
    assert (partner.pk, early.asset_id) in pairs(scope_a)
    assert {(partner.pk, asset.pk), (late.pk, asset.pk)} <= pairs(scope_a)
    catalog.assignment_deactivate(tenant=scope_a, actor=None, assignment=a)
    assert (partner.pk, asset.pk) not in pairs(scope_a)
    # an archived asset is not targeted (the portal does not show it, the KPIs do not count it)
    early.asset.status = "archived"
    early.asset.save()
    assert pairs(scope_a) == set()


def test_assignment_pairs_is_one_query_and_no_leak(tenant_a, tenant_b):
    for t in (tenant_a, tenant_b):
        with scope(tenant=t.pk):
            tier = f.PartnerTierFactory(tenant=t)
            for _ in range(5):
                f.PartnerFactory(tenant=t, tier=tier)
            catalog.assignment_create(tenant=t, actor=None, target="tier", tier=tier,
                                       asset=f.AssetFactory(tenant=t), due_on=DUE)
    with scope(tenant=tenant_a.pk):
        a_partners = set(f.PartnerFactory._meta.model.objects.filter(tenant=tenant_a).values_list("pk", flat=True))
    with scope(tenant=tenant_a.pk), CaptureQueriesContext(connection) as ctx:
        rows = assignment_pairs(tenant=tenant_a)
    assert len(ctx.captured_queries) == 1
    assert len(rows) == 5 and {r.partner_id for r in rows} <= a_partners


def test_assignment_create_validates_target_and_tenant(scope_a, tenant_b):
    asset = f.AssetFactory(tenant=scope_a)
    tier = f.PartnerTierFactory(tenant=scope_a)
    with pytest.raises(ValidationError):
        catalog.assignment_create(tenant=scope_a, actor=None, target="partner", tier=tier, asset=asset, due_on=DUE)
    with pytest.raises(ValidationError):
        catalog.assignment_create(tenant=scope_a, actor=None, target="tier", asset=asset, due_on=DUE)
    with pytest.raises(ValidationError):
        catalog.assignment_create(tenant=scope_a, actor=None, target="segment", segment="", asset=asset, due_on=DUE)
    with scope(tenant=tenant_b.pk):
        foreign_tier = f.PartnerTierFactory(tenant=tenant_b)
    with pytest.raises(ValidationError):
        catalog.assignment_create(tenant=scope_a, actor=None, target="tier", tier=foreign_tier, asset=asset, due_on=DUE)
    assert not Assignment.objects.exists()


def test_assignment_pages(client, login, manager_a, tenant_a):
    with scope(tenant=tenant_a.pk):
        tier = f.PartnerTierFactory(tenant=tenant_a, name="Gold")
        asset = f.AssetFactory(tenant=tenant_a, title="Deal reg 101")
    login(manager_a)
    url = reverse("manage-assignment-new", kwargs={"tenant_slug": "acme"})
    response = client.post(url, {"asset": asset.pk, "target": "tier", "tier": tier.pk, "due_on": "2026-12-31",
                                 "required_completions": 1})
    assert response.status_code == 302
    # the target must be given
    response = client.post(url, {"asset": asset.pk, "target": "partner", "due_on": "2026-12-31", "required_completions": 1})
    assert response.status_code == 200
    with scope(tenant=tenant_a.pk):
        assignment = Assignment.objects.get()
        assert assignment.tier == tier and assignment.required_completions == 1
    body = client.get(reverse("manage-assignments", kwargs={"tenant_slug": "acme"})).content.decode()
    assert "Deal reg 101" in body and "Gold" in body
    client.post(reverse("manage-assignment-deactivate", kwargs={"tenant_slug": "acme", "assignment_id": assignment.pk}))
    f.refresh(assignment)
    assert not assignment.is_active


def test_learning_path_pages(client, login, manager_a, tenant_a):
    with scope(tenant=tenant_a.pk):
        a1, a2 = f.AssetFactory(tenant=tenant_a, title="First"), f.AssetFactory(tenant=tenant_a, title="Second")
    login(manager_a)
    response = client.post(reverse("manage-path-new", kwargs={"tenant_slug": "acme"}),
                           {"title": "Onboarding", "step_1": a2.pk, "step_2": a1.pk})
    assert response.status_code == 302
    with scope(tenant=tenant_a.pk):
        path = LearningPath.objects.get()
        assert list(path.items.values_list("asset_id", flat=True)) == [a2.pk, a1.pk]
    response = client.post(reverse("manage-path-edit", kwargs={"tenant_slug": "acme", "path_id": path.pk}),
                           {"title": "Onboarding v2", "step_1": a1.pk})
    assert response.status_code == 302
    with scope(tenant=tenant_a.pk):
        path.refresh_from_db()
        assert path.title == "Onboarding v2" and list(path.items.values_list("asset_id", flat=True)) == [a1.pk]
    # duplicate steps are refused
    response = client.post(reverse("manage-path-new", kwargs={"tenant_slug": "acme"}),
                           {"title": "Dup", "step_1": a1.pk, "step_2": a1.pk})
    assert response.status_code == 200


def test_assigned_pairs_one_row_per_pair_with_the_stricter_terms(scope_a, manager_a):
    from enablement.pairs import assigned_pairs

    gold = f.PartnerTierFactory(tenant=scope_a, name="Gold")
    partner = f.PartnerFactory(tenant=scope_a, tier=gold)
    asset = f.AssetFactory(tenant=scope_a)
    path = catalog.learning_path_create(tenant=scope_a, actor=manager_a.user, title="Path", assets=[asset])
    early = catalog.assignment_create(tenant=scope_a, actor=None, target="tier", tier=gold, asset=asset,
                                       due_on=DUE - dt.timedelta(days=10))
    catalog.assignment_create(tenant=scope_a, actor=None, target="partner", partner=partner, learning_path=path,
                               due_on=DUE, required_completions=3)
    assert len(assignment_pairs(tenant=scope_a)) == 2
    (row,) = assigned_pairs(tenant=scope_a)
    assert (row.partner_id, row.asset_id) == (partner.pk, asset.pk)
    assert row.due_on == DUE - dt.timedelta(days=10)
    assert row.required_completions == 3
    assert row.assignment_id == early.pk


def test_a_partner_outside_the_assets_audience_is_not_targeted(scope_a):
    from enablement.models import AudienceRule

    gold = f.PartnerTierFactory(tenant=scope_a, name="Gold")
    silver = f.PartnerTierFactory(tenant=scope_a, name="Silver")
    inside = f.PartnerFactory(tenant=scope_a, tier=silver)
    outside = f.PartnerFactory(tenant=scope_a, tier=gold)
    asset = f.AssetFactory(tenant=scope_a)
    f.AssignmentFactory(tenant=scope_a, target="partner", partner=inside, asset=asset, due_on=DUE)
    f.AssignmentFactory(tenant=scope_a, target="partner", partner=outside, asset=asset, due_on=DUE)
    assert {(inside.pk, asset.pk), (outside.pk, asset.pk)} <= pairs(scope_a)
    AudienceRule.objects.create(tenant=scope_a, asset=asset, tier=silver)  # the portal now hides it from `outside`
    assert (inside.pk, asset.pk) in pairs(scope_a)
    assert (outside.pk, asset.pk) not in pairs(scope_a)
