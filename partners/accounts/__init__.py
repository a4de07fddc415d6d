"""Accounts glue around django-allauth: adapters, the second-factor policy, per-tenant SSO."""

from __future__ import annotations


def axes_username(request, credentials: dict | None = None) -> str | None:
    """The account django-axes counts failures against: allauth authenticates with ``email=``
    (its form field is ``login``); Django's admin login still posts ``username``."""
    credentials = credentials or {}
    for key in ("email", "username", "login"):
        if credentials.get(key):
            return str(credentials[key]).strip().lower()
    data = getattr(request, "data", None) or getattr(request, "POST", {})
    for key in ("login", "username", "email"):
        if data.get(key):
            return str(data[key]).strip().lower()
    return None
