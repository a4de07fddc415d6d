"""Manage → API keys page (tenant admins only) and the Django admin registration."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from partners.models import ApiKey
from partners.services import api_key_create, api_key_hash


def url(slug="acme"):
    return reverse("manage-api-keys", kwargs={"tenant_slug": slug})


def test_admin_creates_a_key_shown_once(admin_a, login):
    c = login(admin_a)
    r = c.post(url(), {"action": "create", "key-name": "LMS", "key-scopes": ["events:write", "read"]})
    assert r.status_code == 200
    raw = re.search(r"shien_[0-9a-f]+_[A-Za-z0-9-]+", r.content.decode()).group(0)
    assert r.headers["Cache-Control"] == "no-store"
    with scopes_disabled():
        key = ApiKey.objects.get(name="LMS")
    assert key.hashed_key == api_key_hash(raw) and key.scopes == ["events:write", "read"]
    page = c.get(url()).content.decode()
    assert "LMS" in page and key.prefix in page and raw not in page


def test_admin_revokes_a_key(admin_a, login):
    with scope(tenant=admin_a.tenant_id):
        key, _raw = api_key_create(tenant=admin_a.tenant, name="CRM", scopes=["read"], actor=None)
    c = login(admin_a)
    r = c.post(url(), {"action": "revoke", "key_id": key.pk}, HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and 'id="api-keys-panel"' in r.content.decode() and "<html" not in r.content.decode()
    with scopes_disabled():
        assert ApiKey.objects.get(pk=key.pk).revoked_at is not None


def test_duplicate_name_is_a_form_error(admin_a, login):
    c = login(admin_a)
    c.post(url(), {"action": "create", "key-name": "LMS", "key-scopes": ["read"]})
    r = c.post(url(), {"action": "create", "key-name": "LMS", "key-scopes": ["read"]})
    assert r.status_code == 200 and 'role="alert"' in r.content.decode()
    with scopes_disabled():
        assert ApiKey.objects.filter(name="LMS").count() == 1


@pytest.mark.parametrize("who", ["manager_a", "partner_user_a"])
def test_non_admins_get_403(who, request, login):
    c = login(request.getfixturevalue(who))
    assert c.get(url()).status_code == 403


def test_other_tenant_admin_gets_404_and_cannot_revoke(admin_a, admin_b, login):
    with scope(tenant=admin_a.tenant_id):
        key, _raw = api_key_create(tenant=admin_a.tenant, name="CRM", scopes=["read"], actor=None)
    c = login(admin_b)
    assert c.get(url("acme")).status_code == 404
    assert c.post(url("globex"), {"action": "revoke", "key_id": key.pk}).status_code == 404
    with scopes_disabled():
        assert ApiKey.objects.get(pk=key.pk).revoked_at is None


def test_page_lists_only_own_keys(admin_a, admin_b, login):
    with scope(tenant=admin_b.tenant_id):
        api_key_create(tenant=admin_b.tenant, name="Globex secret system", scopes=["read"], actor=None)
    page = login(admin_a).get(url()).content.decode()
    assert "Globex secret system" not in page


def test_django_admin_add_key_shows_it_once(admin_a, login):
    c = login(admin_a)
    r = c.post("/admin/partners/apikey/add/", {"name": "Admin-made", "scopes": ["read"]}, follow=True)
    assert r.status_code == 200
    raw = re.search(r"shien_[0-9a-f]+_[A-Za-z0-9-]+", r.content.decode()).group(0)
    with scopes_disabled():
        key = ApiKey.objects.get(name="Admin-made")
    assert key.tenant_id == admin_a.tenant_id and key.hashed_key == api_key_hash(raw)


def test_admin_sets_whether_a_key_is_a_trusted_source(admin_a, login):
    c = login(admin_a)
    c.post(url(), {"action": "create", "key-name": "LMS", "key-scopes": ["events:write"], "key-trusted_source": "on"})
    c.post(url(), {"action": "create", "key-name": "Vendor feed", "key-scopes": ["events:write"]})
    with scopes_disabled():
        assert dict(ApiKey.objects.values_list("name", "trusted_source")) == {"LMS": True, "Vendor feed": False}
        feed = ApiKey.objects.get(name="Vendor feed")
    r = c.post(url(), {"action": "trust", "key_id": feed.pk}, HTTP_HX_REQUEST="true")
    assert r.status_code == 200
    with scopes_disabled():
        assert ApiKey.objects.get(pk=feed.pk).trusted_source is True
    c.post(url(), {"action": "distrust", "key_id": feed.pk})
    with scopes_disabled():
        assert ApiKey.objects.get(pk=feed.pk).trusted_source is False


def test_trust_of_another_tenants_key_is_a_404(admin_a, login, tenant_b):
    with scope(tenant=tenant_b.pk):
        key, _raw = api_key_create(tenant=tenant_b, name="B", scopes=["read"], actor=None)
    c = login(admin_a)
    assert c.post(url(), {"action": "trust", "key_id": key.pk}).status_code == 404
    with scopes_disabled():
        assert ApiKey.objects.get(pk=key.pk).trusted_source is False
