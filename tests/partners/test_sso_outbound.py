"""What the server fetches for SSO: never a private, loopback, link-local or reserved address (resolved
first, each redirect hop too), with a form error in the manage area; SAML IdP metadata given as XML
(pasted or uploaded) or fetched once when saved, validated."""

from __future__ import annotations

import socket
from unittest import mock

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django_scopes import scope

from partners.accounts import outbound, sso
from partners.accounts.adapters import SocialAccountAdapter
from partners.models import SsoConnection
from tests.partners.test_sso import IDP_ENTITY, _test_idp_key_and_cert

pytestmark = pytest.mark.django_db

PUBLIC = "93.184.215.14"


def resolving(mapping: dict[str, list[str]]):
    """Patch DNS: host → addresses (unknown hosts do not resolve)."""

    def fake(host, port, *args, **kwargs):
        if host not in mapping:
            raise socket.gaierror(f"unknown host {host}")
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in mapping[host]]

    return mock.patch.object(socket, "getaddrinfo", side_effect=fake)


class _Raw:
    """The body of a stubbed response (no socket)."""

    def __init__(self, body: bytes):
        self.body = body

    def read(self, *args, **kwargs):
        body, self.body = self.body, b""
        return body

    def close(self):
        pass


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.9", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
    "240.0.0.1", "224.0.0.1", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1",
])
def test_private_loopback_link_local_and_reserved_addresses_are_refused(address):
    with resolving({"idp.example.com": [address]}), pytest.raises(outbound.RefusedUrl):
        outbound.check_url("https://idp.example.com/.well-known/openid-configuration")


def test_a_public_address_passes_and_one_private_answer_among_public_ones_is_refused(settings):
    with resolving({"idp.example.com": [PUBLIC]}):
        outbound.check_url("https://idp.example.com/")
    with resolving({"idp.example.com": [PUBLIC, "10.0.0.5"]}), pytest.raises(outbound.RefusedUrl):
        outbound.check_url("https://idp.example.com/")
    with resolving({}), pytest.raises(outbound.RefusedUrl):
        outbound.check_url("https://nowhere.example.com/")  # a fetch needs a resolvable host
    with pytest.raises(outbound.RefusedUrl):
        outbound.check_url("file:///etc/passwd")
    settings.SSO_ALLOW_PRIVATE_ADDRESSES = True  # development and tests: a local IdP
    with resolving({"localhost": ["127.0.0.1"]}):
        outbound.check_url("http://localhost:8080/realms/dev")


def test_allauths_requests_to_an_idp_go_through_the_guard():
    """The session allauth uses for OIDC discovery, token, userinfo and JWKS refuses a private
    address before anything is sent, and a redirect from a public host to a private one."""
    session = SocialAccountAdapter().get_requests_session()
    with resolving({"idp.example.com": ["10.0.0.7"]}), \
            mock.patch.object(requests.adapters.HTTPAdapter, "send") as sent, \
            pytest.raises(requests.exceptions.InvalidURL):
        session.get("https://idp.example.com/.well-known/openid-configuration")
    assert not sent.called

    def redirect_to_metadata_service(self, request, *args, **kwargs):
        response = requests.Response()
        response.status_code, response.url, response.request = 302, request.url, request
        response.headers["Location"] = "http://169.254.169.254/latest/meta-data/"
        response.raw = _Raw(b"")
        return response

    with resolving({"idp.example.com": [PUBLIC]}), \
            mock.patch.object(requests.adapters.HTTPAdapter, "send", autospec=True,
                              side_effect=redirect_to_metadata_service) as sent, \
            pytest.raises(requests.exceptions.InvalidURL):
        session.get("https://idp.example.com/.well-known/openid-configuration")
    assert [c.args[1].url for c in sent.call_args_list] == ["https://idp.example.com/.well-known/openid-configuration"]


def _post(client, protocol, fields, files=None):
    data = {"action": protocol, f"{protocol}-name": "IdP", f"{protocol}-is_active": "on",
            f"{protocol}-email_domains": "acme-corp.example", f"{protocol}-jit_enabled": "on",
            f"{protocol}-default_role": "channel_manager", f"{protocol}-role_mapping": "[]",
            **{f"{protocol}-{k}": v for k, v in fields.items()}, **(files or {})}
    return client.post(reverse("manage-security", kwargs={"tenant_slug": "acme"}), data)


