"""The DRF base of every tenant API view (DESIGN.md, "Tenancy: fail closed").

DRF authenticates inside the view, after the middleware, so the tenant scope of an API key is
opened here, in ``initial()`` right after authentication, and closed when the response is
finalised (PostHog ``TeamAndOrgViewSetMixin``). Subclasses cannot override the scope handling
or ``get_queryset``: they implement ``get_tenant_queryset(tenant)``, and every object is fetched
by ``(tenant, lookup)`` so another tenant's object is the same 404 as a missing one.
"""

from __future__ import annotations

from django_scopes import scope
from rest_framework import viewsets
from rest_framework.exceptions import NotAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from partners.api.authentication import ApiKeyAuthentication
from partners.api.permissions import HasKeyScope
from partners.api.throttling import ApiKeyRateThrottle
from partners.models import ApiKeyScope

_SEALED = ("initial", "finalize_response", "dispatch", "get_queryset", "open_tenant_scope", "close_tenant_scope")


class TenantScopedMixin:
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasKeyScope]
    throttle_classes = [ApiKeyRateThrottle]
    renderer_classes = [JSONRenderer]
    read_scope = ApiKeyScope.READ
    write_scope = ApiKeyScope.EVENTS_WRITE

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in _SEALED:
            if name in cls.__dict__ and not getattr(cls.__dict__[name], "_tenant_base", False):
                raise TypeError(f"{cls.__name__} must not override {name}(): the tenant scope is set by the base view")

    # -- the scope -----------------------------------------------------------------------------
    def open_tenant_scope(self, request) -> None:
        key = request.auth
        if key is None:
            raise NotAuthenticated()
        self.tenant = key.tenant
        request.tenant = key.tenant
        request._request.tenant = key.tenant
        self._tenant_scope = scope(tenant=key.tenant_id)
        self._tenant_scope.__enter__()

    def close_tenant_scope(self) -> None:
        cm = getattr(self, "_tenant_scope", None)
        if cm is not None:
            self._tenant_scope = None
            cm.__exit__(None, None, None)

    def initial(self, request, *args, **kwargs):
        self._tenant_scope = None
        super().initial(request, *args, **kwargs)  # authentication, scopes of the key, throttling
        self.open_tenant_scope(request)

    def finalize_response(self, request, response, *args, **kwargs):
        try:
            return super().finalize_response(request, response, *args, **kwargs)
        finally:
            self.close_tenant_scope()

    def dispatch(self, request, *args, **kwargs):
        try:
            return super().dispatch(request, *args, **kwargs)
        finally:
            self.close_tenant_scope()

    # -- querysets -------------------------------------------------------------------------------
    def get_tenant_queryset(self, tenant):
        """The hook every API view implements (get_queryset is sealed and adds the tenant filter)."""
        raise NotImplementedError(f"{type(self).__name__} must define get_tenant_queryset(tenant)")

    def get_queryset(self):
        return self.get_tenant_queryset(self.tenant).filter(tenant=self.tenant)


for _name in _SEALED:
    getattr(TenantScopedMixin, _name)._tenant_base = True


def as_id(value: str | None) -> int | None:
    """A query-string id, or None (also for numbers beyond a 64-bit key)."""
    if value and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


class TenantAPIView(TenantScopedMixin, APIView):
    pass


class TenantGenericViewSet(TenantScopedMixin, viewsets.GenericViewSet):
    pass


class TenantReadOnlyViewSet(TenantScopedMixin, viewsets.ReadOnlyModelViewSet):
    lookup_value_regex = "[0-9]{1,18}"
