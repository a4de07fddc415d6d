"""The second factor: required for operators and tenant admins, and per tenant for other roles."""

import pytest
from django.urls import reverse

from tests import factories as f

pytestmark = [pytest.mark.django_db, pytest.mark.mfa]


def _password_login(client, user):
    return client.post(reverse("account_login"), {"login": user.email, "password": f.PASSWORD}, follow=True)


def _totp_code(secret: str) -> str:
    import pyotp

    return pyotp.TOTP(secret).now()


def test_tenant_admin_without_second_factor_cannot_reach_manage_or_admin(client, admin_a):
    response = _password_login(client, admin_a.user)
    assert response.redirect_chain[-1][0].startswith(reverse("mfa_activate_totp"))
    for url in ("/t/acme/manage/", "/t/acme/manage/settings/invite/", "/admin/", "/admin/partners/partner/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("mfa_activate_totp")), url


def test_superuser_without_second_factor_cannot_reach_admin(client):
    op = f.UserFactory(is_staff=True, is_superuser=True)
    _password_login(client, op)
    response = client.get("/admin/")
    assert response.status_code == 302 and response.url.startswith(reverse("mfa_activate_totp"))


def test_manager_and_partner_user_pass_unless_the_tenant_requires_it(client, manager_a, partner_user_a, tenant_a):
    _password_login(client, manager_a.user)
    assert client.get("/t/acme/manage/").status_code == 200
    tenant_a.mfa_required_channel_managers = True
    tenant_a.save()
    response = client.get("/t/acme/manage/")
    assert response.status_code == 302 and response.url.startswith(reverse("mfa_activate_totp"))
    other = client.__class__()
    _password_login(other, partner_user_a.user)
    assert other.get("/t/acme/portal/").status_code == 200
    tenant_a.mfa_required_partner_users = True
    tenant_a.save()
    assert other.get("/t/acme/portal/").status_code == 302


@pytest.mark.django_db(transaction=True)  # allauth announces the new authenticator on commit
def test_enrolling_totp_lets_the_admin_in_and_later_logins_ask_for_the_code(client, admin_a):
    _password_login(client, admin_a.user)
    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    secret = page.context["form"].secret
    response = client.post(reverse("mfa_activate_totp"), {"code": _totp_code(secret)})
    assert response.status_code == 302
    assert client.get("/t/acme/manage/").status_code == 200
    # a fresh login stops at the code, and the manage area stays closed until it is given
    client.logout()
    response = _password_login(client, admin_a.user)
    assert response.redirect_chain[-1][0] == reverse("mfa_authenticate")
    assert client.get("/t/acme/manage/").status_code == 302  # not logged in yet
    from django.core.cache import cache

    cache.clear()  # allauth refuses a code twice in its window; this stands in for waiting for the next one
    code = _totp_code(secret)
    response = client.post(reverse("mfa_authenticate"), {"code": code}, follow=True)
    assert response.redirect_chain[-1][0] == "/t/acme/manage/"
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("steps_back", "accepted"), [(1, True), (2, False)])
def test_a_code_from_the_step_just_gone_is_accepted_an_older_one_is_not(client, admin_a, steps_back, accepted):
    import time

    import pyotp

    _password_login(client, admin_a.user)
    secret = client.get(reverse("mfa_activate_totp")).context["form"].secret
    client.post(reverse("mfa_activate_totp"), {"code": _totp_code(secret)})
    client.logout()
    _password_login(client, admin_a.user)
    from django.core.cache import cache

    cache.clear()
    totp, now = pyotp.TOTP(secret), time.time()
    window = {totp.at(now + 30 * step) for step in (-1, 0, 1)}
    old = totp.at(now - 30 * steps_back)
    while not accepted and old in window:  # six digits shared by chance (p ≈ 3e-6): go one step further
        steps_back += 1
        old = totp.at(now - 30 * steps_back)
    response = client.post(reverse("mfa_authenticate"), {"code": old})
    assert (response.status_code == 302) is accepted
    assert (client.get("/t/acme/manage/").status_code == 200) is accepted


def test_admin_of_one_tenant_only_is_not_asked_in_another_tenant_as_partner_user(
    client, tenant_a, tenant_b, make_member
):
    person = f.UserFactory()
    make_member(tenant_a, "tenant_admin", user=person)
    make_member(tenant_b, "partner_user", user=person)
    _password_login(client, person)
    assert client.get("/t/globex/portal/").status_code == 200
    assert client.get("/t/acme/manage/").status_code == 302


def test_tenant_admin_sets_the_policy(client, admin_a, tenant_a, tenant_b):
    client.force_login(admin_a.user)
    from allauth.account.internal.flows.login import record_authentication

    session_request = type("R", (), {"session": client.session})()
    record_authentication(session_request, admin_a.user, method="mfa", type="totp")
    session_request.session.save()
    url = reverse("manage-security", kwargs={"tenant_slug": "acme"})
    assert client.get(url).status_code == 200
    client.post(url, {"action": "mfa", "mfa_required_channel_managers": "on"})
    tenant_a.refresh_from_db()
    tenant_b.refresh_from_db()
    assert tenant_a.mfa_required_channel_managers and not tenant_a.mfa_required_partner_users
    assert not tenant_b.mfa_required_channel_managers


def test_invited_tenant_admin_goes_from_the_password_straight_to_the_authenticator(
    client, tenant_a, admin_a, django_capture_on_commit_callbacks
):
    import re

    from django.core import mail
    from django_scopes import scope

    from partners import services

    with scope(tenant=tenant_a.pk), django_capture_on_commit_callbacks(execute=True):
        services.invitation_create(tenant=tenant_a, actor=admin_a.user, email="second-admin@example.com",
                                   role="tenant_admin")
    link = re.search(r"https?://[^/]+(/accounts/invitation/\S+/)", mail.outbox[-1].body).group(1)
    response = client.post(link, {"password1": "kumo-no-ue-42", "password2": "kumo-no-ue-42"}, follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("mfa_activate_totp"))
    assert response.status_code == 200 and "form" in response.context and response.context["form"].secret


def test_htmx_requests_get_a_whole_page_redirect(client, admin_a):
    _password_login(client, admin_a.user)
    response = client.get("/t/acme/manage/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.headers["HX-Redirect"].startswith(reverse("mfa_activate_totp"))
