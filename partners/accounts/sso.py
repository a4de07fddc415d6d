"""Per-tenant SSO on allauth's OpenID Connect and SAML providers.

Each ``SsoConnection`` becomes an allauth ``SocialApp`` built on the fly (nothing in allauth's own
tables), whose provider id names the tenant: a person vouched for by one tenant's IdP is only ever
given a membership in that tenant, and only for the e-mail domains the connection lists.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django_scopes import scope, scopes_disabled

from partners.accounts import outbound
from partners.audit import audit_record, summary
from partners.models import Membership, Partner, Role, SsoConnection, SsoProtocol, Tenant, User

# --- The client secret, encrypted at rest ---


def _fernet() -> Fernet:
    key = settings.SSO_SECRET_KEY
    if not key:  # derived from SECRET_KEY when no dedicated key is configured
        key = base64.urlsafe_b64encode(hashlib.sha256(f"shien-sso:{settings.SECRET_KEY}".encode()).digest())
    return Fernet(key)


def secret_encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode() if secret else ""


def secret_decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        return ""


# A tenant admin may name only variables the operator provisioned for SSO, never e.g. SECRET_KEY
# (the value is sent to the admin's own IdP).
SECRET_ENV_PATTERN = re.compile(r"^SHIEN_SSO_[A-Z0-9_]{1,60}$")


def connection_secret(conn: SsoConnection) -> str:
    if conn.client_secret_env:
        if not SECRET_ENV_PATTERN.match(conn.client_secret_env):
            return ""
        return os.environ.get(conn.client_secret_env, "")
    return secret_decrypt(conn.client_secret_encrypted)


# --- allauth apps ---


def connection_app(conn: SsoConnection):
    """The (unsaved) allauth SocialApp for a connection."""
    from allauth.socialaccount.models import SocialApp

    common = {"sso_connection_id": conn.pk, "verified_email": conn.domains}
    if conn.protocol == SsoProtocol.OIDC:
        return SocialApp(
            provider="openid_connect", provider_id=conn.provider_id, name=conn.name,
            client_id=conn.client_id, secret=connection_secret(conn),
            settings={**common, "server_url": conn.issuer, "oauth_pkce_enabled": True},
        )
    idp = {"entity_id": conn.idp_entity_id, "sso_url": conn.idp_sso_url, "x509cert": conn.idp_x509cert}
    if conn.idp_metadata_xml:  # stored when saved (pasted, uploaded or fetched): sign-in fetches nothing
        # validated when saved; a connection that no longer parses simply fails to sign in
        with contextlib.suppress(ValidationError):
            idp.update(saml_metadata_parse(conn.idp_metadata_xml, entity_id=conn.idp_entity_id))
    return SocialApp(
        provider="saml", provider_id=conn.provider_id, name=conn.name, client_id=conn.provider_id,
        settings={
            **common,
            "idp": idp,
            "attribute_mapping": {
                "uid": ["urn:oasis:names:tc:SAML:attribute:subject-id", "uid"],
                "email": ["urn:oid:0.9.2342.19200300.100.1.3", "email", "mail",
                          "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"],
                "first_name": ["urn:oid:2.5.4.42", "givenName"],
                "last_name": ["urn:oid:2.5.4.4", "sn"],
            },
            "advanced": {
                "want_assertion_signed": True, "want_attribute_statement": False, "strict": True,
                "allow_single_label_domains": settings.DEBUG,  # http://localhost in development
            },
        },
    )


def active_connections(*, provider: str | None = None, client_id: str | None = None) -> list[SsoConnection]:
    """Active connections (cross-tenant by nature: the login page comes before any tenant)."""
    with scopes_disabled():
        qs = SsoConnection.objects.filter(is_active=True, tenant__is_active=True).select_related("tenant")
        conns = list(qs)
    wanted = provider or client_id
    if wanted in ("openid_connect", "saml"):
        return [c for c in conns if (c.protocol == SsoProtocol.OIDC) == (wanted == "openid_connect")
                and (client_id is None or c.provider_id == client_id or c.client_id == client_id)]
    if wanted:
        return [c for c in conns if c.provider_id == wanted]
    return conns


def connection_for_app(app) -> SsoConnection | None:
    conn_id = (getattr(app, "settings", None) or {}).get("sso_connection_id")
    if not conn_id:
        return None
    with scopes_disabled():
        return SsoConnection.objects.select_related("tenant").filter(pk=conn_id, is_active=True).first()


def connections_for_email(email: str) -> list[SsoConnection]:
    domain = email.rpartition("@")[2].strip().lower()
    return [c for c in active_connections() if domain and domain in c.domains]


def connections_for_member(user: User) -> list[SsoConnection]:
    with scopes_disabled():
        tenant_ids = set(Membership.objects.filter(user=user, is_active=True).values_list("tenant_id", flat=True))
    return [c for c in active_connections() if c.tenant_id in tenant_ids]


def login_url(conn: SsoConnection) -> str:
    from django.urls import reverse

    if conn.protocol == SsoProtocol.OIDC:
        return reverse("openid_connect_login", kwargs={"provider_id": conn.provider_id})
    return reverse("saml_login", kwargs={"organization_slug": conn.provider_id})


# --- Who gets in, as what ---


def email_allowed(conn: SsoConnection, email: str) -> bool:
    return bool(email) and email.rpartition("@")[2].lower() in conn.domains


def _attribute_values(data: dict, name: str) -> list[str]:
    """An attribute's values: SAML attributes (lists), or OpenID Connect claims (userinfo, id token)."""
    data = data or {}
    value = data.get(name)
    if value is None:
        for part in ("userinfo", "id_token"):
            if isinstance(data.get(part), dict) and data[part].get(name) is not None:
                value = data[part][name]
                break
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def resolve_role(conn: SsoConnection, *, email: str, attributes: dict) -> tuple[str, int | None] | None:
    """``(role, partner_id)`` from the first matching rule, else the default; None: no membership."""
    domain = email.rpartition("@")[2].lower()
    for rule in conn.role_mapping or []:
        if not isinstance(rule, dict) or rule.get("role") not in Role.values:
            continue
        if "domain" in rule and str(rule["domain"]).lower().lstrip("@") != domain:
            continue
        if "attribute" in rule and str(rule.get("value", "")) not in _attribute_values(attributes, rule["attribute"]):
            continue
        if "domain" not in rule and "attribute" not in rule:
            continue
        return rule["role"], rule.get("partner")
    if conn.default_role:
        return conn.default_role, conn.default_partner_id
    return None


