"""The account-takeover chain, refused at every step.

The chain on the old code: a tenant admin invites an address that already has an account (it was
attached silently), then changes that person's password, e-mail or active flag in Django admin.
Targets: another tenant's admin, the platform superuser and a person shared between tenants.
"""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from partners import services
from partners.models import Invitation, Membership, User
from tests import factories as f

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Attacker-Chosen-Pw-2026"


@pytest.fixture
def targets(admin_b, superuser, shared_person):
    return {"other tenant's admin": admin_b.user, "superuser": superuser, "shared person": shared_person[0]}


def _state(user: User) -> tuple:
    user.refresh_from_db()
    return (user.email, user.is_active, user.is_staff, user.is_superuser, user.password)


def _invite(client, tenant_slug, email):
    return client.post(
        reverse("manage-member-invite", kwargs={"tenant_slug": tenant_slug}),
        {"email": email, "name": "", "role": "channel_manager", "partner": ""},
        follow=True,
    )


def _flash(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)] or [
        str(m) for m in response.context["messages"]
    ]


@pytest.mark.parametrize("who", ["other tenant's admin", "superuser", "shared person"])
def test_step1_invite_never_attaches_an_existing_account(client, admin_a, targets, who, tenant_a):
    target = targets[who]
    client.force_login(admin_a.user)
    response = _invite(client, "acme", target.email)
    assert response.status_code == 200
    with scopes_disabled():
        # a pending invitation, no membership (the shared person keeps only their old one in A)
        # (a person already in this tenant is reported as such: that is this tenant's own information)
        expected = 0 if who == "shared person" else 1
        assert Invitation.objects.filter(tenant=tenant_a, email=target.email, accepted_at=None).count() == expected
        roles = list(Membership.objects.filter(tenant=tenant_a, user=target).values_list("role", flat=True))
    assert roles == (["channel_manager"] if who == "shared person" else [])


def test_step1_invite_answer_is_identical_for_known_and_unknown_addresses(client, admin_a, admin_b):
    client.force_login(admin_a.user)
    known = _invite(client, "acme", admin_b.user.email)
    unknown = _invite(client, "acme", "nobody-anywhere@example.test")
    assert known.status_code == unknown.status_code == 200
    assert known.redirect_chain == unknown.redirect_chain
    known_text = known.content.decode().replace(admin_b.user.email, "EMAIL")
    unknown_text = unknown.content.decode().replace("nobody-anywhere@example.test", "EMAIL")
    # the pages differ only by the csrf token and the invitation ids in the pending list
    import re

    def normalise(text):
        text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", text)
        text = re.sub(r'"x-csrftoken": "[^"]+"', "", text)
        text = re.sub(r"/invitations/\d+/", "/invitations/N/", text)
        return re.sub(r"nonce=\"[^\"]+\"", "", text)

    assert normalise(known_text).count("EMAIL") == normalise(unknown_text).count("EMAIL")
    k_msgs = [m.replace(admin_b.user.email, "EMAIL") for m in _flash(known)]
    u_msgs = [m.replace("nobody-anywhere@example.test", "EMAIL") for m in _flash(unknown)]
    assert k_msgs == u_msgs and k_msgs


def test_step1_accepting_needs_the_invited_person_logged_in(admin_a, admin_b, tenant_a):
    with scope(tenant=tenant_a.pk):
        inv = services.invitation_create(
            tenant=tenant_a, actor=admin_a.user, email=admin_b.user.email, role="channel_manager"
        )
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):  # the attacker cannot accept on the victim's behalf
        services.invitation_accept(invitation=inv, user=admin_a.user)
    with pytest.raises(ValidationError):  # nor create an account for an address that has one
        services.invitation_accept(invitation=inv, password="Attacker-Chosen-Pw-2026")
    _user, membership = services.invitation_accept(invitation=inv, user=admin_b.user)  # the person themself
    assert membership.tenant_id == tenant_a.pk and membership.role == "channel_manager"
    with pytest.raises(ValidationError):  # single use
        services.invitation_accept(invitation=inv, user=admin_b.user)


