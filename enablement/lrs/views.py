"""xAPI 1.0.3 Learning Record Store: the Statements, About and ``unmapped`` resources under
``/api/xapi/`` (documents, activities and agents are in ``resources.py``; headers, HEAD and the
alternate request syntax in ``http.py``).

* HTTP Basic (key id = prefix, password = secret) as LRS clients send it, or ``Api-Key``.
  Writing needs the key scope ``events:write``, reading ``read``; a token bucket per key.
* ``PUT ?statementId=`` → 204; ``POST`` (one or a list) → 200 with the ids; the same id with an
  equal statement (Data 2.3.1) is a no-op, otherwise 409; one invalid statement rejects the batch.
* ``GET`` by ``statementId``/``voidedStatementId`` or with the filters agent, verb, activity,
  registration, related_activities, related_agents, since, until, limit, ascending, format;
  agent/activity filters use the index tables; statements targeting a match are included;
  ``more`` pages by (stored, id); voided statements are hidden from lists.
* Response header ``X-Shien-Unmapped`` counts the statements kept but not mapped onto the log;
  ``GET /api/xapi/unmapped`` summarises them.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from django.db.models import Count, Q
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

from enablement.lrs.http import VERSION_HEADER, XAPI_VERSION, xapi_endpoint
from enablement.lrs.mapping import actor_key
from enablement.lrs.models import Activity, StatementActivity, StatementAgent, XapiStatement
from enablement.lrs.shapes import accept_languages, activities_with_definitions, format_canonical, format_ids
from enablement.lrs.store import XapiConflict, public_payload, xapi_statements_store
from enablement.lrs.throttling import TokenBucketThrottle
from enablement.lrs.validation import (
    XapiInvalid,
    check_depth,
    parse_timestamp,
    validate_agent,
    validate_statement,
)
from partners.api.authentication import ApiKeyAuthentication, ApiKeyBasicAuthentication
from partners.api.base import TenantAPIView

MAX_LIMIT = 500
MAX_BODY = 2 * 1024 * 1024  # = DATA_UPLOAD_MAX_MEMORY_SIZE: checked before Django would refuse to read
GET_PARAMS = {
    "statementId", "voidedStatementId", "agent", "verb", "activity", "registration", "related_activities",
    "related_agents", "since", "until", "limit", "format", "attachments", "ascending", "from_id",
}  # fmt: skip
SINGLE_OK = {"statementId", "voidedStatementId", "format", "attachments"}


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


class LrsView(TenantAPIView):
    """Base of the authenticated LRS resources: HTTP Basic or Api-Key, the LRS token bucket."""

    authentication_classes = [ApiKeyBasicAuthentication, ApiKeyAuthentication]
    content_negotiation_class = JsonOnlyNegotiation
    throttle_classes = [TokenBucketThrottle]


class StatementsView(LrsView):

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
            body = json.loads(request.body)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise XapiInvalid("Malformed JSON (or nested too deeply)") from exc
        check_depth(body, 34)
        return body

    def _store(self, statements) -> tuple[Response | None, Any]:
        try:
            for i, stmt in enumerate(statements):
                try:
                    validate_statement(stmt)
                except XapiInvalid as exc:
                    prefix = f"statement[{i}]: " if len(statements) > 1 else ""
                    raise XapiInvalid(prefix + str(exc)) from exc
            report = xapi_statements_store(tenant=self.tenant, statements=statements, authority=self._authority())
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
            _bool(params.get("attachments"), "attachments")
            if "statementId" in params or "voidedStatementId" in params:
                return self._get_one(request, params)
            return self._get_many(request, params)
        except XapiInvalid as exc:
            return _bad(str(exc))

    def _present(self, request, payloads: list[dict[str, Any]], fmt: str) -> list[dict[str, Any]]:
        statements = [public_payload(p) for p in payloads]
        if fmt == "ids":
            return [format_ids(s) for s in statements]
        if fmt == "canonical":
            ids = {a for s in statements for a in _activity_ids(s)}
            definitions = {
                a: d for a, d in Activity.objects.filter(tenant=self.tenant, activity_id__in=ids).values_list("activity_id", "definition") if d
            }
            languages = accept_languages(request.headers.get("Accept-Language", ""))
            return [format_canonical(s, definitions=definitions, languages=languages) for s in statements]
        return statements

    def _get_one(self, request, params):
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
        response = Response(self._present(request, [row.payload], params.get("format", "exact"))[0])
        response["Last-Modified"] = http_date(row.stored.timestamp())
        return response

    def _get_many(self, request, params):
        t = self.tenant
        match = XapiStatement.objects.filter(tenant=t, voided=False)
        targeting = False
        related_agents = _bool(params.get("related_agents"), "related_agents")
        related_activities = _bool(params.get("related_activities"), "related_activities")
        if "agent" in params:
            try:
                agent = json.loads(params["agent"])
            except (ValueError, RecursionError) as exc:
                raise XapiInvalid("agent must be a JSON Agent or Group") from exc
            validate_agent(agent, "agent")
            if not any(k in agent for k in ("mbox", "mbox_sha1sum", "openid", "account")):
                raise XapiInvalid("agent must be an Agent or an identified Group")
            index = StatementAgent.objects.filter(tenant=t, agent_key=actor_key(agent)[:500])
            if not related_agents:
                index = index.filter(direct=True)
            match = match.filter(pk__in=index.values("statement_id"))
            targeting = True
        if "verb" in params:
            match = match.filter(verb_id=params["verb"])
            targeting = True
        if "activity" in params:
            index = StatementActivity.objects.filter(tenant=t, activity_id=params["activity"][:1000])
            if not related_activities:
                index = index.filter(direct=True)
            match = match.filter(pk__in=index.values("statement_id"))
            targeting = True
        if "registration" in params:
            try:
                match = match.filter(registration=uuid.UUID(params["registration"]))
            except ValueError as exc:
                raise XapiInvalid("registration must be a UUID") from exc
            targeting = True
        if targeting:
            # statements that target a matching statement (StatementRef) match too (Communication 2.1.3)
            refs = XapiStatement.objects.filter(tenant=t, voided=False, ref_statement_id__in=match.values("statement_id"))
            qs = XapiStatement.objects.filter(tenant=t).filter(Q(pk__in=match.values("pk")) | Q(pk__in=refs.values("pk")))
        else:
            qs = match
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
            stored, pk = _cursor(params["from_id"])
            if ascending:
                qs = qs.filter(Q(stored__gt=stored) | Q(stored=stored, pk__gt=pk))
            else:
                qs = qs.filter(Q(stored__lt=stored) | Q(stored=stored, pk__lt=pk))
        qs = qs.order_by(*(("stored", "id") if ascending else ("-stored", "-id")))
        rows = list(qs.values_list("id", "stored", "payload")[: limit + 1])
        more = ""
        if len(rows) > limit:
            rows = rows[:limit]
            nxt = {k: v for k, v in params.items() if k != "from_id"}
            last_pk, last_stored, _p = rows[-1]
            nxt["from_id"] = f"{int(last_stored.timestamp() * 1_000_000)}.{last_pk}"
            more = "/api/xapi/statements?" + urlencode(nxt)
        statements = self._present(request, [p for _i, _s, p in rows], params.get("format", "exact"))
        return Response({"statements": statements, "more": more})


def _cursor(value: str) -> tuple[datetime, int]:
    try:
        micros, pk = value.split(".")
        return datetime.fromtimestamp(int(micros) / 1_000_000, tz=UTC), int(pk)
    except (ValueError, OverflowError, OSError) as exc:
        raise XapiInvalid("from_id is not valid") from exc


def _activity_ids(stmt: dict[str, Any]) -> set[str]:
    return {a["id"] for a in activities_with_definitions(stmt)}


class UnmappedView(LrsView):

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


statements_view = xapi_endpoint(StatementsView.as_view(), statements=True)
unmapped_view = xapi_endpoint(UnmappedView.as_view())
about_view = xapi_endpoint(AboutView.as_view(), require_version=False)
