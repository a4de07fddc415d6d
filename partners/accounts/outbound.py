"""Requests the server makes to an identity provider's URLs (OIDC discovery, token, userinfo and
JWKS; SAML metadata), which a tenant admin types in: each is resolved first and refused when any
address of the host is private, loopback, link-local, shared, multicast, reserved or unspecified —
so an IdP URL cannot be used to reach the server's own network (metadata services, databases,
admin ports). Redirects are checked hop by hop. ``SSO_ALLOW_PRIVATE_ADDRESSES`` (development and
tests only) lifts the check.

What remains: the address is resolved again when the connection is made, so a DNS answer that
changes between the check and the connection (rebinding) is not covered; an egress proxy or
firewall is the wall for that.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.utils.translation import gettext as _
from requests.adapters import HTTPAdapter

TIMEOUT = 10
MAX_METADATA_BYTES = 1024 * 1024


class RefusedUrl(ValueError):
    """The URL may not be fetched (the message says why, for a form error)."""


def _unsafe(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (not ip.is_global or ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
            or ip.is_reserved or ip.is_unspecified)


def check_url(url: str, *, allow_unresolved: bool = False) -> None:
    """Raise ``RefusedUrl`` unless ``url`` is http(s) and every address its host resolves to is public.
    ``allow_unresolved``: a host that does not resolve (yet) passes — for saving a setting, where the
    fetch itself is checked again."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedUrl(_("Use an http:// or https:// address."))
    if getattr(settings, "SSO_ALLOW_PRIVATE_ADDRESSES", False):
        return
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError, UnicodeError) as exc:
        if allow_unresolved and not isinstance(exc, ValueError):
            return
        raise RefusedUrl(_("The host %(host)s could not be resolved.") % {"host": parts.hostname}) from exc
    if not infos or any(_unsafe(info[4][0]) for info in infos):
        raise RefusedUrl(_(
            "%(host)s points to a private, loopback, link-local or reserved address; the server does not "
            "fetch such addresses."
        ) % {"host": parts.hostname})


class GuardedAdapter(HTTPAdapter):
    """Checks every request (each redirect hop too) before it is sent."""

    def send(self, request, *args, **kwargs):
        try:
            check_url(request.url)
        except RefusedUrl as exc:
            raise requests.exceptions.InvalidURL(str(exc)) from exc
        return super().send(request, *args, **kwargs)


def guard(session: requests.Session) -> requests.Session:
    adapter = GuardedAdapter()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.max_redirects = 5
    return session


def fetch_text(url: str, *, max_bytes: int = MAX_METADATA_BYTES) -> str:
    """GET ``url`` through the guard; ``RefusedUrl`` when it is refused or fails."""
    check_url(url)
    try:
        with guard(requests.Session()) as session:
            response = session.get(url, timeout=TIMEOUT, stream=True)
            response.raise_for_status()
            body = response.raw.read(max_bytes + 1, decode_content=True)
    except requests.exceptions.InvalidURL as exc:
        raise RefusedUrl(str(exc)) from exc
    except requests.RequestException as exc:
        raise RefusedUrl(_("The address could not be fetched (%(error)s).") % {"error": type(exc).__name__}) from exc
    if len(body) > max_bytes:
        raise RefusedUrl(_("The document is larger than 1 MB."))
    return body.decode(response.encoding or "utf-8", errors="replace")
