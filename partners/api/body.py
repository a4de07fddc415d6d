"""Reading a request body with a size limit, whatever its framing.

Django reads ``CONTENT_LENGTH`` bytes and nothing when the header is missing, so a body sent with
``Transfer-Encoding: chunked`` reads as empty. WSGI servers that de-chunk the body (gunicorn)
say so with ``wsgi.input_terminated``: then the stream is read to its end, but never more than
the limit allows.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Body:
    data: bytes | None  # None: too large (or a chunked body the server cannot frame)
    status: int = 200  # 413 too large, 411 length required


def read_body(request, max_bytes: int) -> Body:
    """The request body, or why it was not read (413 over ``max_bytes``, 411 unframed chunked)."""
    meta = request.META
    try:
        length = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > max_bytes:
        return Body(None, 413)
    chunked = "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower()
    if chunked and not meta.get("CONTENT_LENGTH"):
        if not meta.get("wsgi.input_terminated"):
            return Body(None, 411)
        stream = meta["wsgi.input"]
        data = bytearray()
        while len(data) <= max_bytes:
            part = stream.read(min(64 * 1024, max_bytes + 1 - len(data)))
            if not part:
                break
            data += part
        if len(data) > max_bytes:
            return Body(None, 413)
        return Body(bytes(data))
    body = request.body
    if len(body) > max_bytes:
        return Body(None, 413)
    return Body(body)
