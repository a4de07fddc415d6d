"""Per-tenant SSO: an OpenID Connect flow against a stub provider and a signed SAML response posted to
the ACS. The IdP of one tenant only ever creates memberships in that tenant."""

import json
import time
from unittest import mock
from urllib.parse import parse_qs, urlparse

import jwt
import pytest
import requests
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from partners.accounts import sso
from partners.models import Membership, SsoConnection, User
from tests import factories as f

pytestmark = pytest.mark.django_db

ISSUER = "https://idp.acme-corp.example"


class StubOidcProvider:
    """Answers the discovery, token and userinfo requests allauth makes (no network)."""

    def __init__(self, *, issuer=ISSUER, client_id="acme-client", claims=None):
        self.issuer, self.client_id = issuer, client_id
        self.claims = claims or {}
        self.token_requests = []

    def __call__(self, session, method, url, *args, **kwargs):
        response = requests.Response()
        response.status_code = 200
        response.headers["Content-Type"] = "application/json"
        if url.startswith(self.issuer + "/.well-known/openid-configuration"):
            body = {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "userinfo_endpoint": f"{self.issuer}/userinfo",
                "jwks_uri": f"{self.issuer}/jwks",
                "token_endpoint_auth_methods_supported": ["client_secret_post"],
            }
        elif url == f"{self.issuer}/token":
            self.token_requests.append(kwargs.get("data") or {})
            now = int(time.time())
            id_token = jwt.encode(
                {"iss": self.issuer, "aud": self.client_id, "iat": now, "exp": now + 300, **self.claims},
                "the-token-arrives-over-tls-so-its-signature-is-not-checked", algorithm="HS256",
            )
            body = {"access_token": "at-123", "token_type": "Bearer", "expires_in": 300, "id_token": id_token}
        elif url == f"{self.issuer}/userinfo":
            body = self.claims
        else:
            response.status_code = 404
            body = {}
        response._content = json.dumps(body).encode()
        response.url = url
        return response


def _oidc_connection(tenant, **overrides):
    with scope(tenant=tenant.pk):
        fields = {
            "name": "Acme Corp SSO", "issuer": ISSUER, "client_id": "acme-client", "client_secret": "s3cret-value",
            "email_domains": "acme-corp.example", "jit_enabled": True, "default_role": "channel_manager",
            "role_mapping": [{"attribute": "groups", "value": "prm-admins", "role": "tenant_admin"}],
        }
        return sso.sso_connection_save(tenant=tenant, actor=None, protocol="oidc", **{**fields, **overrides})


def _oidc_login(client, conn, stub):
    with mock.patch.object(requests.Session, "request", autospec=True, side_effect=stub):
        start = client.post(sso.login_url(conn))
        assert start.status_code == 302, start.content[:500]
        location = urlparse(start["Location"])
        assert location.netloc == urlparse(stub.issuer).netloc
        params = parse_qs(location.query)
        assert params["client_id"] == [stub.client_id]
        callback = reverse("openid_connect_callback", kwargs={"provider_id": conn.provider_id})
        return client.get(callback, {"code": "auth-code", "state": params["state"][0]}, follow=True)


def test_secret_is_stored_encrypted(tenant_a):
    conn = _oidc_connection(tenant_a)
    assert "s3cret-value" not in conn.client_secret_encrypted
    assert sso.connection_secret(conn) == "s3cret-value"


def test_oidc_login_creates_the_mapped_membership_in_this_tenant_only(client, tenant_a, tenant_b):
    conn = _oidc_connection(tenant_a)
    _oidc_connection(tenant_b)  # another tenant claims the same domain: it gains nothing from tenant A's IdP
    stub = StubOidcProvider(claims={"sub": "u-1", "email": "hanako@acme-corp.example", "email_verified": True,
                                    "name": "Hanako", "groups": ["staff"]})
    response = _oidc_login(client, conn, stub)
    assert response.redirect_chain[-1][0] == "/t/acme/manage/"
    assert stub.token_requests and stub.token_requests[0]["client_secret"] == "s3cret-value"
    user = User.objects.get(email="hanako@acme-corp.example")
    with scopes_disabled():
        memberships = list(Membership.objects.filter(user=user).values_list("tenant__slug", "role"))
    assert memberships == [("acme", "channel_manager")]
    assert not user.has_usable_password()


