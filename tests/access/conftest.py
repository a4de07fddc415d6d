"""Fixtures of the access tests: two tenants, their admins, the operator and a person shared
between both tenants."""

from __future__ import annotations

import pytest
from django_scopes import scope

from tests import factories as f


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    from partners.api.throttling import throttle_cache

    throttle_cache.clear()
    yield


@pytest.fixture
def superuser(db):
    return f.UserFactory(email="operator@shien.test", is_staff=True, is_superuser=True)


@pytest.fixture
def shared_person(tenant_a, tenant_b):
    """One person, a channel manager in A and a partner user in B."""
    user = f.UserFactory(email="shared@example.test")
    with scope(tenant=tenant_a.pk):
        ma = f.MembershipFactory(tenant=tenant_a, user=user, role="channel_manager")
    with scope(tenant=tenant_b.pk):
        mb = f.PartnerUserMembershipFactory(tenant=tenant_b, user=user)
    return user, ma, mb


@pytest.fixture
def product_admin_a(tenant_a):
    """A tenant admin who came in through the product: no is_staff, no superuser."""
    user = f.UserFactory(email="invited-admin@acme.test", is_staff=False)
    with scope(tenant=tenant_a.pk):
        return f.MembershipFactory(tenant=tenant_a, user=user, role="tenant_admin")
