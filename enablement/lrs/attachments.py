"""Statement attachments (Data 2.4.11, Communication 1.5.2) and signed statements (Data 2.6).

* ``parse_multipart`` reads a ``multipart/mixed`` request: the first part is the statement(s) as
  JSON, every other part one attachment's content with ``X-Experience-API-Hash`` (its SHA-2) and
  ``Content-Transfer-Encoding: binary``; the content must hash to the header's value.
* ``match_attachments`` checks parts against the statements: every attachment without ``fileUrl``
  needs its part, every part must belong to an attachment; signatures are verified here.
* ``attachments_store`` writes new content to the default storage under the tenant's private
  folder (``t<tenant>/lrs-attachments/<sha2>``), once per SHA-2.
* ``multipart_response`` builds the ``attachments=true`` answer.

Limits: ``LRS_ATTACHMENT_MAX_BYTES`` per attachment (default 20 MB) and
``LRS_REQUEST_MAX_BYTES`` per request (default 50 MB); larger requests are refused with 413.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from enablement.lrs.models import StatementAttachment, attachment_path
from enablement.lrs.shapes import comparable
from enablement.lrs.validation import XapiInvalid

SIGNATURE_USAGE = "http://adlnet.gov/expapi/attachments/signature"
SIGNATURE_ALGORITHMS = {"RS256": hashes.SHA256, "RS384": hashes.SHA384, "RS512": hashes.SHA512}
HASHES = {56: hashlib.sha224, 64: hashlib.sha256, 96: hashlib.sha384, 128: hashlib.sha512}
CRLF = b"\r\n"


def attachment_max_bytes() -> int:
    return int(getattr(settings, "LRS_ATTACHMENT_MAX_BYTES", 20 * 1024 * 1024))


def request_max_bytes() -> int:
    return int(getattr(settings, "LRS_REQUEST_MAX_BYTES", 50 * 1024 * 1024))


@dataclass
class Part:
    headers: dict[str, str]
    content: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "application/octet-stream").strip()


def boundary_of(content_type: str) -> str:
    match = re.search(r';\s*boundary=(?:"([^"]+)"|([^;\s]+))', content_type, re.IGNORECASE)
    if not match:
        raise XapiInvalid("multipart/mixed needs a boundary parameter")
    return match.group(1) or match.group(2)


def _headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.split(CRLF):
        if not line:
            continue
        name, sep, value = line.partition(b":")
        if not sep or not name.strip():
            raise XapiInvalid("A multipart part has a malformed header line")
        try:
            headers[name.strip().decode("ascii").lower()] = value.strip().decode("latin-1")
        except UnicodeDecodeError as exc:
            raise XapiInvalid("A multipart header name is not ASCII") from exc
    return headers


def parse_multipart(body: bytes, content_type: str) -> tuple[Any, list[Part]]:
    """``(statements JSON, attachment parts)`` of a multipart/mixed request (RFC 2046)."""
    delimiter = b"--" + boundary_of(content_type).encode("latin-1")
    if body.startswith(delimiter):
        pos = len(delimiter)
    else:
        found = body.find(CRLF + delimiter)
        if found < 0:
            raise XapiInvalid("The multipart body has no boundary")
        pos = found + 2 + len(delimiter)
    parts: list[Part] = []
    while True:
        if body[pos : pos + 2] == b"--":
            break  # the closing delimiter; the epilogue is ignored
        line_end = body.find(CRLF, pos)
        if line_end < 0 or body[pos:line_end].strip(b" \t"):
            raise XapiInvalid("A multipart boundary line is malformed")
        start = line_end + 2
        end = body.find(CRLF + delimiter, start)
        if end < 0:
            raise XapiInvalid("The multipart body has no closing boundary")
        raw = body[start:end]
        if raw.startswith(CRLF):
            head, content = b"", raw[2:]
        else:
            head, sep, content = raw.partition(CRLF + CRLF)
            if not sep:
                raise XapiInvalid("A multipart part has no blank line after its headers")
        parts.append(Part(_headers(head), content))
        pos = end + 2 + len(delimiter)
    if not parts:
        raise XapiInvalid("The multipart body has no parts")
    first, rest = parts[0], parts[1:]
    if first.content_type.split(";")[0].strip().lower() != "application/json":
        raise XapiInvalid("The first part of a multipart/mixed request must be application/json")
    try:
        statements = json.loads(first.content)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise XapiInvalid("The first multipart part is not valid JSON") from exc
    for i, part in enumerate(rest, start=1):
        sha2 = part.headers.get("x-experience-api-hash", "").lower()
        if not sha2:
            raise XapiInvalid(f"Multipart part {i} has no X-Experience-API-Hash header")
        if part.headers.get("content-transfer-encoding", "").lower() != "binary":
            raise XapiInvalid(f"Multipart part {i} needs Content-Transfer-Encoding: binary")
        if len(part.content) > attachment_max_bytes():
            raise XapiInvalid(f"Attachment {i} is larger than {attachment_max_bytes()} bytes")
        digest = HASHES.get(len(sha2))
        if digest is None or digest(part.content).hexdigest() != sha2:
            raise XapiInvalid(f"Multipart part {i}: the content does not match its X-Experience-API-Hash")
    return statements, rest


def _needs_content(att: dict[str, Any]) -> bool:
    return "fileUrl" not in att or att.get("usageType") == SIGNATURE_USAGE


def match_attachments(statements: list[dict[str, Any]], parts: list[Part]) -> dict[str, Part]:
    """Check the attachment parts against the statements' attachment objects; verify signatures.
    Returns the parts by SHA-2."""
    by_hash = {p.headers["x-experience-api-hash"].lower(): p for p in parts}
    wanted: set[str] = set()
    for i, stmt in enumerate(statements):
        for j, att in enumerate(stmt.get("attachments") or []):
            sha2 = att["sha2"].lower()
            wanted.add(sha2)
            if _needs_content(att) and sha2 not in by_hash:
                raise XapiInvalid(
                    f"statement[{i}].attachments[{j}] has no fileUrl and no attachment part with its sha2"
                )
            if att.get("usageType") == SIGNATURE_USAGE:
                verify_signature(stmt, att, by_hash[sha2].content, where=f"statement[{i}].attachments[{j}]")
    extra = set(by_hash) - wanted
    if extra:
        raise XapiInvalid("A multipart part matches no attachment of the statements")
    return by_hash


def _b64(segment: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise XapiInvalid("The signature is not a valid JWS (base64url)") from exc


def verify_signature(stmt: dict[str, Any], att: dict[str, Any], content: bytes, *, where: str) -> None:
    """Data 2.6: a compact JWS with alg RS256/RS384/RS512 whose payload is the statement as it was
    signed (equal under the statement comparison rules, ignoring id, authority, stored, timestamp,
    version and attachments). With an ``x5c`` certificate in the header the signature is verified
    against it."""
    if att.get("contentType") != "application/octet-stream":
        raise XapiInvalid(f"{where}: a signature attachment must be application/octet-stream")
    try:
        token = content.decode("ascii").strip()
    except UnicodeDecodeError as exc:
        raise XapiInvalid(f"{where}: the signature is not a compact JWS") from exc
    segments = token.split(".")
    if len(segments) != 3:
        raise XapiInvalid(f"{where}: the signature is not a compact JWS")
    try:
        header = json.loads(_b64(segments[0]))
        payload = json.loads(_b64(segments[1]))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise XapiInvalid(f"{where}: the JWS header or payload is not JSON") from exc
    if not isinstance(header, dict) or header.get("alg") not in SIGNATURE_ALGORITHMS:
        raise XapiInvalid(f"{where}: the JWS algorithm must be RS256, RS384 or RS512")
    if not isinstance(payload, dict):
        raise XapiInvalid(f"{where}: the JWS payload is not a statement")
    if "id" in payload and "id" in stmt and str(payload["id"]).lower() != str(stmt["id"]).lower():
        raise XapiInvalid(f"{where}: the signed statement has another id")
    try:
        same = comparable(payload) == comparable(stmt)
    except (KeyError, TypeError, AttributeError):
        same = False
    if not same:
        raise XapiInvalid(f"{where}: the JWS payload differs from the statement")
    chain = header.get("x5c")
    if chain is not None:
        if not isinstance(chain, list) or not chain or not isinstance(chain[0], str):
            raise XapiInvalid(f"{where}: x5c must be a list of base64 certificates")
        try:
            cert = x509.load_der_x509_certificate(base64.b64decode(chain[0]))
        except (ValueError, binascii.Error) as exc:
            raise XapiInvalid(f"{where}: the x5c certificate cannot be read") from exc
        key = cert.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise XapiInvalid(f"{where}: the x5c certificate has no RSA key")
        try:
            key.verify(
                _b64(segments[2]),
                f"{segments[0]}.{segments[1]}".encode("ascii"),
                padding.PKCS1v15(),
                SIGNATURE_ALGORITHMS[header["alg"]](),
            )
        except InvalidSignature as exc:
            raise XapiInvalid(f"{where}: the signature does not verify against its x5c certificate") from exc


def attachments_store(*, tenant, parts: dict[str, Part]) -> None:
    """Keep each attachment's content once per tenant and SHA-2 (called inside the statements'
    transaction: a file written for a transaction that then fails is orphaned but harmless, as
    content is addressed by its hash)."""
    if not parts:
        return
    known = set(
        StatementAttachment.objects.filter(tenant=tenant, sha2__in=list(parts)).values_list("sha2", flat=True)
    )
    rows = []
    for sha2, part in parts.items():
        if sha2 in known:
            continue
        path = attachment_path(tenant.pk, sha2)
        if not default_storage.exists(path):
            path = default_storage.save(path, ContentFile(part.content))
        rows.append(
            StatementAttachment(
                tenant=tenant,
                sha2=sha2,
                content_type=part.content_type[:255],
                length=len(part.content),
                file=path,
            )
        )
    StatementAttachment.objects.bulk_create(rows, ignore_conflicts=True)


def multipart_response(result: Any, statements: list[dict[str, Any]], *, tenant) -> tuple[bytes, str]:
    """The ``attachments=true`` body: the JSON result, then each attachment held for the statements
    (by SHA-2, once). Returns ``(body, content type)``."""
    wanted = []
    for stmt in statements:
        for att in stmt.get("attachments") or []:
            sha2 = str(att.get("sha2", "")).lower()
            if sha2 and sha2 not in wanted:
                wanted.append(sha2)
    rows = {a.sha2: a for a in StatementAttachment.objects.filter(tenant=tenant, sha2__in=wanted)}
    boundary = uuid.uuid4().hex
    delimiter = b"--" + boundary.encode()
    chunks = [
        delimiter,
        CRLF,
        b"Content-Type: application/json",
        CRLF,
        CRLF,
        json.dumps(result).encode(),
        CRLF,
    ]
    for sha2 in wanted:
        row = rows.get(sha2)
        if row is None:
            continue  # an attachment known only by its fileUrl
        with default_storage.open(row.file.name, "rb") as fh:
            content = fh.read()
        chunks += [
            delimiter, CRLF,
            f"Content-Type: {row.content_type}".encode("latin-1"), CRLF,
            b"Content-Transfer-Encoding: binary", CRLF,
            f"X-Experience-API-Hash: {sha2}".encode(), CRLF, CRLF,
            content, CRLF,
        ]  # fmt: skip
    chunks += [delimiter, b"--", CRLF]
    return b"".join(chunks), f"multipart/mixed; boundary={boundary}"
