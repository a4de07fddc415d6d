"""Checking and unpacking a course zip into one folder on the private storage.

Every entry is checked before anything is written: no path traversal (``..``, absolute paths,
drive letters, backslashes, control characters), no symbolic links or other special files (by the
entry's external attributes), no encrypted entries, no duplicate names (also by case), at most
``PACKAGE_MAX_FILES`` files and ``PACKAGE_MAX_UNPACKED_BYTES`` in total as declared. Extraction then
streams each entry with a byte budget — the declared sizes are not trusted: an entry that inflates
beyond its declared size, beyond the total, or beyond ``PACKAGE_MAX_RATIO`` times its compressed
size stops the unpacking. Whatever was written is removed again when anything fails.
"""

from __future__ import annotations

import contextlib
import io
import os
import posixpath
import re
import shutil
import stat
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation, ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.utils.translation import gettext as _

from enablement.packages.manifest import (
    CMI5_MANIFEST,
    MANIFEST_MAX_BYTES,
    SCORM_MANIFEST,
    Manifest,
    parse_cmi5,
    parse_scorm,
)

CHUNK = 64 * 1024
RATIO_MIN_BYTES = 1024 * 1024  # the ratio cap applies to entries larger than this
_DRIVE = re.compile(r"^[A-Za-z]:")


def limits() -> dict[str, int]:
    return {
        "files": settings.PACKAGE_MAX_FILES,
        "bytes": settings.PACKAGE_MAX_UNPACKED_BYTES,
        "ratio": settings.PACKAGE_MAX_RATIO,
    }


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.0f}"


def _refuse(message: str, code: str):
    raise ValidationError(message, code=code)


def check_name(name: str) -> str:
    """The entry's path, normalised (NFC, no ``./``), or ``ValidationError`` for anything that could
    leave the package folder."""
    if not name or "\x00" in name or any(unicodedata.category(ch) == "Cc" for ch in name):
        _refuse(_("The zip contains an entry with control characters in its name."), "zip_name")
    shown = name[:200]
    if "\\" in name:
        _refuse(_("The zip entry “%(name)s” uses backslashes; paths must use “/”.") % {"name": shown}, "zip_backslash")
    if name.startswith("/") or _DRIVE.match(name):
        _refuse(_("The zip entry “%(name)s” has an absolute path.") % {"name": shown}, "zip_absolute")
    parts = name.rstrip("/").split("/")
    if any(p == ".." for p in parts):
        _refuse(_("The zip entry “%(name)s” points outside the package (“..”).") % {"name": shown}, "zip_traversal")
    clean = posixpath.normpath(unicodedata.normalize("NFC", name))
    if clean.startswith(("/", "..")) or clean == "." or len(clean) > 500:
        _refuse(_("The zip entry “%(name)s” is not a valid path.") % {"name": shown}, "zip_name")
    return clean


def _is_dir(info: zipfile.ZipInfo) -> bool:
    return info.filename.endswith("/")


def check_entries(zf: zipfile.ZipFile) -> list[tuple[zipfile.ZipInfo, str]]:
    """Every file entry with its clean path, after the checks of the module docstring."""
    lim = limits()
    infos = zf.infolist()
    files = [i for i in infos if not _is_dir(i)]
    if len(files) > lim["files"]:
        _refuse(
            _("The package has too many files (%(n)s); at most %(max)s are allowed.") % {"n": len(files), "max": lim["files"]},
            "zip_too_many_files",
        )
    seen: dict[str, str] = {}
    out = []
    declared = 0
    for info in infos:
        clean = check_name(info.filename)
        mode = info.external_attr >> 16
        kind = stat.S_IFMT(mode)
        if kind == stat.S_IFLNK:
            _refuse(_("The zip entry “%(name)s” is a symbolic link; links are not accepted.") % {"name": clean}, "zip_symlink")
        if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
            _refuse(_("The zip entry “%(name)s” is not a regular file.") % {"name": clean}, "zip_special")
        if info.flag_bits & 0x1:
            _refuse(_("The zip entry “%(name)s” is encrypted; encrypted packages are not accepted.") % {"name": clean}, "zip_encrypted")
        if _is_dir(info):
            continue
        key = clean.casefold()
        if key in seen:
            _refuse(_("The zip contains “%(name)s” twice.") % {"name": clean}, "zip_duplicate")
        seen[key] = clean
        declared += info.file_size
        out.append((info, clean))
    # A file may not also be a folder of another entry ("a" and "a/b").
    for key in seen:
        parent = posixpath.dirname(key)
        while parent:
            if parent in seen:
                _refuse(_("The zip contains “%(name)s” both as a file and as a folder.") % {"name": seen[parent]}, "zip_duplicate")
            parent = posixpath.dirname(parent)
    if declared > lim["bytes"]:
        _refuse(
            _("The package unpacks to %(size)s MB; at most %(max)s MB are allowed.") % {"size": _mb(declared), "max": _mb(lim["bytes"])},
            "zip_too_large",
        )
    return out


class _Budget:
    def __init__(self, total: int):
        self.left = total


