"""Support activities (partial + full page) and the partner settings page."""

import pytest
from django.urls import reverse
from django_scopes import scope

from partners.models import Invitation, Membership, Partner, SupportActivity, User
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_support_activity_logged_and_listed(client, login, manager_a, tenant_a):
    with scope(tenant=tenant_a.pk):
        partner = f.PartnerFactory(tenant=tenant_a, name="Sakura Systems")
    login(manager_a)
    url = reverse("manage-support-activities", kwargs={"tenant_slug": "acme", "partner_id": partner.pk})
    data = {"sa-kind": "workshop", "sa-occurred_on": "2026-11-20", "sa-duration_minutes": 90,
            "sa-participants": "Tanaka, Suzuki", "sa-notes": "Deal registration walkthrough"}
    response = client.post(url, data, headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body and "Deal registration walkthrough" in body and "Tanaka, Suzuki" in body
    with scope(tenant=tenant_a.pk):
        activity = SupportActivity.objects.get()
        assert activity.partner == partner and activity.manager == manager_a.user and activity.duration_minutes == 90
    # full page without HTMX; the partial alone with it
    assert "<html" in client.get(url).content.decode()
    partial = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'id="support-activities-' in partial and "Deal registration walkthrough" in partial
    # plain POST redirects back
    assert client.post(url, data).status_code == 302


def test_support_activity_invalid_input(client, login, manager_a, tenant_a):
    with scope(tenant=tenant_a.pk):
        partner = f.PartnerFactory(tenant=tenant_a)
    login(manager_a)
    url = reverse("manage-support-activities", kwargs={"tenant_slug": "acme", "partner_id": partner.pk})
    response = client.post(url, {"sa-kind": "party", "sa-occurred_on": "", "sa-duration_minutes": -5},
                           headers={"HX-Request": "true"})
    assert response.status_code == 200 and 'role="alert"' in response.content.decode()
    with scope(tenant=tenant_a.pk):
        assert not SupportActivity.objects.exists()


def test_partner_settings_lists_only_own_partners(client, login, manager_a, tenant_a, tenant_b):
    with scope(tenant=tenant_a.pk):
        f.PartnerFactory(tenant=tenant_a, name="Acme Partner One")
    with scope(tenant=tenant_b.pk):
        f.PartnerFactory(tenant=tenant_b, name="Globex Partner Two")
    login(manager_a)
    body = client.get(reverse("manage-partner-admin", kwargs={"tenant_slug": "acme"})).content.decode()
    assert "Acme Partner One" in body and "Globex Partner Two" not in body


def test_manager_creates_and_edits_partner_but_cannot_invite(client, login, manager_a, tenant_a):
    with scope(tenant=tenant_a.pk):
        tier = f.PartnerTierFactory(tenant=tenant_a, name="Gold")
    login(manager_a)
    response = client.post(reverse("manage-partner-new", kwargs={"tenant_slug": "acme"}), {
        "name": "新星システムズ", "external_id": "P-100", "tier": tier.pk, "segment": "SMB", "region": "関東",
        "status": "onboarding", "manager": manager_a.user.pk, "joined_on": "2026-11-01"})
    assert response.status_code == 302
    with scope(tenant=tenant_a.pk):
        partner = Partner.objects.get(external_id="P-100")
        assert partner.tier == tier and partner.manager == manager_a.user
    response = client.post(reverse("manage-partner-edit", kwargs={"tenant_slug": "acme", "partner_id": partner.pk}), {
        "name": "新星システムズ", "external_id": "P-100", "status": "active", "joined_on": "2026-11-01"})
    assert response.status_code == 302
    f.refresh(partner)
    assert partner.status == "active" and partner.tier is None
    assert client.get(reverse("manage-member-invite", kwargs={"tenant_slug": "acme"})).status_code == 403


def test_admin_invites_new_and_existing_users(client, login, admin_a, tenant_a):
    """Inviting creates no person and no membership: both wait for the invited person to accept."""
    with scope(tenant=tenant_a.pk):
        partner = f.PartnerFactory(tenant=tenant_a)
    existing = f.UserFactory(email="known@example.com")
    login(admin_a)
    url = reverse("manage-member-invite", kwargs={"tenant_slug": "acme"})
    response = client.post(url, {"email": "New.Person@Example.com", "name": "New", "role": "partner_user",
                                 "partner": partner.pk}, follow=True)
    assert response.status_code == 200
    assert not User.objects.filter(email="new.person@example.com").exists()
    client.post(url, {"email": "known@example.com", "role": "channel_manager"})
    with scope(tenant=tenant_a.pk):
        assert not Membership.objects.filter(user=existing).exists()
        assert set(Invitation.objects.values_list("email", "role")) == {
            ("new.person@example.com", "partner_user"), ("known@example.com", "channel_manager")}
    # partner users need a partner
    assert client.post(url, {"email": "x@example.com", "role": "partner_user"}).status_code == 200


def test_tier_added_on_settings_page_by_admins_only(client, login, manager_a, admin_a, tenant_a):
    url = reverse("manage-partner-admin", kwargs={"tenant_slug": "acme"})
    login(manager_a)
    assert client.post(url, {"action": "tier", "tier-name": "Diamond", "tier-rank": 0}).status_code == 403
    login(admin_a)
    assert client.post(url, {"action": "tier", "tier-name": "Diamond", "tier-rank": 0}).status_code == 302
    assert "Diamond" in client.get(url).content.decode()


def test_other_tenant_partner_is_404(client, login, manager_a, tenant_b):
    with scope(tenant=tenant_b.pk):
        foreign = f.PartnerFactory(tenant=tenant_b)
    login(manager_a)
    for name in ["manage-support-activities", "manage-partner-edit"]:
        assert client.get(reverse(name, kwargs={"tenant_slug": "acme", "partner_id": foreign.pk})).status_code == 404
    assert client.post(reverse("manage-support-activities", kwargs={"tenant_slug": "acme", "partner_id": foreign.pk}),
                       {"sa-kind": "call", "sa-occurred_on": "2026-11-01", "sa-duration_minutes": 5}).status_code == 404
    with scope(tenant=tenant_b.pk):
        assert not SupportActivity.objects.exists()
