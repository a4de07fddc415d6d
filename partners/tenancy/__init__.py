"""The tenant-scoping mechanism every other app builds on (DESIGN.md, "Tenancy: fail closed").

* Every tenant-owned row carries ``tenant_id`` and uses ``ScopedManager``: a query with no
  active tenant scope raises ``ScopeError`` instead of returning everyone's rows.
* Scopes are opened in exactly four places: ``partners.tenancy.middleware.TenantMiddleware`` (session
  users), the DRF base view's ``initial()`` (API keys), ``tenant_task`` (Celery) and
  management commands (``tenant_scope``). Cross-tenant code says ``scopes_disabled()`` visibly.
* Objects are fetched by ``(tenant, id)``; "missing" and "not yours" are the same 404.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from django.db import models
from django.http import Http404
from django_scopes import ScopedManager, scope, scopes_disabled

if TYPE_CHECKING:
    from partners.models import Tenant

__all__ = [
    "ScopedManager",
    "TenantOwnedModel",
    "get_for_tenant",
    "scope",
    "scopes_disabled",
    "tenant_scope",
    "tenant_task",
]

M = TypeVar("M", bound=models.Model)


class TenantOwnedModel(models.Model):
    """Abstract base of every tenant-owned table."""

    tenant = models.ForeignKey("partners.Tenant", on_delete=models.CASCADE, related_name="+", editable=False)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        abstract = True


@contextmanager
def tenant_scope(tenant: Tenant | int):
    """Open the scope for one tenant (management commands, tasks, tests)."""
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    with scope(tenant=tenant_id):
        yield


def get_for_tenant[M: models.Model](model_or_qs: type[M] | models.QuerySet[M], *, tenant: Tenant, **lookup: Any) -> M:
    """Fetch one object by ``(tenant, lookup)``: missing and not-yours are the same 404."""
    qs = model_or_qs.objects.all() if isinstance(model_or_qs, type) else model_or_qs
    try:
        return qs.get(tenant=tenant, **lookup)
    except (qs.model.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404(str(qs.model._meta.verbose_name)) from exc


F = TypeVar("F", bound=Callable[..., Any])


def tenant_task[F: Callable[..., Any]](func: F) -> F:
    """Celery adapter: the first argument is a tenant id; the body runs inside its scope.

    Usage::

        @shared_task(...)
        @tenant_task
        def rollup_tenant(tenant_id: int) -> None: ...
    """

    @functools.wraps(func)
    def wrapper(tenant_id: int, *args: Any, **kwargs: Any) -> Any:
        with scope(tenant=int(tenant_id)):
            return func(int(tenant_id), *args, **kwargs)

    return wrapper  # type: ignore[return-value]
