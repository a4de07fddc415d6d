"""Public verification page, portal list, manage pages: states, leaks, access, tenant isolation."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope

from enablement.certifications import services
from enablement.certifications.models import Certificate, Certification
from partners.models import AuditEvent
from tests import factories as f
from tests.certifications.conftest import T0, complete, evaluate

pytestmark = pytest.mark.django_db


@pytest.fixture
def issued(cert_setup, tenant_a, partner_user_a):
    cert, t1, t2 = cert_setup
    now = timezone.now()
    complete(partner_user_a, t1, now - dt.timedelta(days=1))
    complete(partner_user_a, t2, now - dt.timedelta(hours=1))
    [c] = evaluate(tenant_a)
    return c


def verify(client, code):
    return client.get(reverse("certificate-verify", kwargs={"code": code}))


def test_verification_page_valid_and_nothing_else(client, issued, partner_user_a, tenant_a, make_member):
    # a second certificate of another person in the same tenant must not show up
    with scope(tenant=tenant_a.pk):
        other = make_member(tenant_a, "partner_user", user=f.UserFactory(name="Other Person"))
        Certificate.objects.create(
            tenant=tenant_a, certification=issued.certification, holder=other.user, partner=other.partner,
            issued_at=issued.issued_at, expires_at=issued.expires_at, renewable_from=issued.renewable_from,
        )
    response = verify(client, issued.code)
    assert response.status_code == 200
    html = response.content.decode()
    assert partner_user_a.user.name in html and "Certified Seller" in html and "status-valid" in html
    assert partner_user_a.user.email not in html
    assert partner_user_a.partner.name not in html
    assert "Other Person" not in html
    assert "Product basics" not in html  # no requirement details
    assert response["X-Robots-Tag"] == "noindex"
    assert response.context["status"] == "valid"
    for leaked in ("certificate", "holder", "partner", "certificates"):
        assert leaked not in response.context
    assert response.context.get("membership") is None


def test_verification_page_expired_and_revoked(client, issued, tenant_a, admin_a):
    with scope(tenant=tenant_a.pk):
        Certificate.objects.filter(pk=issued.pk).update(
            issued_at=timezone.now() - dt.timedelta(days=400), expires_at=timezone.now() - dt.timedelta(days=1)
        )
    assert "status-expired" in verify(client, issued.code).content.decode()
    with scope(tenant=tenant_a.pk):
        issued.refresh_from_db()
        services.certificate_revoke(tenant=tenant_a, certificate=issued, reason="Fraud", actor=admin_a.user)
    html = verify(client, issued.code).content.decode()
    assert "status-revoked" in html and "Fraud" not in html


def test_unknown_code_is_404_and_lookups_are_rate_limited(client, issued):
    assert verify(client, "no-such-code-000000000000").status_code == 404
    statuses = [verify(client, f"guess-{i:020d}").status_code for i in range(40)]
    assert 429 in statuses and statuses.index(429) <= 30
    assert verify(client, issued.code).status_code == 429  # the limit holds for real codes too


def test_portal_lists_own_certificates_only(client, issued, tenant_a, partner_user_a, make_member):
    colleague = make_member(tenant_a, "partner_user", partner=partner_user_a.partner)
    client.force_login(partner_user_a.user)
    url = reverse("portal-certificates", kwargs={"tenant_slug": tenant_a.slug})
    html = client.get(url).content.decode()
    assert "Certified Seller" in html and issued.code in html
    client.force_login(colleague.user)
    html = client.get(url).content.decode()
    assert issued.code not in html


def test_manage_holders_filter_and_isolation(client, issued, tenant_a, tenant_b, manager_a, manager_b,
                                             partner_user_a):
    url = reverse("manage-certification-holders",
                  kwargs={"tenant_slug": tenant_a.slug, "certification_id": issued.certification_id})
    client.force_login(manager_a.user)
    assert partner_user_a.user.name in client.get(url).content.decode()
    assert partner_user_a.user.name in client.get(url + "?status=valid").content.decode()
    assert partner_user_a.user.name not in client.get(url + "?status=revoked").content.decode()
    assert partner_user_a.user.name not in client.get(url + "?status=expired").content.decode()
    # partner users may not; another tenant's manager gets 404 on both URLs
    client.force_login(partner_user_a.user)
    assert client.get(url).status_code == 403
    client.force_login(manager_b.user)
    assert client.get(url).status_code == 404
    other = reverse("manage-certification-holders",
                    kwargs={"tenant_slug": tenant_b.slug, "certification_id": issued.certification_id})
    assert client.get(other).status_code == 404
    revoke = reverse("manage-certificate-revoke", kwargs={"tenant_slug": tenant_b.slug, "certificate_id": issued.pk})
    assert client.post(revoke, {"reason": "x"}).status_code == 404
    with scope(tenant=tenant_a.pk):
        assert Certificate.objects.get(pk=issued.pk).revoked_at is None


def test_manage_revoke_with_reason(client, issued, tenant_a, manager_a):
    client.force_login(manager_a.user)
    url = reverse("manage-certificate-revoke", kwargs={"tenant_slug": tenant_a.slug, "certificate_id": issued.pk})
    client.post(url, {"reason": ""})
    with scope(tenant=tenant_a.pk):
        assert Certificate.objects.get(pk=issued.pk).revoked_at is None
    response = client.post(url, {"reason": "Left the company"})
    assert response.status_code == 302
    with scope(tenant=tenant_a.pk):
        c = Certificate.objects.get(pk=issued.pk)
        assert c.revoked_reason == "Left the company" and c.revoked_by == manager_a.user
        assert AuditEvent.objects.filter(tenant=tenant_a, action="certificate.revoked", actor=manager_a.user).exists()


def test_manage_create_edit_and_tier_requirement(client, tenant_a, admin_a, partner_user_a):
    with scope(tenant=tenant_a.pk):
        a1 = f.AssetFactory(tenant=tenant_a, title="Basics")
        tier = partner_user_a.partner.tier
    client.force_login(admin_a.user)
    new = reverse("manage-certification-new", kwargs={"tenant_slug": tenant_a.slug})
    assert client.get(new).status_code == 200
    response = client.post(new, {"name": "Expert", "description": "", "validity_months": 24,
                                 "renewal_window_days": 90, "is_active": "on", "required_assets": [a1.pk]})
    assert response.status_code == 302, response.content.decode()[:2000]
    with scope(tenant=tenant_a.pk):
        cert = Certification.objects.get(tenant=tenant_a, name="Expert")
        assert list(cert.requirements.values_list("asset_id", flat=True)) == [a1.pk]
    tier_url = reverse("manage-certification-tier", kwargs={"tenant_slug": tenant_a.slug, "certification_id": cert.pk})
    client.post(tier_url, {"tier": tier.pk, "required_people": 3})
    edit = reverse("manage-certification-edit", kwargs={"tenant_slug": tenant_a.slug, "certification_id": cert.pk})
    html = client.get(edit).content.decode()
    assert tier.name in html
    # renewal window as long as the validity is refused
    response = client.post(edit, {"name": "Expert", "validity_months": 1, "renewal_window_days": 40,
                                  "is_active": "on", "required_assets": [a1.pk]})
    assert response.status_code == 200 and "renewal_window_days" in response.context["form"].errors
    assert client.get(reverse("manage-certifications", kwargs={"tenant_slug": tenant_a.slug})).status_code == 200
    with scope(tenant=tenant_a.pk):
        assert AuditEvent.objects.filter(action="certification.tier_requirement").count() == 1


@pytest.mark.parametrize("language", ["ja", "en"])
def test_pages_render_in_both_languages(client, issued, tenant_a, manager_a, partner_user_a, language):
    for member in (manager_a, partner_user_a):
        member.user.language = language
        member.user.save(update_fields=["language"])
    client.force_login(manager_a.user)
    html = client.get(reverse("manage-certifications", kwargs={"tenant_slug": tenant_a.slug})).content.decode()
    assert ("認定" if language == "ja" else "Certifications") in html
    client.force_login(partner_user_a.user)
    html = client.get(reverse("portal-certificates", kwargs={"tenant_slug": tenant_a.slug})).content.decode()
    assert ("認定証" if language == "ja" else "My certificates") in html


def test_scoped_query_without_tenant_raises(db):
    from django_scopes.exceptions import ScopeError

    with pytest.raises(ScopeError):
        list(Certificate.objects.all())


_ = T0
