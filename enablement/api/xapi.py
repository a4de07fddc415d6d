"""xAPI 1.0.3 Learning Record Store: the Statements and About resources under ``/api/xapi/``.

* ``X-Experience-API-Version: 1.0.3`` on every response; requests to the Statements resource
  without a 1.0.x version header are answered 400.
* HTTP Basic (key id = prefix, password = secret) as LRS clients send it, or ``Api-Key``.
  Writing needs the key scope ``events:write``, reading ``read``.
* ``PUT ?statementId=`` → 204; ``POST`` (one or a list) → 200 with the ids; the same id with the
  same content is a no-op, with different content 409; one invalid statement rejects the batch.
* ``GET`` by ``statementId``/``voidedStatementId`` or with the filters agent, verb, activity,
  registration, related_activities, related_agents, since, until, limit, ascending, format,
  attachments; ``more`` pages; voided statements are hidden from lists.
* Response header ``X-Shien-Unmapped`` counts the statements kept but not mapped onto the log;
  ``GET /api/xapi/unmapped`` summarises them.
"""

from __future__ import annotations

import functools
import json
import uuid
from typing import Any
from urllib.parse import urlencode

from django.db.models import Count
from django.http import JsonResponse
from django.utils import timezone
from django.utils.http import http_date
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from enablement.api.xapi_mapping import actor_key
from enablement.api.xapi_store import XapiConflict, public_payload, xapi_statements_store
from enablement.api.xapi_validation import XapiInvalid, parse_timestamp, validate_agent, validate_statement
from enablement.models import XapiStatement
from partners.api.authentication import ApiKeyAuthentication, ApiKeyBasicAuthentication
from partners.api.base import TenantAPIView

XAPI_VERSION = "1.0.3"
VERSION_HEADER = "X-Experience-API-Version"
MAX_LIMIT = 500
MAX_BODY = 2 * 1024 * 1024  # = DATA_UPLOAD_MAX_MEMORY_SIZE: checked before Django would refuse to read
GET_PARAMS = {
    "statementId", "voidedStatementId", "agent", "verb", "activity", "registration", "related_activities",
    "related_agents", "since", "until", "limit", "format", "attachments", "ascending", "from_id",
}  # fmt: skip
SINGLE_OK = {"statementId", "voidedStatementId", "format", "attachments"}


def xapi_endpoint(view=None, *, require_version: bool = True):
    """Wrap an LRS view: check the request's version header, set ours on every response."""

    def wrap(func):
        @functools.wraps(func)
        def inner(request, *args, **kwargs):
            if require_version:
                version = request.headers.get(VERSION_HEADER, "")
                if not (version == "1.0" or version.startswith("1.0.")):
                    response = JsonResponse(
                        {"detail": f"The {VERSION_HEADER} header is required and must be 1.0.x (this LRS speaks {XAPI_VERSION})."},
                        status=400,
                    )
                    response[VERSION_HEADER] = XAPI_VERSION
                    return response
            response = func(request, *args, **kwargs)
            response[VERSION_HEADER] = XAPI_VERSION
            return response

        return inner

    return wrap(view) if view is not None else wrap


