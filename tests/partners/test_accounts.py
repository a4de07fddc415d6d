import pytest
from django.urls import reverse

from tests import factories as f

pytestmark = pytest.mark.django_db


def test_login_page_renders(client):
    response = client.get(reverse("account_login"))
    assert response.status_code == 200
    assert b'name="login"' in response.content
    assert "Content-Security-Policy" in response.headers


def test_wrong_password_and_unknown_user_get_the_same_message(client, manager_a):
    wrong = client.post(reverse("account_login"), {"login": manager_a.user.email, "password": "nope"})
    unknown = client.post(reverse("account_login"), {"login": "ghost@example.com", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 200
    assert wrong.context["form"].non_field_errors() == unknown.context["form"].non_field_errors()
    assert wrong.context["form"].non_field_errors()


def test_login_lands_in_the_tenant(client, manager_a):
    response = client.post(reverse("account_login"), {"login": manager_a.user.email, "password": f.PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == "/t/acme/manage/"


def test_repeated_failures_are_throttled_with_429(client, manager_a, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("account_login"), {"login": manager_a.user.email, "password": "wrong"})
    response = client.post(reverse("account_login"), {"login": manager_a.user.email, "password": f.PASSWORD})
    assert response.status_code == 429
    from axes.models import AccessAttempt

    assert AccessAttempt.objects.filter(username=manager_a.user.email).exists()


def test_tenant_picker_for_several_memberships(client, login, tenant_a, tenant_b, make_member):
    user = f.UserFactory()
    make_member(tenant_a, "channel_manager", user=user)
    m = make_member(tenant_b, "partner_user", user=user)
    login(m)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert b"/t/acme/" in response.content and b"/t/globex/" in response.content


def test_language_follows_user_then_tenant(client, login, manager_a):
    login(manager_a)
    response = client.get("/t/acme/manage/")
    assert response.headers["Content-Language"] == "ja"  # tenant default
    client.post(reverse("set-language"), {"language": "en", "next": "/t/acme/manage/"})
    response = client.get("/t/acme/manage/")
    assert response.headers["Content-Language"] == "en"


def test_set_language_refuses_offsite_next(client, login, manager_a):
    login(manager_a)
    response = client.post(reverse("set-language"), {"language": "en", "next": "https://evil.example/"})
    assert response.url == reverse("home")
