"""Invitations: e-mailed, signed, single-use, expiring; the membership starts when accepted."""

import re

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from partners import services
from partners.models import Invitation, Membership, User
from tests import factories as f

pytestmark = pytest.mark.django_db


def _invite(client, tenant_slug, **data):
    url = reverse("manage-member-invite", kwargs={"tenant_slug": tenant_slug})
    return client.post(url, data, follow=True)


def _link(message) -> str:
    match = re.search(r"https?://\S+/accounts/invitation/\S+/", message.body)
    assert match, message.body
    return match.group(0).split("://", 1)[1].split("/", 1)[1].join(["/", ""])


@pytest.fixture
def partner_a(tenant_a):
    with scope(tenant=tenant_a.pk):
        return f.PartnerFactory(tenant=tenant_a)


def test_new_person_gets_mail_sets_password_and_lands_in_portal(
    client, login, admin_a, tenant_a, partner_a, django_capture_on_commit_callbacks
):
    login(admin_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = _invite(client, "acme", email="New.Person@Example.com", name="New", role="partner_user",
                           partner=partner_a.pk)
    assert response.status_code == 200
    assert not User.objects.filter(email="new.person@example.com").exists()  # nothing until accepted
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["new.person@example.com"]
    link = _link(mail.outbox[0])
    client.logout()
    page = client.get(link)
    assert page.status_code == 200 and b'name="password1"' in page.content
    response = client.post(link, {"name": "New Person", "password1": "kumo-no-ue-42", "password2": "kumo-no-ue-42"},
                           follow=True)
    assert response.redirect_chain[-1][0] == "/t/acme/portal/"
    user = User.objects.get(email="new.person@example.com")
    assert user.check_password("kumo-no-ue-42") and user.name == "New Person"
    with scope(tenant=tenant_a.pk):
        assert Membership.objects.get(user=user).partner == partner_a
    # single use
    client.logout()
    assert client.get(link).status_code == 410
    # and the password works on the login page
    response = client.post(reverse("account_login"), {"login": user.email, "password": "kumo-no-ue-42"}, follow=True)
    assert response.redirect_chain[-1][0] == "/t/acme/portal/"


def test_new_manager_lands_in_manage_area(client, tenant_a, admin_a, django_capture_on_commit_callbacks):
    with scope(tenant=tenant_a.pk), django_capture_on_commit_callbacks(execute=True):
        services.invitation_create(tenant=tenant_a, actor=admin_a.user, email="cm@example.com", role="channel_manager")
    link = _link(mail.outbox[-1])
    response = client.post(link, {"password1": "kumo-no-ue-42", "password2": "kumo-no-ue-42"}, follow=True)
    assert response.redirect_chain[-1][0] == "/t/acme/manage/"


def test_existing_person_must_accept_while_logged_in(
    client, login, admin_a, manager_b, tenant_a, django_capture_on_commit_callbacks
):
    person = manager_b.user  # a person of another tenant
    with scope(tenant=tenant_a.pk), django_capture_on_commit_callbacks(execute=True):
        services.invitation_create(tenant=tenant_a, actor=admin_a.user, email=person.email, role="channel_manager")
    link = _link(mail.outbox[-1])
    with scope(tenant=tenant_a.pk):
        assert not Membership.objects.filter(tenant=tenant_a, user=person).exists()
    anonymous = client.get(link)
    assert anonymous.status_code == 200 and b"password1" not in anonymous.content  # no way to set a password
    assert reverse("account_login").encode() in anonymous.content
    assert client.post(link, {"password1": "x-y-z-12345", "password2": "x-y-z-12345"}).status_code == 200
    person.refresh_from_db()
    assert person.check_password(f.PASSWORD)
    # someone else logged in cannot take it
    login(admin_a)
    assert client.post(link).status_code == 403
    # the invited person accepts
    client.force_login(person)
    response = client.post(link, follow=True)
    assert response.redirect_chain[-1][0] == "/t/acme/manage/"
    with scope(tenant=tenant_a.pk):
        assert Membership.objects.get(tenant=tenant_a, user=person).role == "channel_manager"


def test_invite_response_is_the_same_for_known_and_unknown_addresses(client, login, admin_a, manager_b):
    login(admin_a)
    known = _invite(client, "acme", email=manager_b.user.email, role="channel_manager")
    unknown = _invite(client, "acme", email="nobody@example.com", role="channel_manager")
    def msgs(r):
        return [str(m).replace(manager_b.user.email, "X").replace("nobody@example.com", "X") for m in r.context["messages"]]
    assert msgs(known) == msgs(unknown)
    assert known.status_code == unknown.status_code == 200


def test_resend_replaces_the_link_and_revoke_ends_it(
    client, login, admin_a, tenant_a, django_capture_on_commit_callbacks
):
    login(admin_a)
    with django_capture_on_commit_callbacks(execute=True):
        _invite(client, "acme", email="p@example.com", role="channel_manager")
    first = _link(mail.outbox[-1])
    with scope(tenant=tenant_a.pk):
        inv = Invitation.objects.get(email="p@example.com")
    url = reverse("manage-invitation-action", kwargs={"tenant_slug": "acme", "invitation_id": inv.pk, "action": "resend"})
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url)
    second = _link(mail.outbox[-1])
    assert first != second
    client.logout()
    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 200
    login(admin_a)
    client.post(url.replace("/resend/", "/revoke/"))
    client.logout()
    assert client.get(second).status_code == 410