@transaction.atomic
def sso_membership_grant(*, conn: SsoConnection, user: User, attributes: dict) -> Membership | None:
    """Just-in-time membership in the connection's tenant (and only there). An existing membership,
    active or suspended, is left as the tenant admin set it."""
    tenant = conn.tenant
    with scope(tenant=tenant.pk):
        existing = Membership.objects.filter(tenant=tenant, user=user).first()
        if existing is not None or not conn.jit_enabled:
            return existing
        resolved = resolve_role(conn, email=user.email, attributes=attributes)
        if resolved is None:
            return None
        role, partner_id = resolved
        partner = None
        if role == Role.PARTNER_USER:
            partner = Partner.objects.filter(tenant=tenant, pk=partner_id).first() if partner_id else None
            if partner is None:
                return None
        return Membership.objects.create(tenant=tenant, user=user, role=role, partner=partner)


# --- Configuration (manage area) ---


def saml_metadata_parse(xml: str, *, entity_id: str = "") -> dict:
    """The IdP's entity id, sign-on URL (HTTP-Redirect binding) and signing certificate from its
    metadata XML (parsed without DTDs or external entities); ``ValidationError`` when it lacks them
    or describes another entity than ``entity_id``."""
    from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

    if len(xml.encode()) > outbound.MAX_METADATA_BYTES:
        raise ValidationError(_("The metadata is larger than 1 MB."))
    try:
        data = OneLogin_Saml2_IdPMetadataParser.parse(xml.encode(), entity_id=entity_id or None)
    except Exception as exc:  # noqa: BLE001 - lxml, DTD and structure errors all mean "not usable metadata"
        raise ValidationError(_("This is not SAML IdP metadata XML.")) from exc
    idp = data.get("idp") or {}
    sso_url = (idp.get("singleSignOnService") or {}).get("url", "")
    cert = idp.get("x509cert") or next(iter((idp.get("x509certMulti") or {}).get("signing") or []), "")
    if not idp.get("entityId"):
        raise ValidationError(
            _("The metadata names no IdP with the entity id %(id)s.") % {"id": entity_id} if entity_id
            else _("The metadata names no identity provider (IDPSSODescriptor).")
        )
    if not sso_url or not cert:
        raise ValidationError(_("The metadata lacks a sign-on URL (HTTP-Redirect) or a signing certificate."))
    return {"entity_id": idp["entityId"], "sso_url": sso_url, "x509cert": cert}


