"""Who needs a second factor, and whether this session has passed one."""

from __future__ import annotations

from django.conf import settings
from django_scopes import scopes_disabled

from partners.models import Membership, Role

MFA_METHOD = "mfa"


def mfa_required(user, membership: Membership | None = None) -> bool:
    """Operators and tenant admins always; channel managers and partner users where their tenant says so.

    With ``membership`` the rule is that membership's; without it (``/admin/``) any tenant-admin
    membership of the person counts."""
    if not getattr(settings, "MFA_ENFORCED", True) or not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    if membership is not None:
        if membership.role == Role.TENANT_ADMIN:
            return True
        tenant = membership.tenant
        if membership.role == Role.CHANNEL_MANAGER:
            return tenant.mfa_required_channel_managers
        return tenant.mfa_required_partner_users
    with scopes_disabled():
        return Membership.objects.filter(user=user, role=Role.TENANT_ADMIN, is_active=True).exists()


def session_passed_mfa(request) -> bool:
    from allauth.account.internal.flows.login import get_authentication_records

    return any(r.get("method") == MFA_METHOD for r in get_authentication_records(request, request.user))


def user_has_mfa(user) -> bool:
    from allauth.mfa.utils import is_mfa_enabled

    return is_mfa_enabled(user)
