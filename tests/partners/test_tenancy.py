"""Tenancy fails closed: no scope → error; other tenant → 404; wrong role → 403."""

import pytest
from django.urls import reverse
from django_scopes import ScopeError, scope

from enablement.models import ActivityEvent, Asset
from kpis.models import KpiResult
from partners.models import Membership, Partner, PartnerTier
from partners.tenancy import get_for_tenant
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", [Partner, PartnerTier, Membership, Asset, ActivityEvent, KpiResult])
def test_query_without_scope_raises(model):
    with pytest.raises(ScopeError):
        list(model.objects.all())


def test_scope_limits_rows_to_the_tenant(tenant_a, tenant_b):
    with scope(tenant=tenant_a.pk):
        f.PartnerFactory(tenant=tenant_a, name="Alpha")
    with scope(tenant=tenant_b.pk):
        f.PartnerFactory(tenant=tenant_b, name="Beta")
        assert [p.name for p in Partner.objects.all()] == ["Beta"]


def test_get_for_tenant_same_404_for_missing_and_foreign(tenant_a, tenant_b):
    from django.http import Http404

    with scope(tenant=tenant_b.pk):
        foreign = f.PartnerFactory(tenant=tenant_b)
    with scope(tenant=[tenant_a.pk, tenant_b.pk]):
        with pytest.raises(Http404):
            get_for_tenant(Partner, tenant=tenant_a, pk=foreign.pk)
        with pytest.raises(Http404):
            get_for_tenant(Partner, tenant=tenant_a, pk=999_999)
        with pytest.raises(Http404):
            get_for_tenant(Partner, tenant=tenant_a, pk="not-a-number")


def test_every_unique_constraint_includes_tenant():
    from django.apps import apps

    for model in apps.get_models():
        if not any(fld.name == "tenant" for fld in model._meta.fields):
            continue
        for constraint in model._meta.constraints:
            fields = getattr(constraint, "fields", None)
            if fields:
                assert "tenant" in fields, f"{model.__name__}.{constraint.name} lacks tenant"
        for together in model._meta.unique_together:
            assert "tenant" in together, model.__name__


# Unique on their own, because each is looked up before the tenant is known; docs/architecture.md
# ("The Citus plan") says what each becomes. Any other single-field unique key on a tenant-owned
# table would block distributing it on tenant_id.
TENANTLESS_UNIQUE_FIELDS = {
    ("partners_apikey", "prefix"),
    ("partners_invitation", "token_hash"),
    ("certifications_certificate", "previous"),
}


def test_no_other_unique_field_lacks_the_tenant():
    from django.apps import apps

    found = {
        (model._meta.db_table, fld.name)
        for model in apps.get_models()
        if any(fld.name == "tenant" for fld in model._meta.fields)
        for fld in model._meta.fields
        if fld.unique and not fld.primary_key
    }
    assert found == TENANTLESS_UNIQUE_FIELDS


class TestTenantPages:
    def test_anonymous_is_sent_to_login(self, client, tenant_a):
        response = client.get("/t/acme/")
        assert response.status_code == 302
        assert response.url.startswith(reverse("account_login"))

    def test_member_of_other_tenant_gets_404(self, client, login, manager_b, tenant_a):
        login(manager_b)
        for path in ["/t/acme/", "/t/acme/manage/", "/t/acme/portal/"]:
            assert client.get(path).status_code == 404, path

    def test_unknown_and_malformed_slugs_are_404(self, client, login, manager_a):
        login(manager_a)
        for path in ["/t/nope/", "/t/ACME!/", "/t/%E6%94%AF/", "/t/a..b/manage/", "/t/" + "x" * 300 + "/"]:
            assert client.get(path).status_code == 404, path

    def test_role_redirects(self, client, login, manager_a, partner_user_a, admin_a):
        for member, target in [(manager_a, "/t/acme/manage/"), (admin_a, "/t/acme/manage/"), (partner_user_a, "/t/acme/portal/")]:
            login(member)
            response = client.get("/t/acme/")
            assert response.status_code == 302 and response.url == target
            client.logout()

    def test_partner_user_gets_403_on_manage(self, client, login, partner_user_a):
        login(partner_user_a)
        assert client.get("/t/acme/manage/").status_code == 403

    def test_manager_gets_403_on_portal(self, client, login, manager_a):
        login(manager_a)
        assert client.get("/t/acme/portal/").status_code == 403

    def test_inactive_membership_is_404(self, client, login, manager_a):
        with scope(tenant=manager_a.tenant_id):
            Membership.objects.filter(pk=manager_a.pk).update(is_active=False)
        login(manager_a)
        assert client.get("/t/acme/manage/").status_code == 404


def test_portal_login_recorded_once_per_session(client, login, partner_user_a):
    login(partner_user_a)
    client.get("/t/acme/portal/")
    client.get("/t/acme/portal/")
    with scope(tenant=partner_user_a.tenant_id):
        events = list(ActivityEvent.objects.filter(verb="portal.login"))
    assert len(events) == 1
    assert events[0].user_id == partner_user_a.user_id and events[0].partner_id == partner_user_a.partner_id
