"""API key authentication: ``Authorization: Api-Key shien_<prefix>_<secret>`` (and HTTP Basic for xAPI).

The key is looked up by its public prefix (a cross-tenant lookup, visibly without scope), then
its sha256 is compared in constant time. Revoked, unknown or malformed keys, and keys of an
inactive tenant, all get the same 401.
"""

from __future__ import annotations

import base64
import binascii

from django.utils.translation import gettext_lazy as _
from django_scopes import scopes_disabled
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from partners.models import ApiKey
from partners.services import API_KEY_PREFIX, api_key_matches, api_key_split, api_key_touch

INVALID = _("Invalid or revoked API key.")


class ApiKeyPrincipal:
    """``request.user`` of an API request: the key acts, not a person."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, key: ApiKey):
        self.key = key

    def __str__(self) -> str:
        return f"api-key:{self.key.prefix}"


def resolve_key(raw: str) -> ApiKey:
    parts = api_key_split(raw)
    if parts is None:
        raise exceptions.AuthenticationFailed(INVALID)
    prefix, raw = parts
    with scopes_disabled():  # authentication precedes the tenant scope: look up by the public prefix
        key = ApiKey.objects.select_related("tenant").filter(prefix=prefix).first()
    if key is None or key.revoked_at is not None or not key.tenant.is_active or not api_key_matches(key, raw):
        raise exceptions.AuthenticationFailed(INVALID)
    with scopes_disabled():
        api_key_touch(key=key)
    return key


class ApiKeyAuthentication(BaseAuthentication):
    keyword = "Api-Key"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _sep, value = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        key = resolve_key(value.strip())
        return ApiKeyPrincipal(key), key

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'


class ApiKeyBasicAuthentication(BaseAuthentication):
    """HTTP Basic as LRS clients send it: user = key id (the prefix), password = the secret.

    The password may also be the whole key; the user may also be ``shien_<prefix>``.
    """

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _sep, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise exceptions.AuthenticationFailed(INVALID) from exc
        user, _sep, password = decoded.partition(":")
        if password.startswith(f"{API_KEY_PREFIX}_"):
            raw = password
        else:
            prefix = user.removeprefix(f"{API_KEY_PREFIX}_")
            raw = f"{API_KEY_PREFIX}_{prefix}_{password}"
        key = resolve_key(raw)
        return ApiKeyPrincipal(key), key

    def authenticate_header(self, request) -> str:
        return 'Basic realm="xapi"'


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "partners.api.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key shien_<prefix>_<secret>` — create keys in Manage → API keys "
            "or with `manage.py create_api_key --tenant SLUG --name NAME`.",
        }


class ApiKeyBasicScheme(OpenApiAuthenticationExtension):
    target_class = "partners.api.authentication.ApiKeyBasicAuthentication"
    name = "LrsBasicAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "basic", "description": "xAPI clients: user = key id (prefix), password = secret."}
