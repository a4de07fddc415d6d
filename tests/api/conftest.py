"""Fixtures of the API tests: two tenants with partners, users, assets and API keys."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from django_scopes import scope
from rest_framework.test import APIClient

from enablement.models import Asset
from partners.services import api_key_create
from tests import factories as f


@pytest.fixture(autouse=True)
def _no_throttle(settings):
    settings.API_THROTTLE_RATE = "100000/min"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class World:
    pass


def _world(tenant, slug):
    w = World()
    w.tenant = tenant
    with scope(tenant=tenant.pk):
        w.partner = f.PartnerFactory(tenant=tenant, name=f"{slug} Partner", external_id=f"{slug}-P1")
        w.other_partner = f.PartnerFactory(tenant=tenant, name=f"{slug} Other", external_id=f"{slug}-P2")
        w.member = f.PartnerUserMembershipFactory(tenant=tenant, partner=w.partner, user=f.UserFactory(email=f"taro@{slug}.example"))
        w.video = f.AssetFactory(tenant=tenant, kind="training", title=f"{slug} video", external_id=f"{slug}-video", duration_seconds=600)
        w.doc = f.AssetFactory(tenant=tenant, kind="document", title=f"{slug} doc", external_id=f"{slug}-doc")
        w.faq = f.AssetFactory(tenant=tenant, kind="faq", title=f"{slug} faq?", external_id=f"{slug}-faq")
        w.tier = w.partner.tier
        w.key, w.raw = api_key_create(
            tenant=tenant, name="LMS", scopes=["read", "events:write", "partners:write", "deals:write", "deals:approve"],
            actor=None, trusted_source=True,
        )
        w.read_key, w.read_raw = api_key_create(tenant=tenant, name="BI", scopes=["read"], actor=None)
        w.write_key, w.write_raw = api_key_create(tenant=tenant, name="Ingest only", scopes=["events:write"], actor=None)
        # The tests send events dated from 2025 on: the assets existed by then.
        since = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        Asset.objects.filter(tenant=tenant).update(created_at=since)
    for asset in (w.video, w.doc, w.faq):
        asset.created_at = since
    return w


@pytest.fixture
def world_a(tenant_a):
    return _world(tenant_a, "acme")


@pytest.fixture
def world_b(tenant_b):
    return _world(tenant_b, "globex")


def client_for(raw: str) -> APIClient:
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return c


def basic_client(raw: str, *, version: str | None = "1.0.3") -> APIClient:
    _shien, prefix, secret = raw.split("_")
    c = APIClient()
    headers = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{prefix}:{secret}".encode()).decode()}
    if version:
        headers["HTTP_X_EXPERIENCE_API_VERSION"] = version
    c.credentials(**headers)
    return c


@pytest.fixture
def api_a(world_a):
    return client_for(world_a.raw)


@pytest.fixture
def api_b(world_b):
    return client_for(world_b.raw)
