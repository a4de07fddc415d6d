"""Content audiences: an asset limited to tiers, segments or named partners is out of reach for
everyone else — on every path an asset can be reached (catalog, home, search, detail, download,
media, progress logging, related FAQs, next best action) — and cannot be assigned to them."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope

from enablement.audiences import allowed_pairs, asset_audience_q
from enablement.models import Asset, AssetKind, AudienceRule
from enablement.services.catalog import assignment_create, audience_set
from tests import factories as f

pytestmark = pytest.mark.django_db


def _url(name, **kwargs):
    return reverse(name, kwargs={"tenant_slug": "acme", **kwargs})


@pytest.fixture
def gated(portal):
    """The price list is only for the "Gold" tier; the user's partner is in another tier."""
    tenant = portal["tenant"]
    with scope(tenant=tenant.pk):
        gold = f.PartnerTierFactory(tenant=tenant, name="Gold", rank=1)
        price_list = f.AssetFactory(tenant=tenant, kind=AssetKind.DOCUMENT, title="仕切価格表 Gold")
        secret_faq = f.AssetFactory(tenant=tenant, kind=AssetKind.FAQ, title="Gold 限定の値引き条件は？", body="仕切価格の値引き")
        gold_video = f.AssetFactory(tenant=tenant, kind=AssetKind.TRAINING, title="Gold 向け研修", duration_seconds=60)
        for asset in (price_list, secret_faq, gold_video):
            audience_set(tenant=tenant, actor=None, asset=asset, tiers=[gold])
    from tests.enablement.conftest import add_version

    add_version(price_list, name="price.pdf")
    return {**portal, "gold": gold, "price_list": price_list, "secret_faq": secret_faq, "gold_video": gold_video}


def test_every_portal_path_hides_an_asset_outside_the_audience(client, login, gated):
    login(gated["member"])
    price, faq, video = gated["price_list"], gated["secret_faq"], gated["gold_video"]
    for page in ("portal-home", "portal-catalog"):
        body = client.get(_url(page)).content.decode()
        assert price.title not in body and video.title not in body and faq.title not in body
    search = client.get(_url("portal-faq"), {"q": "値引き"}).content.decode()
    assert faq.title not in search
    for name, asset in [
        ("portal-asset", price), ("portal-document", price), ("portal-document-download", price),
        ("portal-training", video), ("portal-asset-media", video), ("portal-faq-detail", faq),
    ]:
        assert client.get(_url(name, asset_id=asset.pk)).status_code == 404, name
    body = {"event_id": str(uuid.uuid4()), "played_segments": [[0, 10]], "position": 10, "seconds": 10}
    response = client.post(_url("portal-training-progress", asset_id=video.pk), data=json.dumps(body),
                           content_type="application/json")
    assert response.status_code == 404
    # the unrestricted assets of the same tenant stay reachable
    assert client.get(_url("portal-document", asset_id=gated["document"].pk)).status_code == 200


def test_a_partner_in_the_audience_sees_it(client, login, gated, make_member):
    tenant = gated["tenant"]
    with scope(tenant=tenant.pk):
        gold_partner = f.PartnerFactory(tenant=tenant, tier=gated["gold"], segment="Enterprise")
    member = make_member(tenant, "partner_user", partner=gold_partner)
    login(member)
    assert gated["price_list"].title in client.get(_url("portal-catalog")).content.decode()
    assert client.get(_url("portal-document-download", asset_id=gated["price_list"].pk)).status_code == 200
    assert client.get(_url("portal-faq-detail", asset_id=gated["secret_faq"].pk)).status_code == 200


@pytest.mark.parametrize("kind", ["tier", "segment", "partner"])
def test_each_rule_kind_matches_exactly_its_partners(gated, kind):
    tenant = gated["tenant"]
    with scope(tenant=tenant.pk):
        inside = f.PartnerFactory(tenant=tenant, segment="Enterprise")
        outside = f.PartnerFactory(tenant=tenant, segment="SMB")
        asset = f.AssetFactory(tenant=tenant, kind=AssetKind.DOCUMENT)
        rule = {"tier": {"tiers": [inside.tier]}, "segment": {"segments": ["Enterprise"]},
                "partner": {"partners": [inside]}}[kind]
        audience_set(tenant=tenant, actor=None, asset=asset, **rule)
        for partner, expected in ((inside, True), (outside, False)):
            seen = Asset.objects.filter(tenant=tenant, pk=asset.pk).filter(asset_audience_q(partner)).exists()
            assert seen is expected
            assert ((partner.pk, asset.pk) in allowed_pairs(tenant=tenant, partners=[partner], asset_ids=[asset.pk])) is expected


def test_assigning_outside_the_audience_is_refused_with_a_clear_message(gated):
    tenant, partner = gated["tenant"], gated["partner"]
    due = timezone.localdate() + dt.timedelta(days=7)
    with scope(tenant=tenant.pk):
        with pytest.raises(ValidationError) as exc:
            assignment_create(tenant=tenant, actor=None, target="partner", partner=partner, asset=gated["price_list"], due_on=due)
        assert "仕切価格表 Gold" in str(exc.value)
        with pytest.raises(ValidationError):
            assignment_create(tenant=tenant, actor=None, target="tier", tier=partner.tier, asset=gated["price_list"], due_on=due)
        with pytest.raises(ValidationError):
            assignment_create(tenant=tenant, actor=None, target="segment", segment="SMB", asset=gated["price_list"], due_on=due)
        # the audience's own tier is fine, and so is a path containing only open assets
        assignment_create(tenant=tenant, actor=None, target="tier", tier=gated["gold"], asset=gated["price_list"], due_on=due)
        path = f.LearningPathFactory(tenant=tenant)
        f.LearningPathItemFactory(tenant=tenant, path=path, asset=gated["price_list"], position=1)
        with pytest.raises(ValidationError):
            assignment_create(tenant=tenant, actor=None, target="partner", partner=partner, learning_path=path, due_on=due)


def test_audience_page_saves_rules_and_is_tenant_scoped(client, login, gated, manager_a, admin_b, make_member):
    tenant = gated["tenant"]
    login(manager_a)
    asset = gated["document"]
    page = client.get(_url("manage-asset-audience", asset_id=asset.pk))
    assert page.status_code == 200
    response = client.post(_url("manage-asset-audience", asset_id=asset.pk),
                           {"tiers": [gated["gold"].pk], "segments": ["SMB"]})
    assert response.status_code == 302
    with scope(tenant=tenant.pk):
        rules = set(AudienceRule.objects.filter(tenant=tenant, asset=asset).values_list("tier_id", "segment"))
    assert rules == {(gated["gold"].pk, ""), (None, "SMB")}
    edit = client.get(_url("manage-asset-edit", asset_id=asset.pk)).content.decode()
    assert "Gold" in edit and "SMB" in edit
    # another tenant's admin: the same 404 for missing and not-yours
    login(admin_b)
    other = reverse("manage-asset-audience", kwargs={"tenant_slug": "globex", "asset_id": asset.pk})
    assert client.get(other).status_code == 404
    # a partner user of the tenant: refused
    login(gated["member"])
    assert client.get(_url("manage-asset-audience", asset_id=asset.pk)).status_code == 403


def test_audience_set_refuses_another_tenants_tier(gated, tenant_b):
    with scope(tenant=tenant_b.pk):
        foreign_tier = f.PartnerTierFactory(tenant=tenant_b, name="Foreign")
    with scope(tenant=gated["tenant"].pk), pytest.raises(ValidationError):
        audience_set(tenant=gated["tenant"], actor=None, asset=gated["document"], tiers=[foreign_tier])
