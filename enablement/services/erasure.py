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
* the audit log keeps its rows; identity in ``actor_label``, ``target_label``, ``before`` and
  ``after`` is replaced by the opaque id through the audit log's only sanctioned UPDATE
  (``shien_audit_rewrite_identity``, partners 0013) — who did what stays, as the opaque id;
* archived months of the log (retention files) holding the person are rewritten: a new file with
  the same rows, identity replaced as in the log, read back and verified, a new manifest, the
  ``ActivityArchive`` row pointed at them, the old files deleted once the transaction commits;
* one audit event per tenant the person belonged to, plus a platform one, naming the operator and
  the reason and holding the SHA-256 of the e-mail, never the e-mail itself.

What counts as identity: a string equal (case-insensitively) to the e-mail, its ``mailto:`` form or
the name, and the e-mail wherever it appears inside a longer string (``"taro@x.example @ Acme"``).
A name inside a longer string is left: names are not unique enough to replace blindly.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import re
import tempfile
import uuid
from dataclasses import dataclass, field
from typing import Any

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialAccount
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django_scopes import scopes_disabled

from enablement.logstore import log_unlocked
from enablement.lrs.models import StatementAgent, XapiStatement
from enablement.models import ActivityArchive, ActivityEvent
from enablement.services.retention import archive_read
from partners.audit import audit_record
from partners.models import AuditEvent, Membership, Tenant, User

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
    audit_events: int = 0
    archives: int = 0


