from partners.notifications.selectors import unread_count


def notifications(request):
    """``notifications_unread``: the bell's count, computed only when a template reads it."""
    tenant = getattr(request, "tenant", None)
    user = getattr(request, "user", None)

    def count() -> int:
        if tenant is None or not (user and user.is_authenticated):
            return 0
        return unread_count(tenant=tenant, user=user)

    return {"notifications_unread": count}
