"""What every LRS response shares (Communication 1.x): the version header, JSON errors, HEAD,
the alternate request syntax, and ``X-Experience-API-Consistent-Through`` on the Statements resource."""

from __future__ import annotations

import functools
import io
import logging

from django.http import HttpRequest, JsonResponse, QueryDict
from django.utils import timezone

logger = logging.getLogger(__name__)

XAPI_VERSION = "1.0.3"
VERSION_HEADER = "X-Experience-API-Version"
CONSISTENT_HEADER = "X-Experience-API-Consistent-Through"
ALT_METHODS = {"GET", "PUT", "POST", "DELETE", "HEAD"}
# form fields of the alternate syntax that are request headers (Communication 1.3)
ALT_HEADERS = {
    "authorization": "HTTP_AUTHORIZATION",
    "x-experience-api-version": "HTTP_X_EXPERIENCE_API_VERSION",
    "content-type": "CONTENT_TYPE",
    "content-length": None,
    "if-match": "HTTP_IF_MATCH",
    "if-none-match": "HTTP_IF_NONE_MATCH",
}


def json_error(reason: str, status: int) -> JsonResponse:
    response = JsonResponse({"detail": reason}, status=status)
    response[VERSION_HEADER] = XAPI_VERSION
    return response


class AlternateSyntaxError(ValueError):
    pass


def apply_alternate_syntax(request: HttpRequest) -> None:
    """``POST ?method=PUT`` with a form body → the request it stands for: the form's header
    fields become headers, ``content`` the body, every other field a query parameter."""
    method = request.GET.get("method", "").upper()
    if request.method != "POST":
        raise AlternateSyntaxError("The alternate request syntax uses POST")
    if method not in ALT_METHODS:
        raise AlternateSyntaxError("method must be GET, PUT, POST, DELETE or HEAD")
    if set(request.GET) != {"method"}:
        raise AlternateSyntaxError("With the alternate request syntax every parameter goes in the form body")
    if request.content_type != "application/x-www-form-urlencoded":
        raise AlternateSyntaxError(
            "The alternate request syntax needs Content-Type application/x-www-form-urlencoded"
        )
    form = QueryDict(request.body, encoding="utf-8")
    params = QueryDict(mutable=True)
    content = b""
    for name in form:
        value = form.get(name, "")
        lower = name.lower()
        if lower == "content":
            content = value.encode()
        elif lower in ALT_HEADERS:
            if ALT_HEADERS[lower]:
                request.META[ALT_HEADERS[lower]] = value
        else:
            params.setlist(name, form.getlist(name))
    request.method = method
    request.META["REQUEST_METHOD"] = method
    request.GET = params
    request.META["QUERY_STRING"] = params.urlencode()
    request.META["CONTENT_LENGTH"] = str(len(content))
    if not any(name.lower() == "content-type" for name in form):
        # the form's own type is not the content's: statements are JSON, documents unknown bytes
        statements = request.path.rstrip("/").endswith("/statements")
        request.META["CONTENT_TYPE"] = "application/json" if statements else "application/octet-stream"
    request._set_content_type_params(request.META)
    request._body = content
    request._stream = io.BytesIO(content)
    for cached in ("_post", "_files", "headers"):
        request.__dict__.pop(cached, None)


def xapi_endpoint(view=None, *, require_version: bool = True, statements: bool = False):
    """Wrap an LRS view: alternate syntax, the version check, headers on every response, HEAD."""

    def wrap(func):
        @functools.wraps(func)
        def inner(request, *args, **kwargs):
            response = _respond(func, request, args, kwargs, require_version)
            response[VERSION_HEADER] = XAPI_VERSION
            if statements:
                response[CONSISTENT_HEADER] = timezone.now().isoformat()
            if request.method == "HEAD":
                if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                    response.render()
                if not getattr(response, "streaming", False):
                    response.content = b""
            return response

        inner.csrf_exempt = True
        return inner

    return wrap(view) if view is not None else wrap


def _respond(func, request, args, kwargs, require_version: bool):
    if "method" in request.GET:
        try:
            apply_alternate_syntax(request)
        except AlternateSyntaxError as exc:
            return json_error(str(exc), 400)
    if require_version:
        version = request.headers.get(VERSION_HEADER, "")
        if not (version == "1.0" or version.startswith("1.0.")):
            return json_error(
                f"The {VERSION_HEADER} header is required and must be 1.0.x (this LRS speaks {XAPI_VERSION}).",
                400,
            )
    try:
        return func(request, *args, **kwargs)
    except RecursionError:
        return json_error("The request nests too deeply", 400)
    except Exception:  # the version header and a JSON body even then
        logger.exception("LRS request failed: %s %s", request.method, request.path)
        return json_error("Internal error", 500)


def not_found(request, *args, **kwargs):
    """Any other path under /api/xapi/: a JSON 404 with the version header."""
    return json_error("No such xAPI resource", 404)


not_found_view = xapi_endpoint(not_found, require_version=False)