def email_digest(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


class _Identity:
    """The person's identities and what replaces them (see the module docstring)."""

    def __init__(self, email: str, name: str, opaque: str):
        email = email.strip().lower()
        self.opaque = opaque
        self.exact = {email, f"mailto:{email}"} | ({name.strip().lower()} if name.strip() else set())
        self._inside = re.compile(re.escape(email), re.IGNORECASE)

    def scrub(self, value: Any) -> Any:
        """``value`` with every identity replaced, in nested lists and dicts too."""
        if isinstance(value, str):
            if value.strip().lower() in self.exact:
                return self.opaque
            return self._inside.sub(self.opaque, value)
        if isinstance(value, list):
            return [self.scrub(v) for v in value]
        if isinstance(value, dict):
            return {k: self.scrub(v) for k, v in value.items()}
        return value


REWRITE_CHUNK = 1000


def _jsonb(values) -> list:
    from psycopg.types.json import Jsonb

    return [Jsonb(v) for v in values]


def _sanctioned_rewrite(rows: list[tuple], *, sql: str, params, update) -> int:
    """Rewrite rows of an append-only table through its one sanctioned path, ``REWRITE_CHUNK`` at a
    time; returns the rows changed. On PostgreSQL the owner's function (``sql`` with
    ``params(chunk)``), which allows only the identity columns to change; elsewhere the ORM
    ``update(row)`` with the append-only trigger lifted for erasure."""
    changed = 0
    for at in range(0, len(rows), REWRITE_CHUNK):
        chunk = rows[at : at + REWRITE_CHUNK]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(sql, params(chunk))
                changed += cursor.fetchone()[0]
        else:
            with log_unlocked("erase"):
                changed += sum(update(row) for row in chunk)
    return changed


def _rewrite_log(user: User, who: _Identity) -> tuple[int, set[int]]:
    """Replace identity in the log rows of the person; returns (rows changed, their tenants)."""
    refs = Q(user=user) | Q(actor_ref__in=sorted(who.exact)) | Q(actor_ref__icontains=user.email)
    changes: dict[int, list[tuple[int, str, dict]]] = {}
    for event_id, tenant_id, actor_ref, extra in ActivityEvent.objects.filter(refs).values_list(
        "id", "tenant_id", "actor_ref", "extra"
    ).iterator(chunk_size=2000):
        new_ref = who.scrub(actor_ref)
        new_extra = who.scrub(extra or {})
        if new_ref != actor_ref or new_extra != (extra or {}):
            changes.setdefault(tenant_id, []).append((event_id, new_ref, new_extra))
    changed = 0
    for tenant_id, rows in changes.items():
        changed += _sanctioned_rewrite(
            rows,
            sql="SELECT shien_activity_rewrite_identity(%s, %s, %s, %s::jsonb[])",
            params=lambda chunk, tenant_id=tenant_id: [
                tenant_id, [r[0] for r in chunk], [r[1] for r in chunk], _jsonb(r[2] for r in chunk)
            ],
            update=lambda row, tenant_id=tenant_id: ActivityEvent.objects.filter(tenant_id=tenant_id, id=row[0]).update(
                actor_ref=row[1], extra=row[2]
            ),
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


def _rewrite_audit(user: User, who: _Identity, tenants: set[int]) -> int:
    """Replace identity in the audit events of the person's tenants and the platform's."""
    text = Q()
    for needle in sorted(who.exact | {user.email.lower()}):
        text |= Q(actor_label__icontains=needle) | Q(target_label__icontains=needle)
        text |= Q(before_text__icontains=needle) | Q(after_text__icontains=needle)
    candidates = (
        AuditEvent.objects.filter(Q(tenant_id__in=sorted(tenants)) | Q(tenant__isnull=True))
        .annotate(before_text=Cast("before", TextField()), after_text=Cast("after", TextField()))
        .filter(text | Q(actor=user))
        .values_list("id", "actor_label", "target_label", "before", "after")
        .order_by("id")
    )
    rows = []
    for event_id, actor, target, before, after in candidates.iterator(chunk_size=2000):
        new = (who.scrub(actor), who.scrub(target), who.scrub(before or {}), who.scrub(after or {}))
        if new != (actor, target, before or {}, after or {}):
            rows.append((event_id, *new))
    return _sanctioned_rewrite(
        rows,
        sql="SELECT shien_audit_rewrite_identity(%s, %s, %s, %s::jsonb[], %s::jsonb[])",
        params=lambda chunk: [[r[0] for r in chunk], [r[1] for r in chunk], [r[2] for r in chunk],
                              _jsonb(r[3] for r in chunk), _jsonb(r[4] for r in chunk)],
        update=lambda row: AuditEvent.objects.filter(pk=row[0]).update(
            actor_label=row[1], target_label=row[2], before=row[3], after=row[4]
        ),
    )


def _archive_lines(path: str, storage):
    with storage.open(path, "rb") as fh, gzip.open(fh, "rt", encoding="utf-8") as lines:
        yield from lines


def _rewrite_archives(who: _Identity, tenants: set[int]) -> int:
    """Rewrite the archived months (retention files) that hold the person; returns how many.
    Streams each file: a first pass looks for the person's identities in the raw lines (a row to
    change always contains one), and only a file with a hit is written again, row by row."""
    storage = default_storage
    needles = sorted(who.exact)
    rewritten = 0
    for archive in ActivityArchive.objects.filter(tenant_id__in=sorted(tenants)).order_by("id"):
        if not any(n in line.lower() for line in _archive_lines(archive.path, storage) for n in needles):
            continue
        stem = archive.path.removesuffix(".jsonl.gz")
        revision = uuid.uuid4().hex[:8]
        changed, ids = 0, []
        with tempfile.TemporaryFile() as tmp:
            with gzip.GzipFile(fileobj=tmp, mode="wb", mtime=0) as gz:
                for line in _archive_lines(archive.path, storage):
                    row = json.loads(line)
                    ids.append(row["id"])
                    if any(n in line.lower() for n in needles):
                        new_ref, new_extra = who.scrub(row.get("actor_ref")), who.scrub(row.get("extra"))
                        if (new_ref, new_extra) != (row.get("actor_ref"), row.get("extra")):
                            row["actor_ref"], row["extra"] = new_ref, new_extra
                            changed += 1
                    gz.write((json.dumps(row, cls=DjangoJSONEncoder, ensure_ascii=False) + "\n").encode())
            if not changed:  # the name inside a longer string only: nothing to replace
                continue
            tmp.seek(0)
            sha256 = hashlib.file_digest(tmp, "sha256").hexdigest()
            tmp.seek(0)
            path = storage.save(f"{stem}-r{revision}.jsonl.gz", File(tmp))
        written = [path]
        try:
            with storage.open(path, "rb") as fh:
                if hashlib.file_digest(fh, "sha256").hexdigest() != sha256:
                    raise RuntimeError(f"archive {path}: checksum differs after writing")
            if [row["id"] for row in archive_read(path, storage=storage)] != ids:
                raise RuntimeError(f"archive {path}: rows differ after writing")
            with storage.open(archive.manifest_path, "rb") as fh:
                manifest = json.load(fh)
            manifest.update(file=path.rsplit("/", 1)[-1], sha256=sha256)
            manifest.setdefault("rewritten", []).append(
                {"at": dt.datetime.now(dt.UTC).isoformat(), "why": "erasure", "opaque_id": who.opaque, "rows": changed}
            )
            manifest_path = storage.save(
                f"{stem}-r{revision}.manifest.json",
                ContentFile(json.dumps(manifest, ensure_ascii=False, indent=2).encode()),
            )
            written.append(manifest_path)
        except BaseException:
            for name in written:
                storage.delete(name)
            raise
        old = [archive.path, archive.manifest_path]
        ActivityArchive.objects.filter(pk=archive.pk).update(path=path, manifest_path=manifest_path, sha256=sha256)
        transaction.on_commit(lambda old=old: [storage.delete(name) for name in old])
        rewritten += 1
    return rewritten


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
    who = _Identity(original, user.name, opaque)

    with scopes_disabled():
        memberships = list(Membership.objects.filter(user=user))
        tenants = {m.tenant_id for m in memberships}
        result.memberships = Membership.objects.filter(user=user, is_active=True).update(is_active=False)
        result.events, log_tenants = _rewrite_log(user, who)
        result.statements, statement_tenants = _rewrite_statements(user, original, opaque)
        tenants |= log_tenants | statement_tenants
        result.audit_events = _rewrite_audit(user, who, tenants)
        result.archives = _rewrite_archives(who, tenants)

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
            "audit_events_rewritten": result.audit_events,
            "archives_rewritten": result.archives,
        }
        for tenant_id in [None, *result.tenants]:
            audit_record(
                tenant=None if tenant_id is None else Tenant(pk=tenant_id),
                actor=None, action="person.erased", target_type="partners.user", target_id=user.pk,
                target_label=opaque, after=after,
            )
    return result
