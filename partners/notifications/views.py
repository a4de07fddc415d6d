"""The notification centre (portal and manage alike), preferences, and the login-free unsubscribe."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from partners.models import Tenant
from partners.notifications import selectors, services
from partners.notifications.models import NotificationKind
from partners.tenancy import scopes_disabled, tenant_scope


def _member(view):
    def wrapper(request, *args, **kwargs):
        if getattr(request, "membership", None) is None:
            raise Http404
        return view(request, *args, **kwargs)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


def _base(request) -> str:
    return "base_manage.html" if request.membership.is_manager else "base_portal.html"


@_member
@require_http_methods(["GET"])
def notification_centre(request, tenant_slug: str):
    """The list of the person's notices, newest first; ``?unread=1`` shows only unread ones.
    HTMX: the ``list`` partial."""
    unread_only = request.GET.get("unread") == "1"
    qs = selectors.notification_list(tenant=request.tenant, user=request.user, unread_only=unread_only)
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    context = {"page": page, "unread_only": unread_only, "base_template": _base(request)}
    template = "notifications/centre.html#list" if request.htmx else "notifications/centre.html"
    return render(request, template, context)


@_member
@require_http_methods(["GET"])
def notification_bell(request, tenant_slug: str):
    """The header bell (HTMX partial, polled)."""
    return render(request, "notifications/bell.html")


@_member
@require_POST
def notification_read(request, tenant_slug: str, notification_id: int | None = None):
    """Mark one notice (or all) read. A notice with a link opens it after marking it read."""
    services.notification_mark_read(tenant=request.tenant, user=request.user, notification_id=notification_id)
    target = request.POST.get("next", "")
    if notification_id is not None and target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    if request.htmx:
        qs = selectors.notification_list(tenant=request.tenant, user=request.user)
        page = Paginator(qs, 25).get_page(request.GET.get("page"))
        response = render(request, "notifications/centre.html#list", {"page": page, "unread_only": False})
        response["HX-Trigger"] = "notifications-changed"
        return response
    return redirect("notification-centre", tenant_slug=tenant_slug)


@_member
@require_http_methods(["GET", "POST"])
def notification_preferences(request, tenant_slug: str):
    """Per kind: show in the app, send by e-mail."""
    if request.method == "POST":
        choices = {
            kind: (request.POST.get(f"{kind}:in_app") == "on", request.POST.get(f"{kind}:email") == "on")
            for kind in NotificationKind.values
        }
        services.notification_preferences_set(tenant=request.tenant, user=request.user, choices=choices)
        messages.success(request, _("Your notification settings were saved."))
        return redirect("notification-preferences", tenant_slug=tenant_slug)
    rows = selectors.preference_rows(tenant=request.tenant, user=request.user)
    return render(request, "notifications/preferences.html", {"rows": rows, "base_template": _base(request)})


@csrf_exempt  # one-click unsubscribe (RFC 8058): mail clients POST without a session; the token is the proof
@require_http_methods(["GET", "POST"])
def notification_unsubscribe(request, token: str):
    """GET: a page with one button; POST (the button, or a mail client's one-click): e-mail of this
    kind is turned off for this person in this tenant. No login needed; other kinds stay as they are."""
    data = services.unsubscribe_token_read(token)
    if data is None:
        raise Http404
    tenant_id, user_id, kind = data
    with scopes_disabled():
        tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
    if tenant is None:
        raise Http404
    label = NotificationKind(kind).label
    done = False
    if request.method == "POST":
        with tenant_scope(tenant):
            services.notification_unsubscribe(tenant=tenant, user_id=user_id, kind=kind)
        done = True
    return render(request, "notifications/unsubscribe.html", {"kind_label": label, "done": done, "site_tenant": tenant})
