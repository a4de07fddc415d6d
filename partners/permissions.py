"""Role checks for tenant pages. The middleware has already answered 404 to non-members."""

from __future__ import annotations

import functools

from django.core.exceptions import PermissionDenied
from django.http import Http404

from partners.models import MANAGER_ROLES, Role


def _require(roles: frozenset[str]):
    def decorator(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            membership = getattr(request, "membership", None)
            if membership is None:  # not a tenant URL, or not a member: never reveal more
                raise Http404
            if membership.role not in roles:
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


manager_required = _require(MANAGER_ROLES)
admin_required = _require(frozenset({Role.TENANT_ADMIN}))
partner_user_required = _require(frozenset({Role.PARTNER_USER}))