def test_oidc_attribute_maps_to_tenant_admin(client, tenant_a):
    conn = _oidc_connection(tenant_a)
    stub = StubOidcProvider(claims={"sub": "u-2", "email": "boss@acme-corp.example", "email_verified": True,
                                    "groups": ["staff", "prm-admins"]})
    _oidc_login(client, conn, stub)
    with scopes_disabled():
        assert Membership.objects.get(user__email="boss@acme-corp.example").role == "tenant_admin"


def test_oidc_domain_rule_maps_partner_users(client, tenant_a):
    with scope(tenant=tenant_a.pk):
        partner = f.PartnerFactory(tenant=tenant_a)
    conn = _oidc_connection(tenant_a, role_mapping=[
        {"domain": "reseller.example", "role": "partner_user", "partner": partner.pk}])
    with scope(tenant=tenant_a.pk):
        conn = sso.sso_connection_save(tenant=tenant_a, actor=None, protocol="oidc",
                                       email_domains="acme-corp.example, reseller.example")
    stub = StubOidcProvider(claims={"sub": "u-3", "email": "sales@reseller.example", "email_verified": True})
    response = _oidc_login(client, conn, stub)
    assert response.redirect_chain[-1][0] == "/t/acme/portal/"
    with scopes_disabled():
        assert Membership.objects.get(user__email="sales@reseller.example").partner_id == partner.pk


def test_oidc_refuses_addresses_outside_the_tenant_domains(client, tenant_a):
    conn = _oidc_connection(tenant_a)
    stub = StubOidcProvider(claims={"sub": "u-4", "email": "someone@globex.example", "email_verified": True})
    response = _oidc_login(client, conn, stub)
    assert response.status_code == 403
    assert not User.objects.filter(email="someone@globex.example").exists()
    assert "_auth_user_id" not in client.session


def test_oidc_never_takes_over_an_existing_account(client, tenant_a, admin_b):
    """Tenant A's admin lists tenant B's admin's domain and asserts that address from their own IdP."""
    victim = admin_b.user
    victim_domain = victim.email.rpartition("@")[2]
    conn = _oidc_connection(tenant_a, email_domains=victim_domain)
    stub = StubOidcProvider(claims={"sub": "attacker", "email": victim.email, "email_verified": True})
    _oidc_login(client, conn, stub)
    assert client.session.get("_auth_user_id") != str(victim.pk)
    with scopes_disabled():
        assert not Membership.objects.filter(tenant=tenant_a, user=victim).exists()


def test_sso_discovery_by_email_domain(client, tenant_a):
    conn = _oidc_connection(tenant_a)
    response = client.post(reverse("sso-start"), {"email": "x@acme-corp.example"})
    assert response.status_code == 302 and response.url == sso.login_url(conn)
    response = client.post(reverse("sso-start"), {"email": "x@unknown.example"})
    assert response.status_code == 200 and response.context["form"].errors
    # the login page never lists the tenants' identity providers
    assert b"Acme Corp SSO" not in client.get(reverse("account_login")).content


def test_tenant_admin_configures_sso_in_the_manage_area(client, login, admin_a, tenant_a, tenant_b):
    login(admin_a)
    url = reverse("manage-security", kwargs={"tenant_slug": "acme"})
    response = client.post(url, {
        "action": "oidc", "oidc-name": "Okta", "oidc-is_active": "on", "oidc-issuer": ISSUER,
        "oidc-client_id": "cid", "oidc-client_secret": "top-secret", "oidc-email_domains": "acme-corp.example",
        "oidc-jit_enabled": "on", "oidc-default_role": "channel_manager", "oidc-role_mapping": "[]",
    })
    assert response.status_code == 302, response.context["connections"][0]["form"].errors
    with scope(tenant=tenant_a.pk):
        conn = SsoConnection.objects.get(tenant=tenant_a)
    assert sso.connection_secret(conn) == "top-secret"
    page = client.get(url)
    assert b"top-secret" not in page.content
    assert conn.provider_id.encode() in page.content  # the redirect URI to give the IdP
    with scope(tenant=tenant_b.pk):
        assert not SsoConnection.objects.filter(tenant=tenant_b).exists()