def _read_limited(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, budget: _Budget, *, cap: int | None = None, sink=None) -> int:
    """Stream one entry into ``sink`` (or nowhere), refusing as soon as it inflates beyond its
    declared size, the package's total budget or the compression-ratio cap."""
    ratio = limits()["ratio"]
    written = 0
    try:
        with zf.open(info) as src:
            while True:
                chunk = src.read(CHUNK)
                if not chunk:
                    break
                written += len(chunk)
                budget.left -= len(chunk)
                if written > info.file_size or budget.left < 0 or (cap is not None and written > cap):
                    _refuse(
                        _("The package unpacks to more than it declares (“%(name)s”): it looks like a zip bomb and was refused.")
                        % {"name": name},
                        "zip_bomb",
                    )
                if written > RATIO_MIN_BYTES and written > ratio * max(info.compress_size, 1):
                    _refuse(
                        _("“%(name)s” is compressed more than %(ratio)s to 1: it looks like a zip bomb and was refused.")
                        % {"name": name, "ratio": ratio},
                        "zip_bomb",
                    )
                if sink is not None:
                    sink.write(chunk)
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
        _refuse(_("The zip entry “%(name)s” cannot be read (%(error)s).") % {"name": name, "error": str(exc)[:120]}, "zip_corrupt")
    return written


def read_manifest(zf: zipfile.ZipFile, entries: list[tuple[zipfile.ZipInfo, str]]) -> Manifest:
    by_name = {clean: info for info, clean in entries}
    if SCORM_MANIFEST in by_name:
        name, parse = SCORM_MANIFEST, parse_scorm
    elif CMI5_MANIFEST in by_name:
        name, parse = CMI5_MANIFEST, parse_cmi5
    else:
        _refuse(
            _("The zip has no imsmanifest.xml (SCORM) or cmi5.xml (cmi5) at its top level. Export the course as a SCORM or cmi5 package and upload the zip as it is."),
            "manifest_missing",
        )
    info = by_name[name]
    if info.file_size > MANIFEST_MAX_BYTES:
        _refuse(_("%(name)s is larger than 2 MB.") % {"name": name}, "manifest_large")
    buf = io.BytesIO()
    _read_limited(zf, info, name, _Budget(MANIFEST_MAX_BYTES), cap=MANIFEST_MAX_BYTES, sink=buf)
    manifest = parse(buf.getvalue())
    if manifest.launch_path not in by_name:
        _refuse(
            _("The launch file named in %(manifest)s, “%(path)s”, is not in the zip.") % {"manifest": name, "path": manifest.launch_path[:200]},
            "manifest_launch_missing",
        )
    return manifest


@dataclass
class Unpacked:
    folder: str
    manifest: Manifest
    files: list[list] = field(default_factory=list)  # [[path, size], ...]
    total: int = 0


def inspect(fileobj) -> tuple[zipfile.ZipFile, list[tuple[zipfile.ZipInfo, str]], Manifest]:
    """Open and check a zip and read its manifest, writing nothing."""
    try:
        fileobj.seek(0)
        zf = zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ValidationError(_("The file is not a valid zip archive."), code="zip_invalid") from exc
    entries = check_entries(zf)
    return zf, entries, read_manifest(zf, entries)


def remove_folder(folder: str, names, storage=None) -> None:
    """Delete the files written into ``folder`` (and, on a file system, its empty directories)."""
    storage = storage or default_storage
    for name in names:
        with contextlib.suppress(OSError, SuspiciousFileOperation):
            storage.delete(f"{folder}/{name}")
    if hasattr(storage, "path"):
        root = storage.path(folder)
        if os.path.isdir(root):
            shutil.rmtree(root, ignore_errors=True)


def unpack(fileobj, *, folder: str, storage=None) -> Unpacked:
    """Check ``fileobj`` and extract it into ``folder`` on ``storage``. Raises ``ValidationError``
    (with nothing left written) when the zip or its manifest is refused."""
    storage = storage or default_storage
    zf, entries, manifest = inspect(fileobj)
    budget = _Budget(limits()["bytes"])
    result = Unpacked(folder=folder, manifest=manifest)
    written: list[str] = []
    try:
        with zf:
            for info, clean in entries:
                target = f"{folder}/{clean}"
                with tempfile.SpooledTemporaryFile(max_size=1024 * 1024) as tmp:
                    size = _read_limited(zf, info, clean, budget, sink=tmp)
                    tmp.seek(0)
                    stored = storage.save(target, File(tmp, name=posixpath.basename(clean)))
                written.append(clean)
                if stored != target:  # the storage renamed it: never serve a file under another name
                    written.append(stored[len(folder) + 1 :])
                    _refuse(_("The zip entry “%(name)s” could not be stored under its own name.") % {"name": clean}, "zip_name")
                result.files.append([clean, size])
                result.total += size
    except (ValidationError, SuspiciousFileOperation) as exc:
        remove_folder(folder, written, storage)
        if isinstance(exc, SuspiciousFileOperation):
            raise ValidationError(_("The zip contains a path that cannot be stored safely."), code="zip_name") from exc
        raise
    except BaseException:
        remove_folder(folder, written, storage)
        raise
    return result
