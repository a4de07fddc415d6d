"""Scope checks for API keys.

Scopes: ``read`` (every GET), ``events:write`` (activity events and xAPI statements only),
``partners:write`` (create and update partners), ``deals:write`` (register deals and update their
data; a new deal enters as ``registered``), ``deals:approve`` (move a deal along
registered → approved → won / lost, or rejected). A view names its scopes with ``read_scope`` and
``write_scope``; the deal API additionally asks for ``deals:approve`` when a write changes a stage.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import SAFE_METHODS, BasePermission

from partners.models import ApiKey, ApiKeyScope


def key_has_scope(key, scope: str) -> bool:
    return isinstance(key, ApiKey) and scope in (key.scopes or [])


class HasKeyScope(BasePermission):
    """The view names the scope per method: ``read_scope`` (GET/HEAD/OPTIONS) and ``write_scope``."""

    message = _("This API key does not have the scope this request needs.")

    def has_permission(self, request, view) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return False
        needed = (
            getattr(view, "read_scope", ApiKeyScope.READ)
            if request.method in SAFE_METHODS
            else getattr(view, "write_scope", None)
        )
        return needed is not None and key_has_scope(key, needed)
