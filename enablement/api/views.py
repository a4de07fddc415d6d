"""Assets, assignments and the activity log over the API, with batch ingestion and xAPI export."""

from __future__ import annotations

import json

from django.conf import settings
from django.http import StreamingHttpResponse
from django.utils.dateparse import parse_datetime
from django_scopes import scope
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from enablement.api.ingest import MAX_BYTES, MAX_EVENTS, ingest_events
from enablement.api.serializers import (
    AssetOutput,
    AssignmentOutput,
    ErrorOutput,
    EventOutput,
    IngestInput,
    IngestOutput,
)
from enablement.lrs.mapping import event_to_statement, export_rows
from enablement.models import ActivityEvent, Asset, Assignment, Verb
from partners.api.base import TenantReadOnlyViewSet, as_id
from partners.api.body import read_body
from partners.api.views import ID, StandardPagination


def _limits() -> tuple[int, int]:
    return getattr(settings, "API_MAX_BATCH_EVENTS", MAX_EVENTS), getattr(settings, "API_MAX_BATCH_BYTES", MAX_BYTES)


@extend_schema_view(
    list=extend_schema(
        summary="List assets",
        tags=["enablement"],
        parameters=[OpenApiParameter("kind", OpenApiTypes.STR, enum=["training", "document", "faq"]), OpenApiParameter("status", OpenApiTypes.STR)],
    ),
    retrieve=extend_schema(summary="One asset", tags=["enablement"], parameters=[ID]),
)
class AssetViewSet(TenantReadOnlyViewSet):
    serializer_class = AssetOutput
    pagination_class = StandardPagination

    def get_tenant_queryset(self, tenant):
        qs = Asset.objects.filter(tenant=tenant).order_by("-created_at", "-id")
        params = self.request.query_params
        if params.get("kind"):
            qs = qs.filter(kind=params["kind"])
        if params.get("status"):
            qs = qs.filter(status=params["status"])
        return qs


@extend_schema_view(
    list=extend_schema(summary="List assignments", tags=["enablement"], parameters=[OpenApiParameter("partner", OpenApiTypes.INT)]),
    retrieve=extend_schema(summary="One assignment", tags=["enablement"], parameters=[ID]),
)
class AssignmentViewSet(TenantReadOnlyViewSet):
    serializer_class = AssignmentOutput
    pagination_class = StandardPagination

    def get_tenant_queryset(self, tenant):
        qs = Assignment.objects.filter(tenant=tenant).order_by("due_on", "id")
        partner = as_id(self.request.query_params.get("partner"))
        if partner is not None:
            qs = qs.filter(partner_id=partner)
        return qs


class EventCursorPagination(CursorPagination):
    ordering = ("-occurred_at", "-id")
    page_size = 200
    page_size_query_param = "page_size"
    max_page_size = 1000


INGEST_REQUEST_EXAMPLE = OpenApiExample(
    "A batch",
    request_only=True,
    value={
        "events": [
            {
                "event_id": "lms-7781",
                "verb": "training.progressed",
                "occurred_at": "2026-04-01T10:15:00+09:00",
                "partner": "CRM-0042",
                "user": "taro@sakura.example",
                "asset": "onboarding-video",
                "progress": 62.5,
                "seconds": 310,
                "played_segments": [[0, 200], [250, 360]],
            },
            {
                "event_id": "lms-7782",
                "verb": "faq.searched",
                "occurred_at": "2026-04-01T10:20:00+09:00",
                "partner": "taro@sakura.example",
                "query": "見積 テンプレート",
                "result_count": 0,
                "resolved": False,
            },
            {"event_id": "lms-7783", "verb": "document.downloaded", "occurred_at": "2026-04-01T10:21:00+09:00", "partner": "CRM-0042", "asset": 9999},
        ]
    },
)
INGEST_RESPONSE_EXAMPLE = OpenApiExample(
    "Per-event statuses",
    response_only=True,
    status_codes=["200"],
    value={
        "accepted": 1,
        "duplicates": 1,
        "rejected": 1,
        "results": [
            {"index": 0, "event_id": "lms-7781", "status": "accepted"},
            {"index": 1, "event_id": "lms-7782", "status": "duplicate"},
            {
                "index": 2,
                "event_id": "lms-7783",
                "status": "rejected",
                "reason": "unknown_asset",
                "errors": {"asset": ["Unknown asset (id or external id)."]},
            },
        ],
    },
)
EVENT_FILTERS = [
    OpenApiParameter("partner", OpenApiTypes.STR, description="Partner external id or id."),
    OpenApiParameter("asset", OpenApiTypes.STR, description="Asset id or external id."),
    OpenApiParameter("verb", OpenApiTypes.STR, enum=Verb.values),
    OpenApiParameter("since", OpenApiTypes.DATETIME, description="occurred_at ≥ since"),
    OpenApiParameter("until", OpenApiTypes.DATETIME, description="occurred_at < until"),
]


