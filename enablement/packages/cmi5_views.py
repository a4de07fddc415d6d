"""The endpoints a cmi5 AU calls from its sandboxed frame (under ``/packages/cmi5/``): the fetch
URL and the part of the LRS a launch's auth token may use (Statements PUT/POST, its own State
documents, the Agent Profile read that finds no learner preferences).

The AU's document has an opaque origin, so its requests are cross-origin with ``Origin: null``:
these endpoints (and only these) answer CORS for that origin, without credentials. The token in
the ``Authorization`` header is the only credential; cookies are neither needed nor accepted."""

from __future__ import annotations

import functools
import json
import uuid

from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from enablement.lrs.documents import MAX_DOCUMENT, DocumentError, document_delete, document_get, document_put
from enablement.lrs.http import VERSION_HEADER, XAPI_VERSION
from enablement.lrs.validation import XapiInvalid, check_depth, validate_agent
from enablement.packages.cmi5 import (
    LAUNCH_DATA,
    Cmi5Refused,
    cmi5_statements_store,
    fetch_token,
    launch_for_token,
    state_key_for,
    token_claims,
)
from enablement.packages.models import Cmi5Launch
from enablement.throttling import portal_log_wait
from partners.tenancy import tenant_scope

ALLOW_HEADERS = "Authorization, Content-Type, X-Experience-API-Version, If-Match, If-None-Match"
EXPOSE_HEADERS = "ETag, Last-Modified, X-Experience-API-Version, X-Experience-API-Consistent-Through"
MAX_STATEMENTS_BODY = 2 * 1024 * 1024


def _error(reason: str, status: int) -> JsonResponse:
    return JsonResponse({"detail": reason}, status=status)