def test_channel_manager_cannot_configure_sso(client, login, manager_a):
    login(manager_a)
    assert client.get(reverse("manage-security", kwargs={"tenant_slug": "acme"})).status_code == 403


# --- SAML 2.0: a response signed with a test key, posted to the ACS ---

IDP_ENTITY = "https://idp.globex-corp.example/saml"
HOST = "shien.example.test"


@pytest.fixture(autouse=True)
def _dotted_host(settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, HOST]


def _test_idp_key_and_cert() -> tuple[str, str]:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test idp")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def idp_keys():
    return _test_idp_key_and_cert()


def _saml_connection(tenant, cert, **overrides):
    fields = {
        "name": "Globex Entra ID", "idp_entity_id": IDP_ENTITY, "idp_sso_url": f"{IDP_ENTITY}/sso",
        "idp_x509cert": cert, "email_domains": "globex-corp.example", "jit_enabled": True,
        "default_role": "", "role_mapping": [
            {"attribute": "role", "value": "manager", "role": "channel_manager"},
            {"attribute": "role", "value": "admin", "role": "tenant_admin"},
        ],
    }
    with scope(tenant=tenant.pk):
        return sso.sso_connection_save(tenant=tenant, actor=None, protocol="saml", **{**fields, **overrides})


def _saml_response(*, key, cert, request_id, acs, audience, email, role, sign=True) -> str:
    import base64
    import datetime as dt
    import uuid

    from onelogin.saml2.utils import OneLogin_Saml2_Utils

    now = dt.datetime.now(dt.UTC)
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    issued, later = now.strftime(fmt), (now + dt.timedelta(minutes=5)).strftime(fmt)
    before = (now - dt.timedelta(minutes=1)).strftime(fmt)
    assertion_id = f"_a{uuid.uuid4().hex}"
    assertion = f"""<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{assertion_id}" Version="2.0" IssueInstant="{issued}"><saml:Issuer>{IDP_ENTITY}</saml:Issuer><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{email}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData InResponseTo="{request_id}" NotOnOrAfter="{later}" Recipient="{acs}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{before}" NotOnOrAfter="{later}"><saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{issued}" SessionIndex="{assertion_id}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement><saml:Attribute Name="email"><saml:AttributeValue>{email}</saml:AttributeValue></saml:Attribute><saml:Attribute Name="uid"><saml:AttributeValue>{email}</saml:AttributeValue></saml:Attribute><saml:Attribute Name="role"><saml:AttributeValue>{role}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion>"""
    if sign:
        assertion = OneLogin_Saml2_Utils.add_sign(assertion, key, cert)
        if isinstance(assertion, bytes):
            assertion = assertion.decode()
        assertion = assertion.split("?>", 1)[-1] if assertion.startswith("<?xml") else assertion
    response = f"""<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r{uuid.uuid4().hex}" Version="2.0" IssueInstant="{issued}" Destination="{acs}" InResponseTo="{request_id}"><saml:Issuer>{IDP_ENTITY}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>{assertion}</samlp:Response>"""
    return base64.b64encode(response.encode()).decode()


