"""The demo logins listed in README.md land on the right area."""

import pytest
from django.urls import reverse

from partners import demo

pytestmark = pytest.mark.django_db

EXPECTED = {
    "admin@sakura.example": "/t/sakura/manage/",
    "manager@sakura.example": "/t/sakura/manage/",
    "partner@sakura.example": "/t/sakura/portal/",
    "top@sakura.example": "/t/sakura/portal/",
    "admin@northwind.example": "/t/northwind/manage/",
    "manager@northwind.example": "/t/northwind/manage/",
    "partner@northwind.example": "/t/northwind/portal/",
    "top@northwind.example": "/t/northwind/portal/",
    "reseller@multi.example": "/",
    "operator@shien.example": "/admin/",
}


@pytest.fixture
def seeded():
    demo.seed(log=lambda *a: None)


def test_every_demo_login_lands_on_its_area(seeded):
    from django.test import Client

    for email, landing in EXPECTED.items():
        client = Client()
        response = client.post(reverse("account_login"), {"login": email, "password": demo.DEMO_PASSWORD}, follow=True)
        assert response.status_code == 200, email
        assert response.redirect_chain, f"login of {email} did not redirect"
        assert response.request["PATH_INFO"] == landing, email


def test_partner_seed_is_idempotent(seeded):
    from django_scopes import scopes_disabled

    from partners.models import Membership, Partner, User

    with scopes_disabled():
        before = (User.objects.count(), Partner.objects.count(), Membership.objects.count())
        demo.seed(log=lambda *a: None)
        assert (User.objects.count(), Partner.objects.count(), Membership.objects.count()) == before
        assert Partner.objects.filter(tenant__slug="sakura").count() == demo.PARTNERS_PER_TENANT
        statuses = set(Partner.objects.filter(tenant__slug="sakura").values_list("status", flat=True))
    assert statuses == {"onboarding", "active", "nurturing", "dormant"}
