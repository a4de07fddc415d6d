from django_scopes import scopes_disabled


def tenancy(request):
    membership = getattr(request, "membership", None)
    user = getattr(request, "user", None)

    def tenant_count() -> int:
        # How many tenants the user can switch between (cross-tenant by nature).
        if not (user and user.is_authenticated):
            return 0
        with scopes_disabled():
            return user.memberships.filter(is_active=True, tenant__is_active=True).count()

    return {
        "tenant": getattr(request, "tenant", None),
        "membership": membership,
        "is_manager": bool(membership and membership.is_manager),
        "tenant_count": tenant_count,
    }
