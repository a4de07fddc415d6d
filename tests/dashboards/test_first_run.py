"""An empty tenant's overview opens on a first-run checklist: five steps, each linking to its page,
ticked when done, the whole list gone when all are done. Another tenant's set-up ticks nothing."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django_scopes import scope

from enablement.models import AssetStatus
from tests import factories as f

pytestmark = pytest.mark.django_db


def done_steps(body: str) -> set[str]:
    return set(re.findall(r'class="checklist-step is-done" data-step="(\w+)"', body))


def overview(client) -> str:
    return client.get(reverse("manage-overview", kwargs={"tenant_slug": "acme"})).content.decode()


def set_up(tenant):
    with scope(tenant=tenant.pk):
        tier = f.PartnerTierFactory(tenant=tenant)
        partner = f.PartnerFactory(tenant=tenant, tier=tier)
        f.PartnerUserMembershipFactory(tenant=tenant, partner=partner)
        asset = f.AssetFactory(tenant=tenant, status=AssetStatus.PUBLISHED)
        f.AssignmentFactory(tenant=tenant, asset=asset, partner=partner)
        f.KpiDefinitionFactory(tenant=tenant)


def test_checklist_on_an_empty_tenant(client, login, admin_a, tenant_a, tenant_b):
    set_up(tenant_b)  # another tenant's set-up ticks nothing here
    login(admin_a)
    body = overview(client)
    assert 'id="checklist-heading"' in body and done_steps(body) == set()
    for name in ("manage-member-invite", "manage-partner-admin", "manage-assets", "manage-assignment-new"):
        assert f'href="{reverse(name, kwargs={"tenant_slug": "acme"})}"' in body
    assert f'href="{reverse("admin:kpis_kpidefinition_changelist")}"' in body
    with scope(tenant=tenant_a.pk):
        f.PartnerTierFactory(tenant=tenant_a)
    assert done_steps(overview(client)) == {"tiers"}
    set_up(tenant_a)
    assert "checklist" not in overview(client)  # all done: gone


def test_checklist_for_a_manager_links_to_partner_settings(client, login, manager_a, tenant_a):
    login(manager_a)
    body = overview(client)
    assert reverse("manage-member-invite", kwargs={"tenant_slug": "acme"}) not in body
    assert "checklist-step" in body
    assert "<html" not in client.get(reverse("manage-overview", kwargs={"tenant_slug": "acme"}),
                                      headers={"HX-Request": "true"}).content.decode()