def _form(response, protocol):
    return next(c["form"] for c in response.context["connections"] if c["protocol"] == protocol)


def test_the_manage_area_answers_a_form_error_for_a_private_idp_address(client, login, admin_a, tenant_a):
    login(admin_a)
    response = _post(client, "oidc", {"issuer": "https://127.0.0.1:8443/realm", "client_id": "cid"})
    assert response.status_code == 200 and "issuer" in _form(response, "oidc").errors
    with resolving({"idp.internal.example": ["192.168.10.4"]}):
        response = _post(client, "oidc", {"issuer": "https://idp.internal.example/", "client_id": "cid"})
        assert "issuer" in _form(response, "oidc").errors
        assert "192.168" not in str(_form(response, "oidc").errors)  # names the host, not what it resolves to
        response = _post(client, "saml", {"idp_entity_id": IDP_ENTITY,
                                          "idp_metadata_url": "https://idp.internal.example/metadata"})
        assert "idp_metadata_url" in _form(response, "saml").errors
    with scope(tenant=tenant_a.pk):
        assert not SsoConnection.objects.filter(tenant=tenant_a).exists()


def _metadata(cert_pem: str, entity: str = IDP_ENTITY) -> str:
    body = "".join(cert_pem.strip().splitlines()[1:-1])
    return f"""<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{body}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{entity}/sso/redirect"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"""


@pytest.fixture(scope="module")
def cert():
    return _test_idp_key_and_cert()[1]


def test_saml_metadata_pasted_or_uploaded_is_validated_and_used(client, login, admin_a, tenant_a, cert):
    login(admin_a)
    for bad in ("not xml at all", "<root/>",
                '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
                _metadata(cert).replace("HTTP-Redirect", "HTTP-Artifact")):
        response = _post(client, "saml", {"idp_metadata_xml": bad})
        assert response.status_code == 200 and "idp_metadata_xml" in _form(response, "saml").errors, bad
    response = _post(client, "saml", {"idp_entity_id": "https://other-idp.example/",
                                      "idp_metadata_xml": _metadata(cert)})
    assert "idp_metadata_xml" in _form(response, "saml").errors  # metadata of another entity
    upload = SimpleUploadedFile("idp.xml", _metadata(cert).encode(), content_type="application/xml")
    response = _post(client, "saml", {}, files={"saml-idp_metadata_file": upload})
    assert response.status_code == 302, _form(response, "saml").errors
    with scope(tenant=tenant_a.pk):
        conn = SsoConnection.objects.get(tenant=tenant_a, protocol="saml")
    assert conn.idp_entity_id == IDP_ENTITY  # taken from the metadata
    idp = sso.connection_app(conn).settings["idp"]
    assert idp["sso_url"] == f"{IDP_ENTITY}/sso/redirect" and "metadata_url" not in idp
    assert "".join(cert.strip().splitlines()[1:-1]) in idp["x509cert"]


def test_a_saml_metadata_url_is_fetched_once_through_the_guard_and_kept(client, login, admin_a, tenant_a, cert):
    login(admin_a)
    xml = _metadata(cert).encode()

    def serve(self, request, *args, **kwargs):
        response = requests.Response()
        response.status_code, response.url, response.request = 200, request.url, request
        response.raw = _Raw(xml)
        return response

    with resolving({"login.idp.example.com": [PUBLIC]}), \
            mock.patch.object(requests.adapters.HTTPAdapter, "send", autospec=True, side_effect=serve) as sent:
        response = _post(client, "saml", {"idp_metadata_url": "https://login.idp.example.com/metadata.xml"})
    assert response.status_code == 302, _form(response, "saml").errors
    assert sent.call_count == 1
    with scope(tenant=tenant_a.pk):
        conn = SsoConnection.objects.get(tenant=tenant_a, protocol="saml")
    assert conn.idp_metadata_xml == xml.decode()
    with mock.patch.object(requests.adapters.HTTPAdapter, "send") as later:
        assert sso.connection_app(conn).settings["idp"]["sso_url"] == f"{IDP_ENTITY}/sso/redirect"
    assert not later.called  # signing in reads the stored copy
