"""The document resources (State, Activity Profile, Agent Profile): writes and reads.

A document is keyed by (kind, activity id, agent, registration, document id). PUT replaces,
POST merges JSON objects (top-level properties of the new document win), DELETE removes one
or (State only) all documents of an activity/agent/registration. ETags are the SHA-1 of the
content, quoted; the caller checks If-Match / If-None-Match with ``precondition``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from enablement.lrs.models import Document, DocumentKind
from partners.models import Tenant

MAX_DOCUMENT = 2 * 1024 * 1024


class DocumentError(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class DocumentKey:
    kind: str
    activity_id: str = ""
    agent_key: str = ""
    registration: str = ""

    def filter(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "activity_id": self.activity_id,
            "agent_key": self.agent_key,
            "registration": self.registration,
        }


def etag_of(content: bytes) -> str:
    return '"' + hashlib.sha1(content, usedforsecurity=False).hexdigest() + '"'


def _etags(header: str) -> set[str]:
    return {t.strip() for t in header.split(",") if t.strip()}


def precondition(
    *, current: Document | None, if_match: str | None, if_none_match: str | None, required: bool
) -> None:
    """Communication 3.1: 412 when If-Match / If-None-Match fail; when ``required`` (a PUT of a
    profile) and neither header was sent: 409 if the document exists, else 400 — unless
    ``LRS_PROFILE_PUT_REQUIRES_PRECONDITION`` is off (for clients that create profiles with a
    bare PUT, such as the ``tincan`` Python client)."""
    if if_match is not None:
        tags = _etags(if_match)
        if current is None or not ("*" in tags or current.etag in tags or current.etag.strip('"') in tags):
            raise DocumentError(412, "If-Match does not match the document's current ETag")
    if if_none_match is not None:
        tags = _etags(if_none_match)
        if current is not None and ("*" in tags or current.etag in tags or current.etag.strip('"') in tags):
            raise DocumentError(412, "If-None-Match: the document exists")
    if required and if_match is None and if_none_match is None:
        if current is not None:
            raise DocumentError(409, "The document exists: send If-Match (or If-None-Match) to change it")
        if getattr(settings, "LRS_PROFILE_PUT_REQUIRES_PRECONDITION", True):
            raise DocumentError(
                400, "A profile PUT needs If-Match or If-None-Match (If-None-Match: * to create)"
            )


def document_get(*, tenant: Tenant, key: DocumentKey, document_id: str) -> Document | None:
    return Document.objects.filter(tenant=tenant, document_id=document_id, **key.filter()).first()


def document_ids(*, tenant: Tenant, key: DocumentKey, since: datetime | None) -> list[str]:
    qs = Document.objects.filter(tenant=tenant, **key.filter())
    if since is not None:
        qs = qs.filter(updated__gt=since)
    return list(qs.order_by("document_id").values_list("document_id", flat=True))


def _is_json(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == "application/json"


@transaction.atomic
def document_put(
    *,
    tenant: Tenant,
    key: DocumentKey,
    document_id: str,
    content: bytes,
    content_type: str,
    merge: bool,
    if_match: str | None = None,
    if_none_match: str | None = None,
    require_precondition: bool = False,
) -> Document:
    """PUT (``merge=False``) or POST (``merge=True``) one document."""
    if len(content) > MAX_DOCUMENT:
        raise DocumentError(413, f"A document may have at most {MAX_DOCUMENT} bytes")
    current = (
        Document.objects.select_for_update()
        .filter(tenant=tenant, document_id=document_id, **key.filter())
        .first()
    )
    precondition(
        current=current,
        if_match=if_match,
        if_none_match=if_none_match,
        required=require_precondition and not merge,
    )
    if merge:
        if not _is_json(content_type):
            raise DocumentError(400, "POST merges JSON documents: the Content-Type must be application/json")
        try:
            new = json.loads(content)
        except (ValueError, UnicodeDecodeError) as exc:
            raise DocumentError(400, "POST merges JSON documents: the body is not JSON") from exc
        if not isinstance(new, dict):
            raise DocumentError(400, "POST merges JSON objects: the body is not a JSON object")
        if current is not None:
            try:
                old = json.loads(bytes(current.content)) if _is_json(current.content_type) else None
            except (ValueError, UnicodeDecodeError):
                old = None
            if not isinstance(old, dict):
                raise DocumentError(400, "The stored document is not a JSON object: it cannot be merged")
            new = {**old, **new}
        content = json.dumps(new, ensure_ascii=False, separators=(",", ":")).encode()
        content_type = "application/json"
    now = timezone.now()
    if current is None:
        doc = Document(
            tenant=tenant,
            document_id=document_id,
            content=content,
            content_type=content_type,
            etag=etag_of(content),
            updated=now,
            **key.filter(),
        )
        try:
            with transaction.atomic():
                doc.save()
        except IntegrityError as exc:  # a concurrent first write of the same document
            raise DocumentError(409, "The document was written concurrently; retry") from exc
        return doc
    current.content = content
    current.content_type = content_type[:255]
    current.etag = etag_of(content)
    current.updated = now
    current.save(update_fields=["content", "content_type", "etag", "updated"])
    return current


@transaction.atomic
def document_delete(
    *,
    tenant: Tenant,
    key: DocumentKey,
    document_id: str | None,
    if_match: str | None = None,
    if_none_match: str | None = None,
) -> int:
    """Delete one document, or every document of the key when ``document_id`` is None."""
    qs = Document.objects.filter(tenant=tenant, **key.filter())
    if document_id is None:
        return qs.delete()[0]
    current = qs.select_for_update().filter(document_id=document_id).first()
    precondition(current=current, if_match=if_match, if_none_match=if_none_match, required=False)
    if current is None:
        return 0
    current.delete()
    return 1


KIND_STATE = DocumentKind.STATE
KIND_ACTIVITY_PROFILE = DocumentKind.ACTIVITY_PROFILE
KIND_AGENT_PROFILE = DocumentKind.AGENT_PROFILE