@pytest.mark.parametrize("who", ["other tenant's admin", "superuser", "shared person"])
def test_step2_admin_password_change_is_refused(client, admin_a, targets, who):
    target = targets[who]
    before = _state(target)
    client.force_login(admin_a.user)
    url = reverse("admin:auth_user_password_change", args=[target.pk])
    assert url == f"/admin/partners/user/{target.pk}/password/"
    assert client.get(url).status_code == 403
    response = client.post(url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"})
    assert response.status_code == 403
    assert _state(target) == before
    assert not target.check_password(NEW_PASSWORD)


@pytest.mark.parametrize("who", ["other tenant's admin", "superuser", "shared person"])
def test_step2_admin_user_change_form_is_refused(client, admin_a, targets, who):
    target = targets[who]
    before = _state(target)
    client.force_login(admin_a.user)
    url = reverse("admin:partners_user_change", args=[target.pk])
    assert client.get(url).status_code == 403
    response = client.post(url, {"email": "attacker@evil.test", "name": "x", "is_active": "", "language": ""})
    assert response.status_code == 403
    assert _state(target) == before


def test_step2_user_admin_is_closed_to_tenant_admins(client, admin_a):
    client.force_login(admin_a.user)
    assert client.get(reverse("admin:partners_user_changelist")).status_code == 403
    assert client.get(reverse("admin:partners_user_add")).status_code == 403
    response = client.post(reverse("admin:partners_user_add"), {
        "email": "prehijack@victim.test", "name": "", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD,
    })
    assert response.status_code == 403
    assert not User.objects.filter(email="prehijack@victim.test").exists()  # no pre-hijack account


def test_step3_membership_admin_changes_only_the_membership(client, admin_a, shared_person):
    user, ma, mb = shared_person
    before = _state(user)
    client.force_login(admin_a.user)
    url = reverse("admin:partners_membership_change", args=[ma.pk])
    assert client.get(url).status_code == 200
    other = f.UserFactory(email="someone@else.test")
    response = client.post(url, {"user": other.pk, "role": "channel_manager", "partner": "", "is_active": ""})
    assert response.status_code == 302
    with scopes_disabled():
        ma.refresh_from_db()
        mb.refresh_from_db()
    assert ma.user_id == user.pk and not ma.is_active  # suspended in A, still the same person
    assert mb.is_active  # untouched in B
    assert _state(user) == before  # the account itself untouched: can still log in elsewhere


def test_step3_other_tenants_membership_is_out_of_reach(client, admin_a, admin_b):
    client.force_login(admin_a.user)
    url = reverse("admin:partners_membership_change", args=[admin_b.pk])
    assert client.get(url).status_code in (302, 404)
    client.post(url, {"role": "channel_manager", "partner": "", "is_active": ""})
    with scopes_disabled():
        admin_b.refresh_from_db()
    assert admin_b.is_active and admin_b.role == "tenant_admin"
    # nor in the manage area
    assert client.get(reverse("manage-member-edit", kwargs={"tenant_slug": "acme", "membership_id": admin_b.pk})).status_code == 404
    assert client.post(reverse("manage-member-action", kwargs={"tenant_slug": "acme", "membership_id": admin_b.pk}),
                       {"action": "remove"}).status_code == 404
    with scopes_disabled():
        assert Membership.objects.filter(pk=admin_b.pk).exists()


def test_step3_manage_area_has_no_account_fields(client, admin_a, shared_person):
    user, ma, mb = shared_person
    before = _state(user)
    client.force_login(admin_a.user)
    url = reverse("manage-member-edit", kwargs={"tenant_slug": "acme", "membership_id": ma.pk})
    page = client.get(url).content.decode()
    assert 'name="email"' not in page and 'name="password' not in page and 'name="is_active"' not in page
    client.post(url, {"role": "channel_manager", "partner": "", "email": "attacker@evil.test",
                      "password": NEW_PASSWORD, "is_active": "", "is_staff": "on", "is_superuser": "on"})
    assert _state(user) == before


def test_step3_suspend_and_remove_touch_only_this_tenant(client, admin_a, shared_person):
    user, ma, mb = shared_person
    before = _state(user)
    client.force_login(admin_a.user)
    action = reverse("manage-member-action", kwargs={"tenant_slug": "acme", "membership_id": ma.pk})
    assert client.post(action, {"action": "suspend"}).status_code == 302
    assert client.post(action, {"action": "remove"}).status_code == 302
    with scopes_disabled():
        assert not Membership.objects.filter(pk=ma.pk).exists()
        assert Membership.objects.get(pk=mb.pk).is_active
    assert _state(user) == before


def test_step4_api_has_no_way_to_people(client, admin_a):
    from rest_framework.test import APIClient

    with scope(tenant=admin_a.tenant_id):
        _key, raw = services.api_key_create(
            tenant=admin_a.tenant, name="all", actor=None,
            scopes=["read", "events:write", "partners:write", "deals:write", "deals:approve"],
        )
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    for path in ("/api/v1/users/", "/api/v1/memberships/", f"/api/v1/users/{admin_a.user.pk}/"):
        assert api.get(path).status_code == 404
        assert api.put(path, {"email": "x@evil.test"}, format="json").status_code == 404


def test_the_last_tenant_admin_cannot_be_removed_or_demoted(client, admin_a):
    client.force_login(admin_a.user)
    action = reverse("manage-member-action", kwargs={"tenant_slug": "acme", "membership_id": admin_a.pk})
    client.post(action, {"action": "remove"})
    client.post(action, {"action": "suspend"})
    edit = reverse("manage-member-edit", kwargs={"tenant_slug": "acme", "membership_id": admin_a.pk})
    assert client.post(edit, {"role": "channel_manager", "partner": ""}).status_code == 200  # form error
    with scopes_disabled():
        admin_a.refresh_from_db()
    assert admin_a.is_active and admin_a.role == "tenant_admin"


def test_channel_manager_cannot_manage_members(client, manager_a, admin_a):
    client.force_login(manager_a.user)
    assert client.get(reverse("manage-members", kwargs={"tenant_slug": "acme"})).status_code == 403
    action = reverse("manage-member-action", kwargs={"tenant_slug": "acme", "membership_id": admin_a.pk})
    assert client.post(action, {"action": "remove"}).status_code == 403
    assert client.get(reverse("manage-member-invite", kwargs={"tenant_slug": "acme"})).status_code == 403


def test_member_list_two_tenants_no_leak(client, admin_a, admin_b, shared_person):
    client.force_login(admin_a.user)
    page = client.get(reverse("manage-members", kwargs={"tenant_slug": "acme"})).content.decode()
    assert admin_a.user.email in page and shared_person[0].email in page
    assert admin_b.user.email not in page


def test_invitations_resend_and_revoke(client, admin_a, tenant_a, tenant_b, admin_b):
    client.force_login(admin_a.user)
    _invite(client, "acme", "new@example.test")
    with scopes_disabled():
        inv = Invitation.objects.get(tenant=tenant_a, email="new@example.test")
        old_hash = inv.token_hash
    def url(action, pk=inv.pk, slug="acme"):
        return reverse("manage-invitation-action", kwargs={"tenant_slug": slug, "invitation_id": pk, "action": action})

    assert client.post(url("resend")).status_code == 302
    with scopes_disabled():
        inv.refresh_from_db()
    assert inv.token_hash != old_hash
    assert client.post(url("revoke")).status_code == 302
    with scopes_disabled():
        inv.refresh_from_db()
    assert inv.revoked_at is not None
    # another tenant's admin cannot touch it
    with scope(tenant=tenant_a.pk):
        inv2 = services.invitation_create(tenant=tenant_a, actor=admin_a.user, email="x@example.test", role="channel_manager")
    client.force_login(admin_b.user)
    assert client.post(url("revoke", pk=inv2.pk, slug="globex")).status_code == 404
    with scopes_disabled():
        inv2.refresh_from_db()
    assert inv2.revoked_at is None


def test_invitation_is_emailed_and_only_its_hash_is_stored(client, admin_a, tenant_a, mailoutbox,
                                                           django_capture_on_commit_callbacks):
    client.force_login(admin_a.user)
    with django_capture_on_commit_callbacks(execute=True):
        _invite(client, "acme", "Someone@Example.test")
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["someone@example.test"]
    with scopes_disabled():
        inv = Invitation.objects.get(tenant=tenant_a, email="someone@example.test")
    import re

    key = re.search(r"/accounts/invitation/([^/\s]+)/", mailoutbox[0].body).group(1)
    raw = services.invitation_key_unsign(key)
    assert raw and raw not in inv.token_hash and services.invitation_token_hash(raw) == inv.token_hash


def test_invite_sending_is_rate_limited(client, admin_a, settings):
    settings.SHIEN_RATE_LIMITS = {"invite:email": (2, 3600)}
    client.force_login(admin_a.user)
    for _ in range(2):
        assert _invite(client, "acme", "spam@example.test").redirect_chain
    response = _invite(client, "acme", "spam@example.test")
    assert not response.redirect_chain
    assert "Too many invitations" in response.content.decode() or "招待" in response.content.decode()
