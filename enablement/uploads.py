"""Upload validation and storage for enablement files (documents and training videos).

Every upload is checked before anything is written:

* the file name: no path parts (``../``, absolute paths, backslashes), no NUL or control
  characters, no double extensions (``report.pdf.exe``, ``x.php.pdf``);
* the size: at most ``settings.UPLOAD_MAX_BYTES`` (the message names the limit in MB);
* the type, by *content* (magic bytes; for Office files the parts inside the ZIP), and the
  extension must agree with what the content is.

Accepted files are stored under a random name (``private_upload_to``); the original name
(Japanese included) is kept in the database only. ``stored_upload`` removes a stored file again
when the surrounding service fails, so nothing half-written remains.
"""

from __future__ import annotations

import hashlib
import unicodedata
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.utils.translation import gettext as _

DOCUMENT = "document"
VIDEO = "video"

# extension -> (content type, detected kind of content)
DOCUMENT_TYPES: dict[str, tuple[str, str]] = {
    "pdf": ("application/pdf", "pdf"),
    "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", "pptx"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "zip": ("application/zip", "zip"),
    "png": ("image/png", "png"),
    "jpg": ("image/jpeg", "jpeg"),
    "jpeg": ("image/jpeg", "jpeg"),
}
VIDEO_TYPES: dict[str, tuple[str, str]] = {
    "mp4": ("video/mp4", "mp4"),
    "m4v": ("video/mp4", "mp4"),
    "webm": ("video/webm", "webm"),
}
ALLOWED = {DOCUMENT: DOCUMENT_TYPES, VIDEO: VIDEO_TYPES}

# Extensions that must never hide inside a name ("x.php.pdf", "report.pdf.exe").
RISKY_EXTENSIONS = frozenset(
    {
        "exe", "com", "bat", "cmd", "msi", "dll", "scr", "pif", "cpl", "jar", "vbs", "vbe", "js", "jse", "mjs",
        "ws", "wsf", "wsh", "ps1", "psm1", "hta", "sh", "bash", "zsh", "py", "pyc", "pl", "rb", "cgi", "php",
        "php3", "php4", "php5", "phtml", "phar", "asp", "aspx", "jsp", "jspx", "html", "htm", "xhtml", "svg",
        "shtml", "htaccess", "lnk", "reg", "app", "dmg", "deb", "rpm", "apk", "docm", "xlsm", "pptm",
    }
)
KNOWN_EXTENSIONS = RISKY_EXTENSIONS | set(DOCUMENT_TYPES) | set(VIDEO_TYPES) | {"doc", "xls", "ppt", "txt", "csv"}

OOXML_PART = {"pptx": "ppt/", "docx": "word/", "xlsx": "xl/"}
SNIFF_BYTES = 64


@dataclass(frozen=True)
class CheckedUpload:
    """An upload that passed every check."""

    file: object  # a Django File / UploadedFile, positioned at 0
    original_name: str
    extension: str
    content_type: str
    size: int
    sha256: str


def _mb(n: int) -> str:
    value = n / (1024 * 1024)
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}".rstrip("0").rstrip(".")


def validate_filename(name: str | None) -> tuple[str, str]:
    """Return ``(clean name, lower-case extension)`` or raise ``ValidationError`` with a clear message."""
    if not name or not name.strip():
        raise ValidationError(_("The file has no name."), code="name_missing")
    name = unicodedata.normalize("NFC", name)
    if "\x00" in name or any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        raise ValidationError(_("The file name contains control characters."), code="name_control")
    if "/" in name or "\\" in name or name.startswith("~") or (len(name) > 1 and name[1] == ":"):
        raise ValidationError(
            _("The file name must not contain a path (folders, “../”, “/” or “\\”)."), code="name_path"
        )
    if name.strip() in {".", ".."} or ".." in name:
        raise ValidationError(_("The file name must not contain “..”."), code="name_path")
    if len(name) > 200:
        raise ValidationError(_("The file name is too long (at most 200 characters)."), code="name_long")
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem.strip() or not ext:
        raise ValidationError(_("The file name needs an extension such as .pdf."), code="name_extension")
    ext = ext.lower()
    inner = [part.lower() for part in stem.split(".")[1:]]
    if any(part in KNOWN_EXTENSIONS for part in inner):
        raise ValidationError(
            _("Double extensions such as “report.pdf.exe” are not allowed: rename the file to “%(example)s”.")
            % {"example": f"{stem.split('.')[0]}.{ext}"},
            code="name_double_extension",
        )
    return name, ext


def sniff(head: bytes, fileobj) -> str | None:
    """What the content is: pdf, zip, pptx, docx, xlsx, png, jpeg, mp4, webm or None."""
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm" if b"webm" in head[:SNIFF_BYTES] else None
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        try:
            fileobj.seek(0)
            with zipfile.ZipFile(fileobj) as zf:
                names = zf.namelist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            return None
        if "[Content_Types].xml" in names:
            for kind, prefix in OOXML_PART.items():
                if any(n.startswith(prefix) for n in names):
                    return kind
        return "zip"
    return None


def validate_upload(uploaded, *, kind: str, name: str | None = None) -> CheckedUpload:
    """Check name, size and content of an upload; returns a ``CheckedUpload`` or raises ``ValidationError``."""
    allowed = ALLOWED[kind]
    original_name, ext = validate_filename(name if name is not None else getattr(uploaded, "name", None))
    if ext not in allowed:
        raise ValidationError(
            _("Files of type .%(ext)s are not accepted. Allowed: %(allowed)s.")
            % {"ext": ext, "allowed": ", ".join(sorted(allowed))},
            code="type_not_allowed",
        )
    limit = settings.UPLOAD_MAX_BYTES
    size = uploaded.size
    if size is None:
        uploaded.seek(0, 2)
        size = uploaded.tell()
    if size > limit:
        raise ValidationError(
            _("The file is too large (%(size)s MB). The limit is %(limit)s MB.")
            % {"size": _mb(size), "limit": _mb(limit)},
            code="too_large",
        )
    if size == 0:
        raise ValidationError(_("The file is empty."), code="empty")
    uploaded.seek(0)
    head = uploaded.read(SNIFF_BYTES)
    detected = sniff(head, uploaded)
    expected = allowed[ext][1]
    ok = detected == expected or (expected == "zip" and detected in OOXML_PART)
    if not ok:
        raise ValidationError(
            _("The content of “%(name)s” is not a valid .%(ext)s file (it was checked by its content, not only its name).")
            % {"name": original_name, "ext": ext},
            code="type_mismatch",
        )
    digest = hashlib.sha256()
    uploaded.seek(0)
    for chunk in uploaded.chunks() if hasattr(uploaded, "chunks") else iter(lambda: uploaded.read(65536), b""):
        digest.update(chunk)
    uploaded.seek(0)
    return CheckedUpload(
        file=uploaded,
        original_name=original_name,
        extension=ext,
        content_type=allowed[ext][0],
        size=size,
        sha256=digest.hexdigest(),
    )


@contextmanager
def stored_upload(instance, checked: CheckedUpload, *, upload_to, storage=None) -> Iterator[str]:
    """Store ``checked`` under a random name and yield that name.

    Use it inside the service's ``transaction.atomic`` block, around the row's INSERT: if
    anything in the block raises (validation, a constraint, a crashed save), the transaction is
    rolled back and the stored file is removed again, so nothing half-written remains.
    """
    storage = storage or default_storage
    stored = storage.save(upload_to(instance, f"upload.{checked.extension}"), checked.file)
    try:
        yield stored
    except BaseException:
        storage.delete(stored)
        raise
