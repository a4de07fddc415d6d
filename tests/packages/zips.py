"""Zips for the package tests: the real sample packages and malicious ones built byte by byte."""

from __future__ import annotations

import io
import stat
import zipfile

from enablement.packages.samples import _MANIFEST_2004, sco_html

MANIFEST = _MANIFEST_2004.format(title="t")
SCO = sco_html(title="t", pages=["a"], scorm12=False)


def build(entries: list[tuple[str | zipfile.ZipInfo, bytes | str]], *, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return buf.getvalue()


def valid_with(*extra: tuple[str | zipfile.ZipInfo, bytes | str]) -> bytes:
    """A valid SCORM 2004 package plus ``extra`` entries."""
    return build([("imsmanifest.xml", MANIFEST), ("index.html", SCO), ("style.css", "body{}"), *extra])


def symlink(name: str, target: str) -> tuple[zipfile.ZipInfo, str]:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target


def mark_encrypted(data: bytes, name: str) -> bytes:
    """Set the "encrypted" flag of ``name`` in its local header and central-directory record."""
    raw = bytearray(data)
    encoded = name.encode()
    for signature, flags_at, name_len_at, name_at in ((b"PK\x01\x02", 8, 28, 46), (b"PK\x03\x04", 6, 26, 30)):
        at = 0
        while (at := raw.find(signature, at)) != -1:
            name_len = int.from_bytes(raw[at + name_len_at : at + name_len_at + 2], "little")
            if bytes(raw[at + name_at : at + name_at + name_len]) == encoded:
                raw[at + flags_at] |= 0x1
            at += 4
    return bytes(raw)


def bomb(name: str = "assets/big.bin", size: int = 30 * 1024 * 1024) -> tuple[str, bytes]:
    """Zeros compress about 1000:1."""
    return name, b"\0" * size


def lying_sizes(data: bytes, name: str, declared: int) -> bytes:
    """Rewrite the uncompressed size of ``name`` in the local header and the central directory."""
    raw = bytearray(data)
    encoded = name.encode()
    # central directory: signature PK\x01\x02, uncompressed size at offset 24
    at = 0
    while (at := raw.find(b"PK\x01\x02", at)) != -1:
        name_len = int.from_bytes(raw[at + 28 : at + 30], "little")
        if bytes(raw[at + 46 : at + 46 + name_len]) == encoded:
            raw[at + 24 : at + 28] = declared.to_bytes(4, "little")
        at += 4
    at = 0
    while (at := raw.find(b"PK\x03\x04", at)) != -1:
        name_len = int.from_bytes(raw[at + 26 : at + 28], "little")
        if bytes(raw[at + 30 : at + 30 + name_len]) == encoded:
            raw[at + 22 : at + 26] = declared.to_bytes(4, "little")
        at += 4
    return bytes(raw)