def test_expired_and_tampered_links_are_refused(client, tenant_a, admin_a, django_capture_on_commit_callbacks):
    with scope(tenant=tenant_a.pk), django_capture_on_commit_callbacks(execute=True):
        inv = services.invitation_create(tenant=tenant_a, actor=admin_a.user, email="e@example.com", role="channel_manager")
    link = _link(mail.outbox[-1])
    assert client.get(link[:-3] + "xx/").status_code == 404
    with scopes_disabled():
        Invitation.objects.filter(pk=inv.pk).update(expires_at=timezone.now())
    assert client.get(link).status_code == 410
    assert client.post(link, {"password1": "kumo-no-ue-42", "password2": "kumo-no-ue-42"}).status_code == 410
    assert not User.objects.filter(email="e@example.com").exists()


def test_invitations_of_another_tenant_cannot_be_resent_or_revoked(
    client, login, admin_a, admin_b, tenant_b, django_capture_on_commit_callbacks
):
    with scope(tenant=tenant_b.pk), django_capture_on_commit_callbacks(execute=True):
        inv = services.invitation_create(tenant=tenant_b, actor=admin_b.user, email="b@example.com", role="channel_manager")
    login(admin_a)
    for action in ("resend", "revoke"):
        url = reverse("manage-invitation-action", kwargs={"tenant_slug": "acme", "invitation_id": inv.pk, "action": action})
        assert client.post(url).status_code == 404
    page = client.get(reverse("manage-member-invite", kwargs={"tenant_slug": "acme"}))
    assert b"b@example.com" not in page.content
    with scope(tenant=tenant_b.pk):
        inv.refresh_from_db()
    assert inv.revoked_at is None


def test_only_tenant_admins_invite(client, login, manager_a):
    login(manager_a)
    assert client.get(reverse("manage-member-invite", kwargs={"tenant_slug": "acme"})).status_code == 403


