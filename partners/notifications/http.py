"""Outgoing HTTP for webhooks, through requests-hardened: the host is resolved once, its address must be
public (no private, loopback, link-local, multicast or reserved range) and is pinned for the connection,
so neither a URL nor a DNS answer that changes between check and connect reaches this network.
Redirects are never followed (a 3xx is a failed delivery)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from requests_hardened import Config, Manager
from requests_hardened.ip_filter import InvalidIPAddress, get_ip_address

CONNECT_TIMEOUT = 3
READ_TIMEOUT = 10


def webhook_http() -> Manager:
    return Manager(Config(
        ip_filter_enable=True,
        ip_filter_allow_loopback_ips=settings.WEBHOOK_ALLOW_LOOPBACK,
        never_redirect=True,
        default_timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
    ))


def validate_webhook_url(url: str) -> None:
    """Refuse at once what the delivery would refuse for certain: a URL naming an address (or
    ``localhost``) outside the public internet. A host name is resolved only when delivering (and
    checked then), so a name pointing inward fails there, recorded on the delivery."""
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".").lower()
    if parts.scheme not in ("http", "https") or not host:
        raise ValidationError(_("Enter an http:// or https:// address."), code="scheme")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host != "localhost" and not host.endswith(".localhost"):
            return
    try:
        get_ip_address(host, parts.port or (443 if parts.scheme == "https" else 80),
                       allow_loopback=settings.WEBHOOK_ALLOW_LOOPBACK)
    except (InvalidIPAddress, OSError) as exc:
        raise ValidationError(
            _("Webhooks are sent only to public internet addresses; %(host)s is not one."),
            code="private_address", params={"host": host},
        ) from exc