@extend_schema_view(
    list=extend_schema(summary="List activity events", description="Newest first; cursor pagination.", tags=["events"], parameters=EVENT_FILTERS),
    retrieve=extend_schema(summary="One activity event", tags=["events"], parameters=[ID]),
)
class EventViewSet(TenantReadOnlyViewSet):
    serializer_class = EventOutput
    pagination_class = EventCursorPagination

    def get_tenant_queryset(self, tenant):
        qs = ActivityEvent.objects.filter(tenant=tenant).select_related("partner", "user")
        params = self.request.query_params
        if params.get("partner"):
            value = params["partner"]
            qs = qs.filter(partner_id=as_id(value)) if as_id(value) is not None else qs.filter(partner__external_id=value)
        if params.get("asset"):
            value = params["asset"]
            qs = qs.filter(asset_id=as_id(value)) if as_id(value) is not None else qs.filter(asset__external_id=value)
        if params.get("verb"):
            qs = qs.filter(verb=params["verb"])
        for name, lookup in (("since", "occurred_at__gte"), ("until", "occurred_at__lt")):
            if params.get(name):
                try:
                    when = parse_datetime(params[name])
                except ValueError:
                    when = None
                if when is None:
                    raise ValidationError({name: ["An ISO 8601 date-time."]})
                qs = qs.filter(**{lookup: when})
        return qs

    @extend_schema(
        summary="Ingest a batch of activity events",
        description=(
            "At most 500 events and 1 MB per request (413 above, nothing stored). Each event is validated on its own: "
            "valid events are stored even when others are rejected. The answer is **200** with one result per input "
            "index — `accepted` (stored now), `duplicate` (this `event_id` was already stored, or appears earlier in the "
            "batch; stored once) or `rejected` with a `reason` and field errors. Reasons: `verb_kind` (the verb does not "
            "fit the asset's kind), `before_tenant` / `before_asset` (`occurred_at` before the tenant or the asset "
            "existed), `future` (more than 5 minutes ahead of the server clock), `unknown_partner`, `unknown_asset`, "
            "`invalid`. Events sent with a key that is not a trusted source are stored with `trusted: false`: kept, "
            "never counted as completions. Needs the `events:write` scope."
        ),
        tags=["events"],
        request=IngestInput,
        responses={
            200: IngestOutput,
            400: OpenApiResponse(ErrorOutput, description="The body is not {\"events\": [...]}"),
            411: OpenApiResponse(ErrorOutput, description="A chunked body the server cannot frame"),
            413: OpenApiResponse(ErrorOutput, description="More than 500 events or 1 MB (chunked bodies included)"),
            415: OpenApiResponse(ErrorOutput, description="Not Content-Type: application/json"),
        },
        examples=[INGEST_REQUEST_EXAMPLE, INGEST_RESPONSE_EXAMPLE],
    )
    def create(self, request):
        max_events, max_bytes = _limits()
        too_big = {"detail": f"A batch holds at most {max_events} events and {max_bytes} bytes (1 MB); split it."}
        media_type = (request.META.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
        if media_type != "application/json":
            return Response({"detail": "Send the batch as Content-Type: application/json."},
                            status=status.HTTP_415_UNSUPPORTED_MEDIA_TYPE)
        body = read_body(request, max_bytes)
        if body.status == 411:
            return Response({"detail": "Send a Content-Length (this server cannot read a chunked body)."},
                            status=status.HTTP_411_LENGTH_REQUIRED)
        if body.data is None:
            return Response(too_big, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        try:
            data = json.loads(body.data)
        except (ValueError, UnicodeDecodeError):
            return Response({"detail": "The body must be JSON: {\"events\": [...]}."}, status=status.HTTP_400_BAD_REQUEST)
        except RecursionError:
            return Response({"detail": "The JSON is nested too deeply."}, status=status.HTTP_400_BAD_REQUEST)
        if not isinstance(data, dict) or not isinstance(data.get("events"), list):
            return Response({"detail": "The body must be {\"events\": [...]}."}, status=status.HTTP_400_BAD_REQUEST)
        items = data["events"]
        if len(items) > max_events:
            return Response(too_big, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        results = ingest_events(tenant=self.tenant, items=items, trusted=bool(request.auth.trusted_source))
        counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
        for r in results:
            counts[r["status"]] += 1
        return Response(
            {"accepted": counts["accepted"], "duplicates": counts["duplicate"], "rejected": counts["rejected"], "results": results}
        )

    @extend_schema(
        summary="Export the activity log as xAPI statements",
        description="A streamed JSON array of xAPI 1.0.3 statements (oldest first); the same filters as the list.",
        tags=["events"],
        parameters=EVENT_FILTERS,
        responses={200: OpenApiResponse({"type": "array", "items": {"type": "object"}}, description="JSON array of xAPI statements")},
    )
    @action(detail=False, methods=["get"], url_path="export-xapi", url_name="export-xapi", pagination_class=None)
    def export_xapi(self, request):
        qs = self.get_queryset().order_by("occurred_at", "id")
        tenant_id = self.tenant.pk
        base = request.build_absolute_uri("/").rstrip("/")

        def stream():
            # the response streams after the view returned: the generator opens its own scope
            with scope(tenant=tenant_id):
                yield "["
                first = True
                for row in export_rows(qs):
                    yield ("" if first else ",\n") + json.dumps(event_to_statement(row, base=base), ensure_ascii=False)
                    first = False
                yield "]\n"

        response = StreamingHttpResponse(stream(), content_type="application/json")
        response["Content-Disposition"] = 'attachment; filename="activity.xapi.json"'
        return response
