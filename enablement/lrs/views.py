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

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import HttpResponse
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

from enablement.lrs.attachments import (
    match_attachments,
    multipart_response,
    parse_multipart,
    request_max_bytes,
)
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
WRITE_DOC = (
    "`application/json`, or `multipart/mixed` when attachments carry content: the statements as the "
    "first part (application/json), then one part per attachment with `X-Experience-API-Hash` (its "
    "SHA-2) and `Content-Transfer-Encoding: binary`. Limits: `LRS_ATTACHMENT_MAX_BYTES` per attachment "
    "(default 20 MB, 400), `LRS_REQUEST_MAX_BYTES` per multipart request (default 50 MB, 413), 2 MB per "
    "JSON request. A signature attachment (usageType http://adlnet.gov/expapi/attachments/signature) "
    "must be a JWS (RS256/RS384/RS512) of the statement, else 400."
)
VERSION_PARAM = OpenApiParameter(
    VERSION_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=True, default="1.0.3"
)


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
        """``(parsed JSON, attachment parts)`` of a PUT/POST: application/json, or multipart/mixed
        with the statements first and one part per attachment (Communication 1.5.2)."""
        content_type = request.content_type.split(";")[0].strip().lower()
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if content_type == "multipart/mixed":
            raw = _read_raw(request, request_max_bytes(), length)
            body, parts = parse_multipart(raw, request.content_type)
            check_depth(body, 34)
            return body, parts
        if content_type != "application/json":
            raise XapiInvalid("Content-Type must be application/json or multipart/mixed")
        if length > MAX_BODY or len(request.body) > MAX_BODY:
            raise XapiTooLarge(f"At most {MAX_BODY} bytes per JSON request")
        try:
            body = json.loads(request.body)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise XapiInvalid("Malformed JSON (or nested too deeply)") from exc
        check_depth(body, 34)
        return body, []

    def _store(self, statements, parts) -> tuple[Response | None, Any]:
        try:
            for i, stmt in enumerate(statements):
                try:
                    validate_statement(stmt)
                except XapiInvalid as exc:
                    prefix = f"statement[{i}]: " if len(statements) > 1 else ""
                    raise XapiInvalid(prefix + str(exc)) from exc
            by_hash = match_attachments(statements, parts)
            report = xapi_statements_store(
                tenant=self.tenant,
                statements=statements,
                authority=self._authority(),
                attachments=by_hash,
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
            response["X-Shien-Unmapped-Reasons"] = "; ".join(
                f"{k}={v}" for k, v in sorted(report.unmapped.items())
            )
        return response

    @extend_schema(
        summary="Store one statement with a given id (xAPI PUT)",
        description=WRITE_DOC,
        tags=["xapi"],
        parameters=[OpenApiParameter("statementId", OpenApiTypes.UUID, required=True), VERSION_PARAM],
        request=STATEMENT_SCHEMA,
        responses={
            204: None,
            400: OpenApiResponse(description="Invalid statement"),
            409: OpenApiResponse(description="Same id, other content"),
        },
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
            stmt, parts = self._body(request)
            if not isinstance(stmt, dict):
                raise XapiInvalid("PUT takes a single statement object")
            if "id" in stmt and isinstance(stmt["id"], str) and stmt["id"].lower() != sid:
                raise XapiInvalid("The statement id differs from statementId")
            stmt = {**stmt, "id": stmt.get("id", sid)}
        except XapiTooLarge as exc:
            return _bad(str(exc), status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        except XapiInvalid as exc:
            return _bad(str(exc))
        error, report = self._store([stmt], parts)
        if error:
            return error
        return self._report_headers(Response(status=status.HTTP_204_NO_CONTENT), report)

    @extend_schema(
        summary="Store one statement or a list (xAPI POST)",
        description=WRITE_DOC,
        tags=["xapi"],
        parameters=[VERSION_PARAM],
        request=STATEMENT_SCHEMA,
        responses={
            200: OpenApiResponse(
                {"type": "array", "items": {"type": "string", "format": "uuid"}},
                description="The statement ids, in order",
            ),
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
            body, parts = self._body(request)
        except XapiTooLarge as exc:
            return _bad(str(exc), status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        except XapiInvalid as exc:
            return _bad(str(exc))
        statements = body if isinstance(body, list) else [body]
        if not statements:
            return _bad("No statements")
        error, report = self._store(statements, parts)
        if error:
            return error
        return self._report_headers(Response(report.ids, status=status.HTTP_200_OK), report)

    @extend_schema(
        summary="Get one statement or query statements (xAPI GET)",
        description="JSON, or with `attachments=true` multipart/mixed: the JSON result, then the content of "
        "every attachment held. Pages (`more`) are read in stored order and pinned to the first page's "
        "stored bound.",
        tags=["xapi"],
        parameters=[
            VERSION_PARAM,
            OpenApiParameter("statementId", OpenApiTypes.UUID),
            OpenApiParameter("voidedStatementId", OpenApiTypes.UUID),
            OpenApiParameter(
                "agent", OpenApiTypes.STR, description='JSON Agent, e.g. {"mbox": "mailto:a@b.example"}'
            ),
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
        responses={
            200: OpenApiTypes.OBJECT,
            400: OpenApiResponse(description="Bad parameters"),
            404: OpenApiResponse(description="Unknown"),
        },
        examples=[
            OpenApiExample(
                "StatementResult", value={"statements": [STATEMENT_EXAMPLE], "more": ""}, response_only=True
            )
        ],
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
                a: d
                for a, d in Activity.objects.filter(tenant=self.tenant, activity_id__in=ids).values_list(
                    "activity_id", "definition"
                )
                if d
            }
            languages = accept_languages(request.headers.get("Accept-Language", ""))
            return [format_canonical(s, definitions=definitions, languages=languages) for s in statements]
        return statements

    def _get_one(self, request, params):
        if "statementId" in params and "voidedStatementId" in params:
            raise XapiInvalid("Use statementId or voidedStatementId, not both")
        extra = set(params) - SINGLE_OK
        if extra:
            raise XapiInvalid(
                f"statementId/voidedStatementId cannot be combined with {', '.join(sorted(extra))}"
            )
        voided = "voidedStatementId" in params
        raw = params["voidedStatementId" if voided else "statementId"]
        try:
            sid = uuid.UUID(raw)
        except ValueError as exc:
            raise XapiInvalid("The statement id must be a UUID") from exc
        row = XapiStatement.objects.filter(tenant=self.tenant, statement_id=sid, voided=voided).first()
        if row is None:
            return _bad("No such statement", status.HTTP_404_NOT_FOUND)
        statement = self._present(request, [row.payload], params.get("format", "exact"))[0]
        response = self._respond(statement, [public_payload(row.payload)], params)
        response["Last-Modified"] = http_date(row.stored.timestamp())
        return response

    def _get_many(self, request, params):
        """A page of statements in ``stored`` order (ties by row id), read from the index that
        fits the filter — the agent or activity index tables, the verb or registration index, or
        the stored index — so a page costs the same whatever the size of the store. Statements that
        target a matching statement (StatementRef, voided targets included) match too
        (Communication 2.1.4); they are read in stored order from the partial index of
        StatementRef statements and merged in."""
        f = _Filters.parse(params)
        ascending = _bool(params.get("ascending"), "ascending")
        try:
            limit = int(params.get("limit", "100"))
        except ValueError as exc:
            raise XapiInvalid("limit must be a non-negative integer") from exc
        if limit < 0:
            raise XapiInvalid("limit must be a non-negative integer")
        limit = MAX_LIMIT if limit == 0 else min(limit, MAX_LIMIT)
        cursor = _cursor(params["from_id"]) if "from_id" in params else None
        # the first page pins an upper stored bound: statements stored while a client pages are
        # left out of every later page
        bound = cursor[2] if cursor else timezone.now()
        rows = _page(
            f.direct_matches(self.tenant), f, ascending=ascending, limit=limit, cursor=cursor, bound=bound
        )
        if f.targeting:
            # a full page of direct matches ends at rows[-1]: StatementRef statements beyond it
            # cannot be on this page, so only the page's stored window of them is read
            window = rows[-1][0] if len(rows) > limit else None
            refs = _page(
                f.targeting_matches(self.tenant),
                f,
                ascending=ascending,
                limit=limit,
                cursor=cursor,
                bound=bound,
                window=window,
            )
            rows = sorted(set(rows) | set(refs), reverse=not ascending)
        more = ""
        if len(rows) > limit:
            rows = rows[:limit]
            nxt = {k: v for k, v in params.items() if k != "from_id"}
            last_stored, last_pk = rows[-1]
            nxt["from_id"] = f"{_micros(last_stored)}.{last_pk}.{_micros(bound)}"
            more = "/api/xapi/statements?" + urlencode(nxt)
        payloads = dict(
            XapiStatement.objects.filter(tenant=self.tenant, pk__in=[pk for _s, pk in rows]).values_list(
                "id", "payload"
            )
        )
        ordered = [payloads[pk] for _s, pk in rows if pk in payloads]
        statements = self._present(request, ordered, params.get("format", "exact"))
        return self._respond(
            {"statements": statements, "more": more}, [public_payload(p) for p in ordered], params
        )

    def _respond(self, result, statements: list[dict[str, Any]], params):
        """JSON, or with ``attachments=true`` multipart/mixed: the JSON, then each attachment held
        (Communication 2.1.3)."""
        if not _bool(params.get("attachments"), "attachments"):
            return Response(result)
        body, content_type = multipart_response(result, statements, tenant=self.tenant)
        return HttpResponse(body, content_type=content_type)


class XapiTooLarge(XapiInvalid):
    pass


def _read_raw(request, limit: int, length: int) -> bytes:
    """The request body read from the stream up to ``limit`` (multipart requests may be larger
    than ``DATA_UPLOAD_MAX_MEMORY_SIZE``, which guards ``request.body``)."""
    django_request = getattr(request, "_request", request)
    if length > limit:
        raise XapiTooLarge(f"At most {limit} bytes per request (LRS_REQUEST_MAX_BYTES)")
    if hasattr(django_request, "_body"):
        data = django_request._body
    else:
        data = django_request.read(limit + 1)
        django_request._body = data
    if len(data) > limit:
        raise XapiTooLarge(f"At most {limit} bytes per request (LRS_REQUEST_MAX_BYTES)")
    return data


def _micros(when: datetime) -> int:
    return int(when.timestamp() * 1_000_000)


def _from_micros(value: str) -> datetime:
    return datetime.fromtimestamp(int(value) / 1_000_000, tz=UTC)


def _cursor(value: str) -> tuple[datetime, int, datetime]:
    """``from_id`` of a ``more`` link: the last (stored, row id) sent and the pinned bound."""
    try:
        micros, pk, bound = value.split(".")
        return _from_micros(micros), int(pk), _from_micros(bound)
    except (ValueError, OverflowError, OSError) as exc:
        raise XapiInvalid("from_id is not valid") from exc


class _Filters:
    """The parsed query filters and the two ordered row sources that answer them."""

    def __init__(self):
        self.agent: str | None = None
        self.related_agents = False
        self.activity: str | None = None
        self.related_activities = False
        self.verb: str | None = None
        self.registration: uuid.UUID | None = None
        self.since: datetime | None = None
        self.until: datetime | None = None

    @classmethod
    def parse(cls, params) -> _Filters:
        f = cls()
        f.related_agents = _bool(params.get("related_agents"), "related_agents")
        f.related_activities = _bool(params.get("related_activities"), "related_activities")
        if "agent" in params:
            try:
                agent = json.loads(params["agent"])
            except (ValueError, RecursionError) as exc:
                raise XapiInvalid("agent must be a JSON Agent or Group") from exc
            validate_agent(agent, "agent")
            if not any(k in agent for k in ("mbox", "mbox_sha1sum", "openid", "account")):
                raise XapiInvalid("agent must be an Agent or an identified Group")
            f.agent = actor_key(agent)[:500]
        if "verb" in params:
            f.verb = params["verb"][:500]
        if "activity" in params:
            f.activity = params["activity"][:1000]
        if "registration" in params:
            try:
                f.registration = uuid.UUID(params["registration"])
            except ValueError as exc:
                raise XapiInvalid("registration must be a UUID") from exc
        for name in ("since", "until"):
            if name in params:
                when = parse_timestamp(params[name], name)
                setattr(f, name, timezone.make_aware(when, timezone.UTC) if timezone.is_naive(when) else when)
        return f

    @property
    def targeting(self) -> bool:
        return any(v is not None for v in (self.agent, self.activity, self.verb, self.registration))

    def _agent_rows(self, tenant):
        rows = StatementAgent.objects.filter(tenant=tenant, agent_key=self.agent)
        return rows if self.related_agents else rows.filter(direct=True)

    def _activity_rows(self, tenant):
        rows = StatementActivity.objects.filter(tenant=tenant, activity_id=self.activity)
        return rows if self.related_activities else rows.filter(direct=True)

    def direct_matches(self, tenant) -> tuple[QuerySet, str]:
        """Rows with ``stored`` and a statement id column, driven by the most selective index:
        ``(queryset, name of the statement pk column)``."""
        if self.agent is not None:
            qs, pk, via = self._agent_rows(tenant), "statement_id", "statement__"
        elif self.activity is not None:
            qs, pk, via = self._activity_rows(tenant), "statement_id", "statement__"
        else:
            qs, pk, via = XapiStatement.objects.filter(tenant=tenant), "id", ""
        qs = qs.filter(**{f"{via}voided": False})
        if self.agent is not None and self.activity is not None:
            qs = qs.filter(Exists(self._activity_rows(tenant).filter(statement_id=OuterRef(pk))))
        if self.verb is not None:
            qs = qs.filter(**{f"{via}verb_id": self.verb})
        if self.registration is not None:
            qs = qs.filter(**{f"{via}registration": self.registration})
        return qs, pk

    def targeting_matches(self, tenant) -> tuple[QuerySet, str]:
        """Statements whose StatementRef target matches the filter (voided or not)."""
        target = XapiStatement.objects.filter(tenant=tenant, statement_id=OuterRef("ref_statement_id"))
        if self.agent is not None:
            target = target.filter(Exists(self._agent_rows(tenant).filter(statement_id=OuterRef("pk"))))
        if self.activity is not None:
            target = target.filter(Exists(self._activity_rows(tenant).filter(statement_id=OuterRef("pk"))))
        if self.verb is not None:
            target = target.filter(verb_id=self.verb)
        if self.registration is not None:
            target = target.filter(registration=self.registration)
        qs = XapiStatement.objects.filter(tenant=tenant, ref_statement_id__isnull=False, voided=False).filter(
            Exists(target)
        )
        return qs, "id"


def _page(
    source,
    f: _Filters,
    *,
    ascending: bool,
    limit: int,
    cursor,
    bound: datetime,
    window: datetime | None = None,
) -> list[tuple[datetime, int]]:
    """Up to ``limit + 1`` ``(stored, statement pk)`` of one row source, in page order (with a
    ``window``: none past that stored time)."""
    qs, pk = source
    qs = qs.filter(stored__lte=bound)
    if window is not None:
        qs = qs.filter(stored__lte=window) if ascending else qs.filter(stored__gte=window)
    if f.since is not None:
        qs = qs.filter(stored__gt=f.since)
    if f.until is not None:
        qs = qs.filter(stored__lte=f.until)
    if cursor is not None:
        stored, last = cursor[0], cursor[1]
        if ascending:
            qs = qs.filter(Q(stored__gt=stored) | Q(stored=stored, **{f"{pk}__gt": last}))
        else:
            qs = qs.filter(Q(stored__lt=stored) | Q(stored=stored, **{f"{pk}__lt": last}))
    order = ("stored", pk) if ascending else ("-stored", f"-{pk}")
    return list(qs.order_by(*order).values_list("stored", pk)[: limit + 1])


def _activity_ids(stmt: dict[str, Any]) -> set[str]:
    return {a["id"] for a in activities_with_definitions(stmt)}


class UnmappedView(LrsView):
    @extend_schema(
        summary="Statements kept but not mapped onto the activity log",
        tags=["xapi"],
        parameters=[VERSION_PARAM],
        responses={
            200: inline_serializer(
                "XapiUnmapped",
                {
                    "total": serializers.IntegerField(),
                    "by_reason": serializers.ListField(child=serializers.DictField()),
                },
            )
        },  # fmt: skip
        examples=[
            OpenApiExample(
                "Summary",
                value={
                    "total": 3,
                    "by_reason": [
                        {
                            "reason": "unknown verb",
                            "verb_id": "http://adlnet.gov/expapi/verbs/answered",
                            "count": 3,
                        }
                    ],
                },
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
        by_reason = [
            {"reason": r["unmapped_reason"], "verb_id": r["verb_id"], "count": r["count"]} for r in rows
        ]
        return Response({"total": sum(r["count"] for r in by_reason), "by_reason": by_reason})


class AboutView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(
        summary="xAPI About resource",
        tags=["xapi"],
        auth=[],
        responses={
            200: inline_serializer(
                "XapiAbout",
                {
                    "version": serializers.ListField(child=serializers.CharField()),
                    "extensions": serializers.DictField(),
                },
            )
        },
        examples=[
            OpenApiExample("About", value={"version": ["1.0.3"], "extensions": {}}, response_only=True)
        ],
    )
    def get(self, request):
        return Response(
            {
                "version": [XAPI_VERSION],
                "extensions": {
                    "https://shien.example/xapi/unmapped": request.build_absolute_uri("/api/xapi/unmapped")
                },
            }
        )


statements_view = xapi_endpoint(StatementsView.as_view(), statements=True)
unmapped_view = xapi_endpoint(UnmappedView.as_view())
about_view = xapi_endpoint(AboutView.as_view(), require_version=False)
