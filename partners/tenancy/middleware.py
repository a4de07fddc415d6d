"""Opens the tenant scope for session users (one of the four places scopes are opened)."""

from __future__ import annotations

import zoneinfo

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpResponseRedirect
from django.urls import Resolver404, resolve
from django.utils import timezone, translation
from django_scopes import scope, scopes_disabled

from partners.models import Membership, Role, Tenant
from partners.signals import tenant_session_started

SESSION_TENANT = "shien_tenant"
SESSION_ENTERED = "shien_entered"


class TenantMiddleware:
    """Resolve ``/t/<tenant_slug>/…`` to a tenant and membership, then run the view in its scope.

    * unknown or inactive tenant, or a user without an active membership: 404 (never a hint
      that the tenant exists);
    * anonymous user: redirect to login;
    * the admin site: superusers run with scopes visibly disabled, people with an active tenant-admin
      membership inside the scope of the tenant they administer, everyone else inside an empty scope.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.tenant = None
        request.membership = None
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return self.get_response(request)
        slug = match.kwargs.get("tenant_slug")
        if slug is not None:
            return self._tenant_request(request, slug)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.language:  # account pages in the person's language
            translation.activate(user.language)
            request.LANGUAGE_CODE = user.language
        if match.app_name == "admin":
            return self._admin_request(request)
        return self.get_response(request)

    def _tenant_request(self, request, slug: str):
        tenant = Tenant.objects.filter(slug=slug, is_active=True).first()
        if tenant is None:
            raise Http404("No such tenant")
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        with scope(tenant=tenant.pk):
            membership = (
                Membership.objects.select_related("partner", "partner__tier")
                .filter(tenant=tenant, user=request.user, is_active=True)
                .first()
            )
        if membership is None:
            raise Http404("No such tenant")
        request.tenant = tenant
        request.membership = membership
        if request.session.get(SESSION_TENANT) != tenant.slug:  # write the session only when it changes
            request.session[SESSION_TENANT] = tenant.slug
        language = request.user.language or tenant.default_language
        translation.activate(language)
        request.LANGUAGE_CODE = language
        timezone.activate(zoneinfo.ZoneInfo(tenant.time_zone))
        try:
            with scope(tenant=tenant.pk):
                entered = request.session.get(SESSION_ENTERED, [])
                if tenant.pk not in entered:
                    request.session[SESSION_ENTERED] = [*entered, tenant.pk]
                    tenant_session_started.send(
                        sender=self.__class__, request=request, tenant=tenant, membership=membership
                    )
                return self.get_response(request)
        finally:
            timezone.deactivate()

    def _admin_request(self, request):
        user = request.user
        request.admin_tenant = None
        if not (user.is_authenticated and user.is_active):
            with scope(tenant=[]):
                return self.get_response(request)
        if user.is_superuser:
            # The platform operator sees all tenants: the one visible escape from the scope.
            with scopes_disabled():
                return self.get_response(request)
        # Admin access comes from an active tenant-admin membership, not from is_staff.
        tenant = admin_tenant_for(request)
        request.admin_tenant = tenant
        with scope(tenant=[tenant.pk] if tenant else []):
            return self.get_response(request)


class MfaRequiredMiddleware:
    """The manage area, the portal and ``/admin/`` refuse a session that has not passed the second
    factor where it is required (partners.accounts.mfa.mfa_required): a person without one is sent
    to set one up, a person with one to enter a code. Runs inside TenantMiddleware (membership known)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.get_response(request)
        membership = getattr(request, "membership", None)
        if membership is None and not _is_admin_path(request):
            return self.get_response(request)
        from partners.accounts.mfa import mfa_required, session_passed_mfa, user_has_mfa

        if not mfa_required(user, membership) or session_passed_mfa(request):
            return self.get_response(request)
        from django.urls import reverse
        from django.utils.http import urlencode

        target = reverse("mfa_reauthenticate") if user_has_mfa(user) else reverse("mfa_activate_totp")
        request.session["shien_mfa_next"] = request.get_full_path()
        url = f"{target}?{urlencode({'next': request.get_full_path()})}"
        if getattr(request, "htmx", False):  # a whole-page redirect, not a fragment swapped into the page
            from django_htmx.http import HttpResponseClientRedirect

            return HttpResponseClientRedirect(url)
        return HttpResponseRedirect(url)


def _is_admin_path(request) -> bool:
    try:
        return resolve(request.path_info).app_name == "admin"
    except Resolver404:
        return False


def admin_tenant_for(request) -> Tenant | None:
    """The tenant a (non-superuser) staff user administers in /admin/: the one last entered, else the first."""
    with scopes_disabled():
        tenant_ids = list(
            Membership.objects.filter(user=request.user, role=Role.TENANT_ADMIN, is_active=True)
            .order_by("tenant__name")
            .values_list("tenant_id", flat=True)
        )
    if not tenant_ids:
        return None
    tenants = {t.pk: t for t in Tenant.objects.filter(pk__in=tenant_ids, is_active=True)}
    preferred = request.session.get(SESSION_TENANT)
    for tenant in tenants.values():
        if tenant.slug == preferred:
            return tenant
    for tid in tenant_ids:
        if tid in tenants:
            return tenants[tid]
    return None
