"""Django admin scoped per tenant: a tenant admin sees and saves only their tenant's rows."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from partners.models import Partner, PartnerTier
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_tenants_data(tenant_a, tenant_b):
    with scope(tenant=tenant_a.pk):
        pa = f.PartnerFactory(tenant=tenant_a, name="Alpha KK")
    with scope(tenant=tenant_b.pk):
        pb = f.PartnerFactory(tenant=tenant_b, name="Beta Inc")
    return pa, pb


def _tenant_owned_admins():
    from partners.models import AuditEvent

    for model, model_admin in admin.site._registry.items():
        if model is AuditEvent:  # platform-level rows have no tenant; scoped by its own admin (tests/access)
            continue
        if any(fld.name == "tenant" for fld in model._meta.fields):
            yield model, model_admin


def test_every_tenant_owned_model_admin_is_scoped():
    from partners.tenancy.admin import TenantScopedAdmin

    for model, model_admin in _tenant_owned_admins():
        assert isinstance(model_admin, TenantScopedAdmin), f"{model.__name__} admin is not tenant-scoped"


def test_tenant_admin_changelists_list_only_own_rows(client, admin_a, two_tenants_data):
    pa, pb = two_tenants_data
    client.force_login(admin_a.user)
    response = client.get(reverse("admin:partners_partner_changelist"))
    assert response.status_code == 200
    assert "Alpha KK" in response.text and "Beta Inc" not in response.text


def test_every_changelist_opens_for_tenant_admin(client, admin_a):
    client.force_login(admin_a.user)
    for model, _ in _tenant_owned_admins():
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        assert client.get(url).status_code == 200, url


def test_other_tenants_object_is_404_in_admin(client, admin_a, two_tenants_data):
    _, pb = two_tenants_data
    client.force_login(admin_a.user)
    response = client.get(reverse("admin:partners_partner_change", args=[pb.pk]))
    assert response.status_code in (302, 404)
    if response.status_code == 302:  # Django admin redirects "does not exist" to the index with a message
        assert response.url == reverse("admin:index")


def test_every_change_view_hides_other_tenants_rows(client, admin_a, tenant_b):
    """For each tenant-owned model with a row in tenant B, A's admin cannot open it."""
    client.force_login(admin_a.user)
    with scopes_disabled():
        for model, _ in _tenant_owned_admins():
            obj = model.objects.filter(tenant=tenant_b).first()
            if obj is None:
                continue
            url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.pk])
            response = client.get(url)
            assert response.status_code in (302, 404), url


def test_fk_widgets_offer_only_own_tenant(client, admin_a, tenant_b, two_tenants_data):
    with scope(tenant=tenant_b.pk):
        f.PartnerTierFactory(tenant=tenant_b, name="Foreign tier")
    with scope(tenant=admin_a.tenant_id):
        f.PartnerTierFactory(tenant=admin_a.tenant, name="Own tier")
    client.force_login(admin_a.user)
    response = client.get(reverse("admin:partners_partner_add"))
    assert response.status_code == 200
    assert "Own tier" in response.text and "Foreign tier" not in response.text
    assert 'name="tenant"' not in response.text


def test_saving_sets_the_tenant_and_foreign_fk_is_refused(client, admin_a, tenant_b):
    with scope(tenant=tenant_b.pk):
        foreign_tier = f.PartnerTierFactory(tenant=tenant_b)
    client.force_login(admin_a.user)
    data = {"name": "New KK", "status": "active", "joined_on": "2026-01-01", "segment": "", "region": "", "external_id": "",
            "cohort_override": ""}
    response = client.post(reverse("admin:partners_partner_add"), {**data, "tier": foreign_tier.pk})
    assert response.status_code == 200  # form error: not one of the available choices
    with scopes_disabled():
        assert not Partner.objects.filter(name="New KK").exists()
    response = client.post(reverse("admin:partners_partner_add"), data)
    assert response.status_code == 302
    with scopes_disabled():
        assert Partner.objects.get(name="New KK").tenant_id == admin_a.tenant_id


def test_superuser_sees_all_tenants(client, two_tenants_data):
    su = f.UserFactory(is_staff=True, is_superuser=True)
    client.force_login(su)
    response = client.get(reverse("admin:partners_partner_changelist"))
    assert "Alpha KK" in response.text and "Beta Inc" in response.text


def test_staff_without_admin_membership_sees_nothing(client, manager_a, two_tenants_data):
    user = manager_a.user
    user.is_staff = True
    user.save()
    client.force_login(user)
    response = client.get(reverse("admin:partners_partner_changelist"))
    assert response.status_code == 403


def test_tenant_admin_cannot_see_tenant_model(client, admin_a):
    client.force_login(admin_a.user)
    assert client.get(reverse("admin:partners_tenant_changelist")).status_code == 403


def test_tier_model_registered():
    assert apps.get_model("partners", "PartnerTier") in admin.site._registry
    assert PartnerTier in admin.site._registry