CONNECTION_FIELDS = (
    "name", "is_active", "issuer", "client_id", "client_secret_env", "idp_entity_id", "idp_sso_url",
    "idp_x509cert", "idp_metadata_url", "idp_metadata_xml", "email_domains", "jit_enabled", "default_role", "default_partner",
    "role_mapping",
)


@transaction.atomic
def sso_connection_save(
    *, tenant: Tenant, actor: User | None, protocol: str, client_secret: str = "", **fields
) -> SsoConnection:
    """Create or update the tenant's connection for ``protocol``. An empty ``client_secret`` keeps the
    stored one; the secret is stored encrypted."""
    if protocol not in SsoProtocol.values:
        raise ValidationError({"protocol": "Unknown protocol."})
    unknown = set(fields) - set(CONNECTION_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}")
    conn = SsoConnection.objects.filter(tenant=tenant, protocol=protocol).first() or SsoConnection(
        tenant=tenant, protocol=protocol
    )
    for name, value in fields.items():
        setattr(conn, name, value.strip() if isinstance(value, str) else value)
    if client_secret:
        conn.client_secret_encrypted = secret_encrypt(client_secret.strip())
    if conn.client_secret_env and not SECRET_ENV_PATTERN.match(conn.client_secret_env):
        raise ValidationError({"client_secret_env": "Use a variable named SHIEN_SSO_… (set up by the operator)."})
    if conn.default_partner_id and conn.default_partner.tenant_id != tenant.pk:
        raise ValidationError({"default_partner": "Unknown partner."})
    if conn.default_role == Role.PARTNER_USER and not conn.default_partner_id:
        raise ValidationError({"default_partner": "Partner users need a partner."})
    if not conn.domains:
        raise ValidationError({"email_domains": "List at least one e-mail domain."})
    for rule in conn.role_mapping or []:
        if not isinstance(rule, dict) or rule.get("role") not in Role.values:
            raise ValidationError({"role_mapping": "Each rule needs a known role."})
        if rule.get("partner") and not Partner.objects.filter(tenant=tenant, pk=rule["partner"]).exists():
            raise ValidationError({"role_mapping": "A rule names an unknown partner."})
    for field in ("issuer", "idp_metadata_url", "idp_sso_url"):
        if getattr(conn, field) and not getattr(conn, field).startswith("https://") and not settings.DEBUG:
            raise ValidationError({field: "Use an https:// address."})
    for field in ("issuer", "idp_metadata_url"):  # addresses the server itself fetches
        if getattr(conn, field):
            try:
                outbound.check_url(getattr(conn, field), allow_unresolved=True)
            except outbound.RefusedUrl as exc:
                raise ValidationError({field: str(exc)}) from exc
    if protocol == SsoProtocol.SAML and conn.idp_metadata_url:
        try:  # fetched now, through the address guard, and kept: sign-in reads the stored copy
            conn.idp_metadata_xml = outbound.fetch_text(conn.idp_metadata_url)
        except outbound.RefusedUrl as exc:
            raise ValidationError({"idp_metadata_url": str(exc)}) from exc
    if protocol == SsoProtocol.SAML and conn.idp_metadata_xml:
        try:
            idp = saml_metadata_parse(conn.idp_metadata_xml, entity_id=conn.idp_entity_id)
        except ValidationError as exc:
            field = "idp_metadata_url" if conn.idp_metadata_url else "idp_metadata_xml"
            raise ValidationError({field: exc.messages}) from exc
        conn.idp_entity_id = conn.idp_entity_id or idp["entity_id"]
    if protocol == SsoProtocol.OIDC and not (conn.issuer and conn.client_id):
        raise ValidationError({"issuer": "OpenID Connect needs the issuer and the client id."})
    if protocol == SsoProtocol.SAML and not conn.idp_entity_id:
        raise ValidationError({"idp_entity_id": "SAML needs the IdP entity id."})
    if protocol == SsoProtocol.SAML and not conn.idp_metadata_xml and not (conn.idp_sso_url and conn.idp_x509cert):
        raise ValidationError({"idp_sso_url": _(
            "Give the metadata (URL or XML), or the sign-on URL and the certificate.")})
    created = conn.pk is None
    conn.save()
    audit_record(tenant=tenant, actor=actor, action="sso.created" if created else "sso.changed", target=conn,
                 after={**summary(conn, [f for f in fields if f not in ("role_mapping", "idp_metadata_xml")]),
                        **({"idp_metadata_xml": f"{len(conn.idp_metadata_xml)} characters"}
                           if "idp_metadata_xml" in fields or conn.idp_metadata_url else {}),
                        **({"client_secret": "replaced"} if client_secret else {})})
    return conn