def _saml_login(client, conn, *, key, cert, email, role, sign=True):
    import base64
    import re
    import zlib

    client.defaults["HTTP_HOST"] = HOST  # python3-saml reads the host header and wants a dotted name
    start = client.post(sso.login_url(conn))
    assert start.status_code == 302, start.content[:300]
    location = urlparse(start["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{IDP_ENTITY}/sso"
    saml_request = zlib.decompress(base64.b64decode(parse_qs(location.query)["SAMLRequest"][0]), -15).decode()
    request_id = re.search(r'ID="([^"]+)"', saml_request).group(1)
    acs = f"http://{HOST}" + reverse("saml_acs", args=[conn.provider_id])
    audience = f"http://{HOST}" + reverse("saml_metadata", args=[conn.provider_id])
    body = _saml_response(key=key, cert=cert, request_id=request_id, acs=acs, audience=audience, email=email,
                          role=role, sign=sign)
    return client.post(reverse("saml_acs", args=[conn.provider_id]), {"SAMLResponse": body}, follow=True)


def test_saml_signed_response_creates_the_mapped_membership_in_this_tenant_only(client, tenant_a, tenant_b, idp_keys):
    key, cert = idp_keys
    conn = _saml_connection(tenant_b, cert)
    _saml_connection(tenant_a, cert)  # same IdP and domain configured by another tenant: no membership there
    response = _saml_login(client, conn, key=key, cert=cert, email="taro@globex-corp.example", role="manager")
    assert response.redirect_chain[-1][0] == "/t/globex/manage/", response.content[:800]
    with scopes_disabled():
        memberships = list(Membership.objects.filter(user__email="taro@globex-corp.example")
                           .values_list("tenant__slug", "role"))
    assert memberships == [("globex", "channel_manager")]


def test_saml_unsigned_or_wrongly_signed_response_is_refused(client, tenant_b, idp_keys):
    key, cert = idp_keys
    conn = _saml_connection(tenant_b, cert)
    _saml_login(client, conn, key=key, cert=cert, email="eve@globex-corp.example", role="admin", sign=False)
    other_key, other_cert = _test_idp_key_and_cert()
    _saml_login(client, conn, key=other_key, cert=other_cert, email="eve@globex-corp.example", role="admin")
    assert not User.objects.filter(email="eve@globex-corp.example").exists()
    assert "_auth_user_id" not in client.session


def test_saml_without_a_matching_rule_gives_no_membership(client, tenant_b, idp_keys):
    key, cert = idp_keys
    conn = _saml_connection(tenant_b, cert)
    _saml_login(client, conn, key=key, cert=cert, email="guest@globex-corp.example", role="visitor")
    with scopes_disabled():
        assert not Membership.objects.filter(user__email="guest@globex-corp.example").exists()


def test_a_member_can_link_only_their_tenants_connections(rf, tenant_a, tenant_b, manager_a):
    from partners.accounts.adapters import SocialAccountAdapter

    conn_a = _oidc_connection(tenant_a)
    _oidc_connection(tenant_b, issuer="https://idp.globex.example", client_id="globex")
    request = rf.get("/accounts/3rdparty/")
    request.user = manager_a.user
    assert [app.provider_id for app in SocialAccountAdapter().list_apps(request)] == [conn_a.provider_id]
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    assert SocialAccountAdapter().list_apps(request) == []


def test_the_same_subject_from_another_tenants_idp_is_another_identity(client, tenant_a, tenant_b):
    from allauth.socialaccount.models import SocialAccount

    conn_a = _oidc_connection(tenant_a)
    conn_b = _oidc_connection(tenant_b, issuer="https://idp.globex.example", client_id="globex")
    claims = {"sub": "same-sub", "email": "hanako@acme-corp.example", "email_verified": True}
    _oidc_login(client, conn_a, StubOidcProvider(claims=claims))
    hanako = User.objects.get(email="hanako@acme-corp.example")
    assert SocialAccount.objects.get(user=hanako).provider == conn_a.provider_id
    client.logout()
    _oidc_login(client, conn_b, StubOidcProvider(issuer="https://idp.globex.example", client_id="globex",
                                                 claims=claims))
    assert client.session.get("_auth_user_id") != str(hanako.pk)
    with scopes_disabled():
        assert not Membership.objects.filter(tenant=tenant_b, user=hanako).exists()


def test_client_secret_can_come_from_the_environment(tenant_a, monkeypatch):
    monkeypatch.setenv("SHIEN_SSO_ACME", "from-env")
    conn = _oidc_connection(tenant_a, client_secret="", client_secret_env="SHIEN_SSO_ACME")
    assert conn.client_secret_encrypted == "" and sso.connection_app(conn).secret == "from-env"


@pytest.mark.parametrize("name", ["SECRET_KEY", "DATABASE_URL", "EMAIL_HOST_PASSWORD", "SHIEN_SSO_x;"])
def test_a_tenant_admin_cannot_send_server_secrets_to_their_idp(tenant_a, name):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        _oidc_connection(tenant_a, client_secret="", client_secret_env=name)
