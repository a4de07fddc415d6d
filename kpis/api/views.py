"""KPI definitions and results over the API (read only)."""

from __future__ import annotations

from django.utils.dateparse import parse_date
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from kpis.models import KpiDefinition, KpiResult
from partners.api.base import TenantReadOnlyViewSet, as_id
from partners.api.views import ID, StandardPagination


class KpiDefinitionOutput(serializers.ModelSerializer):
    tier = serializers.IntegerField(source="tier_id", allow_null=True)

    class Meta:
        model = KpiDefinition
        fields = ["id", "name_ja", "name_en", "metric", "period", "tier", "segment", "target", "direction", "warning_band", "is_active"]


class KpiResultOutput(serializers.ModelSerializer):
    definition = serializers.IntegerField(source="definition_id")
    partner = serializers.IntegerField(source="partner_id", allow_null=True, help_text="Null: the overall value.")

    class Meta:
        model = KpiResult
        fields = ["id", "definition", "period_start", "period_end", "partner", "numerator", "denominator", "value", "target", "status", "computed_at"]


@extend_schema_view(
    list=extend_schema(summary="List KPI definitions (targets)", tags=["kpis"]),
    retrieve=extend_schema(summary="One KPI definition", tags=["kpis"], parameters=[ID]),
)
class KpiDefinitionViewSet(TenantReadOnlyViewSet):
    serializer_class = KpiDefinitionOutput
    pagination_class = StandardPagination

    def get_tenant_queryset(self, tenant):
        return KpiDefinition.objects.filter(tenant=tenant).order_by("metric", "period", "id")


RESULT_EXAMPLE = OpenApiExample(
    "Completion rate, March",
    response_only=True,
    value={
        "id": 31,
        "definition": 2,
        "period_start": "2026-03-01",
        "period_end": "2026-03-31",
        "partner": None,
        "numerator": "42.0000",
        "denominator": "60.0000",
        "value": "70.0000",
        "target": "80.00",
        "status": "at_risk",
        "computed_at": "2026-04-01T03:00:00+09:00",
    },
)


@extend_schema_view(
    list=extend_schema(
        summary="List KPI results",
        tags=["kpis"],
        parameters=[
            OpenApiParameter("definition", OpenApiTypes.INT),
            OpenApiParameter("period", OpenApiTypes.DATE, description="A date inside the period."),
            OpenApiParameter("partner", OpenApiTypes.STR, description="Partner id, or 'overall'."),
        ],
        examples=[RESULT_EXAMPLE],
    ),
    retrieve=extend_schema(summary="One KPI result", tags=["kpis"], parameters=[ID], examples=[RESULT_EXAMPLE]),
)
class KpiResultViewSet(TenantReadOnlyViewSet):
    serializer_class = KpiResultOutput
    pagination_class = StandardPagination

    def get_tenant_queryset(self, tenant):
        qs = KpiResult.objects.filter(tenant=tenant).order_by("-period_start", "definition_id", "partner_id", "id")
        params = self.request.query_params
        if as_id(params.get("definition")) is not None:
            qs = qs.filter(definition_id=as_id(params["definition"]))
        if params.get("period"):
            try:
                day = parse_date(params["period"])
            except ValueError:
                day = None
            if day is None:
                raise ValidationError({"period": ["A date (YYYY-MM-DD)."]})
            qs = qs.filter(period_start__lte=day, period_end__gte=day)
        partner = params.get("partner", "")
        if partner == "overall":
            qs = qs.filter(partner__isnull=True)
        elif as_id(partner) is not None:
            qs = qs.filter(partner_id=as_id(partner))
        return qs