def cors_null(methods: str):
    """CORS for the sandboxed AU (``Origin: null``) only: the preflight, and the headers on the
    answer. Any other origin gets no CORS header (the browser then keeps the answer from it)."""

    def wrap(view):
        @functools.wraps(view)
        def inner(request, *args, **kwargs):
            if request.method == "OPTIONS":
                response = HttpResponse(status=204)
            else:
                response = view(request, *args, **kwargs)
            response[VERSION_HEADER] = XAPI_VERSION
            if request.headers.get("Origin") == "null":
                response["Access-Control-Allow-Origin"] = "null"
                response["Access-Control-Allow-Methods"] = f"{methods}, OPTIONS"
                response["Access-Control-Allow-Headers"] = ALLOW_HEADERS
                response["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
                response["Access-Control-Max-Age"] = "600"
            response["Vary"] = "Origin"
            response["Cache-Control"] = "no-store"
            return response

        return csrf_exempt(never_cache(inner))

    return wrap


def _authorised(view):
    """Open the tenant's scope from the token and hand the view its launch; 401 otherwise."""

    @functools.wraps(view)
    def inner(request, *args, **kwargs):
        claims = token_claims(request.headers.get("Authorization", ""))
        if claims is None:
            return _error("A cmi5 auth token is required (Authorization: Basic <auth-token>)", 401)
        version = request.headers.get(VERSION_HEADER, "")
        if not (version == "1.0" or version.startswith("1.0.")):
            return _error(f"The {VERSION_HEADER} header is required and must be 1.0.x", 400)
        tenant_id, launch_id, secret = claims
        with tenant_scope(tenant_id):
            launch = launch_for_token(tenant_id=tenant_id, launch_id=launch_id, secret=secret)
            if launch is None:
                return _error("The auth token is not valid (unknown, expired or not fetched)", 401)
            # the course writes the learner's log through these endpoints: the portal's per-person rate
            wait = portal_log_wait(request, tenant_id=tenant_id, user_id=launch.attempt.user_id)
            if wait is not None:
                response = _error("Too many requests; retry after the delay in Retry-After", 429)
                response["Retry-After"] = str(wait)
                return response
            try:
                return view(request, launch, *args, **kwargs)
            except Cmi5Refused as exc:
                return _error(exc.reason, exc.status)
            except XapiInvalid as exc:
                return _error(str(exc), 400)
            except DocumentError as exc:
                return _error(exc.reason, exc.status)

    return inner


def _home(request) -> str:
    return f"{request.scheme}://{request.get_host()}/"


@cors_null("POST")
def fetch(request, tenant_id: int, launch_id: int, secret: str):
    """cmi5 8.2: POST → ``{"auth-token": …}`` once; errors as ``{"error-code", "error-text"}``."""
    if request.method != "POST":
        return _error("The fetch URL is called with POST", 405)
    with tenant_scope(tenant_id):
        launch = Cmi5Launch.objects.filter(tenant_id=tenant_id, pk=launch_id).first()
        if launch is None:
            return JsonResponse({"error-code": "3", "error-text": "Invalid fetch request"}, status=400)
        try:
            token = fetch_token(launch=launch, secret=secret)
        except Cmi5Refused as exc:
            return JsonResponse({"error-code": str(exc.status), "error-text": exc.reason}, status=400)
    return JsonResponse({"auth-token": token})


def _json_body(request):
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_STATEMENTS_BODY or len(request.body) > MAX_STATEMENTS_BODY:
        raise Cmi5Refused(413, "The request is too large")
    if request.content_type != "application/json":
        raise XapiInvalid("Content-Type must be application/json")
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise XapiInvalid("Malformed JSON") from exc
    check_depth(body, 34)
    return body


@cors_null("PUT, POST")
@_authorised
def statements(request, launch):
    if request.method == "PUT":
        try:
            statement_id = str(uuid.UUID(request.GET.get("statementId", "")))
        except ValueError:
            return _error("statementId (a UUID) is required", 400)
        body = _json_body(request)
        if not isinstance(body, dict):
            raise XapiInvalid("PUT takes one statement")
        if "id" in body and str(body["id"]).lower() != statement_id:
            raise XapiInvalid("The statement's id differs from statementId")
        body["id"] = statement_id
        cmi5_statements_store(launch=launch, statements=[body], authority_home=_home(request))
        return HttpResponse(status=204)
    if request.method == "POST":
        body = _json_body(request)
        batch = body if isinstance(body, list) else [body]
        if not batch or not all(isinstance(s, dict) for s in batch):
            raise XapiInvalid("POST takes a statement or a list of statements")
        ids = cmi5_statements_store(launch=launch, statements=batch, authority_home=_home(request))
        return JsonResponse(ids, safe=False)
    return _error("A cmi5 auth token may only send statements (PUT, POST)", 405)


@cors_null("GET, PUT, POST, DELETE")
@_authorised
def state(request, launch):
    params = request.GET
    try:
        agent = json.loads(params.get("agent", ""))
    except ValueError as exc:
        raise XapiInvalid("agent must be a JSON Agent") from exc
    validate_agent(agent, "agent")
    try:
        registration = str(uuid.UUID(params.get("registration", "")))
    except ValueError as exc:
        raise Cmi5Refused(403, "This token only reaches the state of its own registration") from exc
    key = state_key_for(launch, activity_id=params.get("activityId", ""), agent=agent, registration=registration)
    tenant = launch.tenant
    state_id = params.get("stateId")
    if request.method == "GET":
        if not state_id:
            return _error("This token reads single State documents (stateId)", 403)
        doc = document_get(tenant=tenant, key=key, document_id=state_id)
        if doc is None:
            return _error("No such document", 404)
        response = HttpResponse(bytes(doc.content), content_type=doc.content_type)
        response["ETag"] = doc.etag
        return response
    if not state_id:
        raise XapiInvalid("stateId is required")
    if state_id == LAUNCH_DATA:
        raise Cmi5Refused(403, "LMS.LaunchData is written by the LMS only")
    if request.method in ("PUT", "POST"):
        if len(request.body) > MAX_DOCUMENT:
            raise DocumentError(413, "The document is too large")
        document_put(
            tenant=tenant, key=key, document_id=state_id, content=request.body,
            content_type=request.META.get("CONTENT_TYPE") or "application/octet-stream", merge=request.method == "POST",
            if_match=request.headers.get("If-Match"), if_none_match=request.headers.get("If-None-Match"),
        )
        return HttpResponse(status=204)
    if request.method == "DELETE":
        document_delete(tenant=tenant, key=key, document_id=state_id)
        return HttpResponse(status=204)
    return _error("Method not allowed", 405)


@cors_null("GET")
@_authorised
def agent_profile(request, launch):
    """The learner preferences (``cmi5LearnerPreferences``): the portal keeps none, so 404."""
    if request.method != "GET":
        return _error("A cmi5 auth token may only read the agent profile", 405)
    return _error("No such document", 404)
