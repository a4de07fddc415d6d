"""Reads for the partners app. Functions take the tenant (and acting user) and return QuerySets."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django_scopes import scopes_disabled

from partners.models import AuditEvent, Invitation, Membership, Partner, PartnerTier, Tenant, User
from partners.reading import partner_ordering


def user_memberships(*, user: User) -> list[Membership]:
    """A user's active memberships across tenants (for the tenant picker).

    Cross-tenant by nature: the user is choosing a tenant, so no scope can be open yet.
    """
    with scopes_disabled():
        return list(
            Membership.objects.filter(user=user, is_active=True, tenant__is_active=True)
            .select_related("tenant", "partner")
            .order_by("tenant__name")
        )


def partner_list(*, tenant: Tenant) -> QuerySet[Partner]:
    return Partner.objects.filter(tenant=tenant).select_related("tier", "manager").order_by(*partner_ordering())


def tier_list(*, tenant: Tenant) -> QuerySet[PartnerTier]:
    return PartnerTier.objects.filter(tenant=tenant).order_by("rank", "name")


def channel_managers(*, tenant: Tenant) -> QuerySet[User]:
    return User.objects.filter(
        memberships__tenant=tenant, memberships__role__in=["channel_manager", "tenant_admin"], memberships__is_active=True
    ).order_by("name", "email")


def invitation_by_key(key: str):
    """The invitation a link key names (cross-tenant: the link comes before any tenant), or None."""
    from partners.services import invitation_key_unsign, invitation_token_hash

    raw = invitation_key_unsign(key)
    if not raw:
        return None
    with scopes_disabled():
        return (
            Invitation.objects.select_related("tenant", "partner")
            .filter(token_hash=invitation_token_hash(raw), tenant__is_active=True)
            .first()
        )


def invitation_list(*, tenant: Tenant):

    return (
        Invitation.objects.filter(tenant=tenant, accepted_at__isnull=True, revoked_at__isnull=True)
        .select_related("partner", "invited_by")
        .order_by("-created_at")
    )


def member_list(*, tenant: Tenant, q: str = "", role: str = "") -> QuerySet[Membership]:
    qs = Membership.objects.filter(tenant=tenant).select_related("user", "partner").order_by("role", "user__email")
    if q:
        qs = qs.filter(Q(user__email__icontains=q) | Q(user__name__icontains=q) | Q(partner__name__icontains=q))
    if role:
        qs = qs.filter(role=role)
    return qs


def audit_event_list(*, tenant: Tenant, q: str = "", action: str = "", actor: str = "",
                     since=None, until=None) -> QuerySet[AuditEvent]:
    """The tenant's audit trail, newest first, filtered by action prefix, actor, text and dates."""
    qs = AuditEvent.objects.filter(tenant=tenant).order_by("-created_at", "-id")
    if action:
        qs = qs.filter(action__startswith=action)
    if actor:
        qs = qs.filter(actor_label__icontains=actor)
    if q:
        qs = qs.filter(Q(target_label__icontains=q) | Q(action__icontains=q) | Q(target_id=q))
    if since:
        qs = qs.filter(created_at__date__gte=since)
    if until:
        qs = qs.filter(created_at__date__lte=until)
    return qs
