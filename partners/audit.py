"""The audit trail: ``audit_record`` writes one append-only ``AuditEvent`` in the caller's transaction.

Services call it for every change to access (memberships, roles, invitations, API keys), configuration
(KPI definitions and targets, tiers, partners) and deal stages. The client IP comes from a context
variable that ``AuditContextMiddleware`` sets per request (the same ipware-based address django-axes
uses, so ``AXES_IPWARE_*`` trusted-proxy settings apply to both); outside a request it is empty.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models

_request_ip: contextvars.ContextVar[str | None] = contextvars.ContextVar("shien_audit_ip", default=None)

MAX_VALUE_LENGTH = 200


def current_ip() -> str | None:
    return _request_ip.get()


def client_ip(request) -> str | None:
    from axes.helpers import get_client_ip_address

    try:
        return get_client_ip_address(request) or None
    except Exception:  # noqa: BLE001 - an unparsable header must never break the request
        return request.META.get("REMOTE_ADDR") or None


class AuditContextMiddleware:
    """Puts the client IP into the context of the request, for ``audit_record``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _request_ip.set(client_ip(request))
        try:
            return self.get_response(request)
        finally:
            _request_ip.reset(token)


def _short(value: Any) -> Any:
    if isinstance(value, models.Model):
        return str(value)[:MAX_VALUE_LENGTH]
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [_short(v) for v in value][:20]
    return str(value)[:MAX_VALUE_LENGTH]


def summary(obj: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """A short ``{field: value}`` of ``obj`` for the before/after columns (foreign keys by label)."""
    out = {}
    for name in fields:
        try:
            field = obj._meta.get_field(name)
        except Exception:  # noqa: BLE001 - a form-only field
            out[name] = _short(getattr(obj, name, None))
            continue
        if field.is_relation and field.many_to_one:
            related_id = getattr(obj, field.attname)
            out[name] = _short(getattr(obj, name)) if related_id is not None else None
        else:
            out[name] = _short(getattr(obj, name, None))
    return out


def actor_label(actor: Any) -> str:
    if actor is None:
        return "system"
    key = getattr(actor, "key", None)  # partners.api.authentication.ApiKeyPrincipal
    if key is not None and getattr(key, "prefix", None):
        return f"api-key:{key.prefix}"
    if getattr(actor, "prefix", None) and getattr(actor, "hashed_key", None):  # an ApiKey itself
        return f"api-key:{actor.prefix}"
    return getattr(actor, "email", None) or str(actor)


def audit_record(
    *,
    tenant,
    actor,
    action: str,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str | int = "",
    target_label: str = "",
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
):
    """Append one audit event (in the caller's transaction: it commits or rolls back with the change)."""
    from partners.models import AuditEvent, User

    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or (target.pk if target.pk is not None else "")
        target_label = target_label or str(target)
    if before and after:  # keep only what changed
        changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
        before = {k: v for k, v in before.items() if k in changed}
        after = {k: v for k, v in after.items() if k in changed}
    event = AuditEvent(
        tenant=tenant,
        actor=actor if isinstance(actor, User) else None,
        actor_label=actor_label(actor)[:254],
        action=action,
        target_type=target_type[:64],
        target_id=str(target_id)[:64],
        target_label=str(target_label)[:254],
        before={k: _short(v) for k, v in (before or {}).items()},
        after={k: _short(v) for k, v in (after or {}).items()},
        ip=current_ip(),
    )
    event.save(force_insert=True)
    return event