def test_password_reset_by_email(client, manager_a):
    response = client.post(reverse("account_reset_password"), {"email": manager_a.user.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/accounts/password/reset/key/\S+)", mail.outbox[0].body).group(1)
    page = client.get(link, follow=True)
    assert page.status_code == 200
    form_url = page.redirect_chain[-1][0] if page.redirect_chain else link
    response = client.post(form_url, {"password1": "sora-to-umi-77", "password2": "sora-to-umi-77"})
    assert response.status_code == 302
    manager_a.user.refresh_from_db()
    assert manager_a.user.check_password("sora-to-umi-77")
    response = client.post(reverse("account_login"), {"login": manager_a.user.email, "password": "sora-to-umi-77"},
                           follow=True)
    assert response.redirect_chain[-1][0] == "/t/acme/manage/"


def test_password_reset_for_unknown_address_looks_the_same(client, manager_a):
    known = client.post(reverse("account_reset_password"), {"email": manager_a.user.email})
    unknown = client.post(reverse("account_reset_password"), {"email": "ghost@example.com"})
    assert known.status_code == unknown.status_code == 302 and known.url == unknown.url


def test_a_new_email_address_must_be_verified_before_it_logs_in(client, manager_a):
    client.force_login(manager_a.user)
    response = client.post(reverse("account_email"), {"action_add": "", "email": "second@example.com"})
    assert response.status_code == 302
    assert mail.outbox and mail.outbox[-1].to == ["second@example.com"]
    client.logout()
    response = client.post(reverse("account_login"), {"login": "second@example.com", "password": f.PASSWORD},
                           follow=True)
    assert "_auth_user_id" not in client.session
    link = re.search(r"https?://[^/]+(/accounts/confirm-email/\S+/)", mail.outbox[-1].body).group(1)
    client.post(link)
    response = client.post(reverse("account_login"), {"login": "second@example.com", "password": f.PASSWORD},
                           follow=True)
    assert client.session["_auth_user_id"] == str(manager_a.user.pk)


def test_accepting_verifies_the_invited_address_of_an_existing_person(
    client, admin_a, manager_b, tenant_a, django_capture_on_commit_callbacks
):
    from allauth.account.models import EmailAddress

    person = manager_b.user
    EmailAddress.objects.filter(user=person).delete()
    EmailAddress.objects.create(user=person, email=person.email, verified=False, primary=True)
    with scope(tenant=tenant_a.pk), django_capture_on_commit_callbacks(execute=True):
        services.invitation_create(tenant=tenant_a, actor=admin_a.user, email=person.email, role="channel_manager")
    link = _link(mail.outbox[-1])
    client.force_login(person)
    assert client.post(link).status_code == 302
    address = EmailAddress.objects.get(user=person, email__iexact=person.email)
    assert address.verified and address.primary


def test_a_person_with_an_unverified_different_address_cannot_accept(
    client, admin_a, manager_b, tenant_a, django_capture_on_commit_callbacks
):
    """Someone who added the invited address to their own account, unverified, and got hold of the
    link: refused (403), no membership, their claim stays unverified; the real owner then accepts
    and the stray claim ends."""
    from allauth.account.models import EmailAddress

    intruder = manager_b.user
    invited = "newcomer@example.test"
    EmailAddress.objects.create(user=intruder, email=invited, verified=False, primary=False)
    with scope(tenant=tenant_a.pk), django_capture_on_commit_callbacks(execute=True):
        services.invitation_create(tenant=tenant_a, actor=admin_a.user, email=invited, role="tenant_admin")
    link = _link(mail.outbox[-1])
    client.force_login(intruder)
    assert client.get(link).status_code == 403
    assert client.post(link).status_code == 403
    with scope(tenant=tenant_a.pk):
        assert not Membership.objects.filter(tenant=tenant_a, user=intruder).exists()
        assert Invitation.objects.get(tenant=tenant_a, email=invited).is_pending
    assert not EmailAddress.objects.get(user=intruder, email=invited).verified
    # the service refuses it too, whatever the view does
    with scope(tenant=tenant_a.pk):
        invitation = Invitation.objects.get(tenant=tenant_a, email=invited)
    with pytest.raises(ValidationError):
        services.invitation_accept(invitation=invitation, user=intruder)
    # the person who holds the address sets a password: verified, and the stray claim is gone
    client.logout()
    response = client.post(link, {"name": "New", "password1": "x-y-z-12345-q", "password2": "x-y-z-12345-q"})
    assert response.status_code == 302
    owner = User.objects.get(email=invited)
    assert EmailAddress.objects.get(user=owner, email=invited).verified
    assert not EmailAddress.objects.filter(user=intruder, email=invited).exists()
