"""Scope checks for API keys: ``read`` for safe methods, ``events:write`` for writes."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import SAFE_METHODS, BasePermission

from partners.models import ApiKey, ApiKeyScope


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
            else getattr(view, "write_scope", ApiKeyScope.EVENTS_WRITE)
        )
        return needed in (key.scopes or [])