def _bad(reason: str, code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    return Response({"detail": reason}, status=code)


def _bool(value: str | None, name: str) -> bool:
    if value is None:
        return False
    if value not in ("true", "false"):
        raise XapiInvalid(f"{name} must be true or false")
    return value == "true"


STATEMENT_EXAMPLE = {
    "actor": {"objectType": "Agent", "mbox": "mailto:partner@sakura.example"},
    "verb": {"id": "https://w3id.org/xapi/video/verbs/played", "display": {"en-US": "played"}},
    "object": {"objectType": "Activity", "id": "https://lms.example/assets/onboarding-video"},
    "result": {
        "extensions": {
            "https://w3id.org/xapi/video/extensions/played-segments": "0[.]120[,]180[.]300",
            "https://w3id.org/xapi/video/extensions/progress": 0.5,
        }
    },
    "timestamp": "2026-04-01T10:15:00+09:00",
}
STATEMENT_SCHEMA = OpenApiTypes.OBJECT
VERSION_PARAM = OpenApiParameter(VERSION_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=True, default="1.0.3")


class JsonOnlyNegotiation(BaseContentNegotiation):
    """Always JSON: xAPI's ``format`` parameter (exact/ids/canonical) is not DRF's format override."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class StatementsView(TenantAPIView):
    authentication_classes = [ApiKeyBasicAuthentication, ApiKeyAuthentication]
    content_negotiation_class = JsonOnlyNegotiation

    def _authority(self) -> dict[str, Any]:
        key = self.request.auth
        return {
            "objectType": "Agent",
            "name": key.name,
            "account": {"homePage": self.request.build_absolute_uri("/api/xapi/"), "name": key.prefix},
        }

    def _body(self, request):
        content_type = request.content_type.split(";")[0].strip().lower()
        if content_type != "application/json":
            raise XapiInvalid("Content-Type must be application/json (attachments in multipart/mixed are not supported)")
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY or len(request.body) > MAX_BODY:
            raise XapiInvalid(f"At most {MAX_BODY} bytes per request")
        try:
            return json.loads(request.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise XapiInvalid(f"Malformed JSON: {exc}") from exc

    def _store(self, statements) -> tuple[Response | None, Any]:
        try:
            for i, stmt in enumerate(statements):
                try:
                    validate_statement(stmt)
                except XapiInvalid as exc:
                    prefix = f"statement[{i}]: " if len(statements) > 1 else ""
                    raise XapiInvalid(prefix + str(exc)) from exc
            report = xapi_statements_store(
                tenant=self.tenant,
                statements=statements,
                authority=self._authority(),
                trusted=bool(getattr(self.request.auth, "trusted_source", False)),
            )
        except XapiInvalid as exc:
            return _bad(str(exc)), None
        except XapiConflict as exc:
            return _bad(str(exc), status.HTTP_409_CONFLICT), None
        return None, report

    @staticmethod
    def _report_headers(response: Response, report) -> Response:
        response["X-Shien-Unmapped"] = str(sum(report.unmapped.values()))
        if report.unmapped:
            response["X-Shien-Unmapped-Reasons"] = "; ".join(f"{k}={v}" for k, v in sorted(report.unmapped.items()))
        return response

    @extend_schema(
        summary="Store one statement with a given id (xAPI PUT)",
        tags=["xapi"],
        parameters=[OpenApiParameter("statementId", OpenApiTypes.UUID, required=True), VERSION_PARAM],
        request=STATEMENT_SCHEMA,
        responses={204: None, 400: OpenApiResponse(description="Invalid statement"), 409: OpenApiResponse(description="Same id, other content")},
        examples=[OpenApiExample("Video played", value=STATEMENT_EXAMPLE, request_only=True)],
    )
    def put(self, request):
        try:
            sid = request.query_params.get("statementId")
            if not sid:
                raise XapiInvalid("statementId is required")
            try:
                sid = str(uuid.UUID(sid))
            except ValueError as exc:
                raise XapiInvalid("statementId must be a UUID") from exc
            extra = set(request.query_params) - {"statementId"}
            if extra:
                raise XapiInvalid(f"Unexpected parameters: {', '.join(sorted(extra))}")
            stmt = self._body(request)
            if not isinstance(stmt, dict):
                raise XapiInvalid("PUT takes a single statement object")
            if "id" in stmt and isinstance(stmt["id"], str) and stmt["id"].lower() != sid:
                raise XapiInvalid("The statement id differs from statementId")
            stmt = {**stmt, "id": stmt.get("id", sid)}
        except XapiInvalid as exc:
            return _bad(str(exc))
        error, report = self._store([stmt])
        if error:
            return error
        return self._report_headers(Response(status=status.HTTP_204_NO_CONTENT), report)

    @extend_schema(
        summary="Store one statement or a list (xAPI POST)",
        tags=["xapi"],
        parameters=[VERSION_PARAM],
        request=STATEMENT_SCHEMA,
        responses={
            200: OpenApiResponse({"type": "array", "items": {"type": "string", "format": "uuid"}}, description="The statement ids, in order"),
            400: OpenApiResponse(description="Invalid statement (the whole batch is rejected)"),
            409: OpenApiResponse(description="Same id, other content"),
        },
        examples=[
            OpenApiExample("Statement", value=STATEMENT_EXAMPLE, request_only=True),
            OpenApiExample("Ids", value=["9e5d6b3a-2b3c-4f51-8a55-0d7d2c8f1e10"], response_only=True),
        ],
    )
    def post(self, request):
        if request.query_params:
            return _bad("POST takes no parameters (the alternate request syntax is not supported)")
        try:
            body = self._body(request)
        except XapiInvalid as exc:
            return _bad(str(exc))
        statements = body if isinstance(body, list) else [body]
        if not statements:
            return _bad("No statements")
        error, report = self._store(statements)
        if error:
            return error
        return self._report_headers(Response(report.ids, status=status.HTTP_200_OK), report)

    @extend_schema(
        summary="Get one statement or query statements (xAPI GET)",
        tags=["xapi"],
        parameters=[
            VERSION_PARAM,
            OpenApiParameter("statementId", OpenApiTypes.UUID),
            OpenApiParameter("voidedStatementId", OpenApiTypes.UUID),
            OpenApiParameter("agent", OpenApiTypes.STR, description='JSON Agent, e.g. {"mbox": "mailto:a@b.example"}'),
            OpenApiParameter("verb", OpenApiTypes.URI),
            OpenApiParameter("activity", OpenApiTypes.URI),
            OpenApiParameter("registration", OpenApiTypes.UUID),
            OpenApiParameter("related_activities", OpenApiTypes.BOOL),
            OpenApiParameter("related_agents", OpenApiTypes.BOOL),
            OpenApiParameter("since", OpenApiTypes.DATETIME),
            OpenApiParameter("until", OpenApiTypes.DATETIME),
            OpenApiParameter("limit", OpenApiTypes.INT),
            OpenApiParameter("format", OpenApiTypes.STR, enum=["exact", "ids", "canonical"]),
            OpenApiParameter("attachments", OpenApiTypes.BOOL),
            OpenApiParameter("ascending", OpenApiTypes.BOOL),
        ],
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiResponse(description="Bad parameters"), 404: OpenApiResponse(description="Unknown")},
        examples=[OpenApiExample("StatementResult", value={"statements": [STATEMENT_EXAMPLE], "more": ""}, response_only=True)],
    )
    def get(self, request):
        params = request.query_params
        try:
            unknown = set(params) - GET_PARAMS
            if unknown:
                raise XapiInvalid(f"Unexpected parameters: {', '.join(sorted(unknown))}")
            if params.get("format", "exact") not in ("exact", "ids", "canonical"):
                raise XapiInvalid("format must be exact, ids or canonical")
            if _bool(params.get("attachments"), "attachments"):
                raise XapiInvalid("Attachments are not supported by this LRS")
            if "statementId" in params or "voidedStatementId" in params:
                return self._get_one(params)
            return self._get_many(request, params)
        except XapiInvalid as exc:
            return _bad(str(exc))

    def _get_one(self, params):
        if "statementId" in params and "voidedStatementId" in params:
            raise XapiInvalid("Use statementId or voidedStatementId, not both")
        extra = set(params) - SINGLE_OK
        if extra:
            raise XapiInvalid(f"statementId/voidedStatementId cannot be combined with {', '.join(sorted(extra))}")
        voided = "voidedStatementId" in params
        raw = params["voidedStatementId" if voided else "statementId"]
        try:
            sid = uuid.UUID(raw)
        except ValueError as exc:
            raise XapiInvalid("The statement id must be a UUID") from exc
        row = XapiStatement.objects.filter(tenant=self.tenant, statement_id=sid, voided=voided).first()
        if row is None:
            return _bad("No such statement", status.HTTP_404_NOT_FOUND)
        response = Response(public_payload(row.payload))
        response["Last-Modified"] = http_date(row.stored.timestamp())
        return response

    def _get_many(self, request, params):
        qs = XapiStatement.objects.filter(tenant=self.tenant, voided=False)
        if "agent" in params:
            try:
                agent = json.loads(params["agent"])
            except ValueError as exc:
                raise XapiInvalid("agent must be a JSON Agent or Group") from exc
            validate_agent(agent, "agent")
            qs = qs.filter(actor_key=actor_key(agent))
        if "verb" in params:
            qs = qs.filter(verb_id=params["verb"])
        if "activity" in params:
            qs = qs.filter(activity_id=params["activity"])
        if "registration" in params:
            try:
                qs = qs.filter(registration=uuid.UUID(params["registration"]))
            except ValueError as exc:
                raise XapiInvalid("registration must be a UUID") from exc
        _bool(params.get("related_activities"), "related_activities")
        _bool(params.get("related_agents"), "related_agents")
        for name, lookup in (("since", "stored__gt"), ("until", "stored__lte")):
            if name in params:
                when = parse_timestamp(params[name], name)
                if timezone.is_naive(when):
                    when = timezone.make_aware(when, timezone.UTC)
                qs = qs.filter(**{lookup: when})
        ascending = _bool(params.get("ascending"), "ascending")
        try:
            limit = int(params.get("limit", "100"))
        except ValueError as exc:
            raise XapiInvalid("limit must be a non-negative integer") from exc
        if limit < 0:
            raise XapiInvalid("limit must be a non-negative integer")
        limit = MAX_LIMIT if limit == 0 else min(limit, MAX_LIMIT)
        if "from_id" in params:
            try:
                from_id = int(params["from_id"])
            except ValueError as exc:
                raise XapiInvalid("from_id is not valid") from exc
            qs = qs.filter(id__gt=from_id) if ascending else qs.filter(id__lt=from_id)
        qs = qs.order_by("id" if ascending else "-id")
        rows = list(qs.values_list("id", "payload")[: limit + 1])
        more = ""
        if len(rows) > limit:
            rows = rows[:limit]
            nxt = {k: v for k, v in params.items() if k != "from_id"}
            nxt["from_id"] = str(rows[-1][0])
            more = "/api/xapi/statements?" + urlencode(nxt)
        statements = [self._format(public_payload(p), params.get("format", "exact")) for _i, p in rows]
        response = Response({"statements": statements, "more": more})
        response["X-Experience-API-Consistent-Through"] = timezone.now().isoformat()
        return response

    @staticmethod
    def _format(stmt: dict[str, Any], fmt: str) -> dict[str, Any]:
        if fmt != "ids":
            return stmt
        out = dict(stmt)

        def ids_only(agent):
            return {k: v for k, v in agent.items() if k in ("objectType", "mbox", "mbox_sha1sum", "openid", "account")}

        out["actor"] = ids_only(stmt["actor"])
        if stmt["object"].get("objectType", "Activity") == "Activity":
            out["object"] = {"objectType": "Activity", "id": stmt["object"]["id"]}
        out["verb"] = {"id": stmt["verb"]["id"]}
        return out


class UnmappedView(TenantAPIView):
    authentication_classes = [ApiKeyBasicAuthentication, ApiKeyAuthentication]

    @extend_schema(
        summary="Statements kept but not mapped onto the activity log",
        tags=["xapi"],
        parameters=[VERSION_PARAM],
        responses={200: inline_serializer(
            "XapiUnmapped",
            {"total": serializers.IntegerField(), "by_reason": serializers.ListField(child=serializers.DictField())},
        )},  # fmt: skip
        examples=[
            OpenApiExample(
                "Summary",
                value={"total": 3, "by_reason": [{"reason": "unknown verb", "verb_id": "http://adlnet.gov/expapi/verbs/answered", "count": 3}]},
                response_only=True,
            )
        ],
    )
    def get(self, request):
        rows = (
            XapiStatement.objects.filter(tenant=self.tenant, unmapped=True)
            .values("unmapped_reason", "verb_id")
            .annotate(count=Count("id"))
            .order_by("-count", "verb_id")[:200]
        )
        by_reason = [{"reason": r["unmapped_reason"], "verb_id": r["verb_id"], "count": r["count"]} for r in rows]
        return Response({"total": sum(r["count"] for r in by_reason), "by_reason": by_reason})


class AboutView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(
        summary="xAPI About resource",
        tags=["xapi"],
        auth=[],
        responses={200: inline_serializer("XapiAbout", {"version": serializers.ListField(child=serializers.CharField()), "extensions": serializers.DictField()})},
        examples=[OpenApiExample("About", value={"version": ["1.0.3"], "extensions": {}}, response_only=True)],
    )
    def get(self, request):
        return Response({"version": [XAPI_VERSION], "extensions": {"https://shien.example/xapi/unmapped": request.build_absolute_uri("/api/xapi/unmapped")}})


statements_view = xapi_endpoint(StatementsView.as_view())
unmapped_view = xapi_endpoint(UnmappedView.as_view())
about_view = xapi_endpoint(AboutView.as_view(), require_version=False)
