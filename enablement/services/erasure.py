"""Erasure of a person on request: identity removed everywhere, an opaque id left behind.

``person_erase`` (called by ``manage.py erase_person``), in one transaction:

* the ``User`` row becomes a tombstone: e-mail ``<opaque id>@erased.invalid``, no name, no
  language, an unusable password, inactive, no staff/superuser bit — its primary key stays, so the
  log, facts and states that point at it (and every KPI) are unchanged;
* login is gone: allauth e-mail addresses, MFA authenticators (TOTP, passkeys, recovery codes),
  social accounts (SSO links) and every database session of the person are deleted; memberships
  are deactivated (kept, so who belonged to which partner when still adds up);
* the activity log keeps its rows; identity inside them (``actor_ref``, and any value inside
  ``extra`` that equals the person's e-mail, ``mailto:`` address or name) is replaced by the opaque
  id through the log's only sanctioned UPDATE (``shien_activity_rewrite_identity`` on PostgreSQL,
  ``log_unlocked("erase")`` on SQLite; the trigger lets nothing but those two columns change);
* xAPI statements whose actor is the person (by ``mbox``, ``mbox_sha1sum`` or the mapped event's
  user) get the actor ``{"account": {"homePage": "urn:shien:erased", "name": <opaque id>}}``, and
  the agent index follows;
* one audit event per tenant the person belonged to, plus a platform one, naming the operator and
  the reason and holding the SHA-256 of the e-mail, never the e-mail itself.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialAccount
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django_scopes import scopes_disabled

from enablement.logstore import log_unlocked
from enablement.lrs.models import StatementAgent, XapiStatement
from enablement.models import ActivityEvent
from partners.audit import audit_record
from partners.models import Membership, Tenant, User

ERASED_DOMAIN = "erased.invalid"
ERASED_HOME = "urn:shien:erased"


@dataclass
class ErasureResult:
    opaque_id: str
    email_sha256: str
    user_id: int
    tenants: list[int] = field(default_factory=list)
    memberships: int = 0
    sessions: int = 0
    events: int = 0
    statements: int = 0


def email_digest(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def _scrub(value: Any, identities: set[str], opaque: str) -> Any:
    """``value`` with every string equal (case-insensitively) to an identity replaced."""
    if isinstance(value, str):
        return opaque if value.strip().lower() in identities else value
    if isinstance(value, list):
        return [_scrub(v, identities, opaque) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v, identities, opaque) for k, v in value.items()}
    return value


def _rewrite_log(user: User, identities: set[str], opaque: str) -> tuple[int, set[int]]:
    """Replace identity in the log rows of the person; returns (rows changed, their tenants)."""
    refs = Q(user=user) | Q(actor_ref__in=sorted(identities)) | Q(actor_ref__iexact=user.email)
    changes: dict[int, list[tuple[int, str, dict]]] = {}
    for event_id, tenant_id, actor_ref, extra in ActivityEvent.objects.filter(refs).values_list(
        "id", "tenant_id", "actor_ref", "extra"
    ).iterator(chunk_size=2000):
        new_ref = opaque if actor_ref and actor_ref.strip().lower() in identities else actor_ref
        new_extra = _scrub(extra or {}, identities, opaque)
        if new_ref != actor_ref or new_extra != (extra or {}):
            changes.setdefault(tenant_id, []).append((event_id, new_ref, new_extra))
    changed = 0
    for tenant_id, rows in changes.items():
        for at in range(0, len(rows), 1000):
            chunk = rows[at : at + 1000]
            if connection.vendor == "postgresql":
                from psycopg.types.json import Jsonb

                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT shien_activity_rewrite_identity(%s, %s, %s, %s::jsonb[])",
                        [tenant_id, [r[0] for r in chunk], [r[1] for r in chunk], [Jsonb(r[2]) for r in chunk]],
                    )
                    changed += cursor.fetchone()[0]
            else:
                with log_unlocked("erase"):
                    for event_id, new_ref, new_extra in chunk:
                        changed += ActivityEvent.objects.filter(tenant_id=tenant_id, id=event_id).update(
                            actor_ref=new_ref, extra=new_extra
                        )
    return changed, set(changes)


def _rewrite_statements(user: User, email: str, opaque: str) -> tuple[int, set[int]]:
    mbox = f"mailto:{email.strip().lower()}"
    keys = {mbox, "sha1:" + hashlib.sha1(mbox.encode()).hexdigest()}  # noqa: S324 (the xAPI mbox_sha1sum)
    new_key = f"{ERASED_HOME}|{opaque}"
    statements = XapiStatement.objects.filter(Q(actor_key__in=keys) | Q(mapped_event__user=user))
    count, tenants = 0, set()
    for statement in statements.only("id", "tenant_id", "payload", "actor_key"):
        payload = dict(statement.payload)
        payload["actor"] = {"objectType": "Agent", "account": {"homePage": ERASED_HOME, "name": opaque}}
        XapiStatement.objects.filter(pk=statement.pk).update(payload=payload, actor_key=new_key)
        StatementAgent.objects.filter(statement_id=statement.pk, agent_key__in=keys | {statement.actor_key}).update(
            agent_key=new_key
        )
        count += 1
        tenants.add(statement.tenant_id)
    return count, tenants


@transaction.atomic
def person_erase(*, email: str, reason: str, operator: str) -> ErasureResult:
    """Erase the person with this e-mail (see the module docstring). Cross-tenant by nature: it
    runs with ``scopes_disabled()``. Raises ``ValidationError`` for an unknown e-mail, an empty
    reason or operator, or a person already erased."""
    if not reason.strip() or not operator.strip():
        raise ValidationError("An erasure needs a reason and the operator's name.")
    try:
        user = User.objects.select_for_update().get(email__iexact=email.strip())
    except User.DoesNotExist as exc:
        raise ValidationError("No person with this e-mail address.") from exc
    if user.email.endswith("@" + ERASED_DOMAIN):
        raise ValidationError("This person is already erased.")
    opaque = f"erased-{uuid.uuid4().hex[:20]}"
    original = user.email
    result = ErasureResult(opaque_id=opaque, email_sha256=email_digest(original), user_id=user.pk)
    identities = {original.strip().lower(), f"mailto:{original.strip().lower()}"}
    if user.name.strip():
        identities.add(user.name.strip().lower())

    with scopes_disabled():
        memberships = list(Membership.objects.filter(user=user))
        tenants = {m.tenant_id for m in memberships}
        result.memberships = Membership.objects.filter(user=user, is_active=True).update(is_active=False)
        result.events, log_tenants = _rewrite_log(user, identities, opaque)
        result.statements, statement_tenants = _rewrite_statements(user, original, opaque)
        tenants |= log_tenants | statement_tenants

        EmailAddress.objects.filter(user=user).delete()
        Authenticator.objects.filter(user=user).delete()
        SocialAccount.objects.filter(user=user).delete()
        sessions = [
            s.pk for s in Session.objects.all().iterator(chunk_size=1000)
            if str(s.get_decoded().get("_auth_user_id")) == str(user.pk)
        ]
        result.sessions, _ = Session.objects.filter(pk__in=sessions).delete()

        user.email = f"{opaque}@{ERASED_DOMAIN}"
        user.name = ""
        user.language = ""
        user.is_active = False
        user.is_staff = False
        user.is_superuser = False
        user.set_unusable_password()
        user.save()

        result.tenants = sorted(tenants)
        after = {
            "operator": operator.strip(),
            "reason": reason.strip(),
            "email_sha256": result.email_sha256,
            "memberships_deactivated": result.memberships,
            "log_rows_rewritten": result.events,
            "xapi_statements_rewritten": result.statements,
        }
        for tenant_id in [None, *result.tenants]:
            audit_record(
                tenant=None if tenant_id is None else Tenant(pk=tenant_id),
                actor=None, action="person.erased", target_type="partners.user", target_id=user.pk,
                target_label=opaque, after=after,
            )
    return result
