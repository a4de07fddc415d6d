"""Partners, tiers and deals over the API. Writes are upserts by external id."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from partners.api.base import TenantGenericViewSet, TenantReadOnlyViewSet, as_id
from partners.api.serializers import DealInput, DealOutput, PartnerInput, PartnerOutput, TierOutput
from partners.models import Deal, Partner, PartnerTier
from partners.services import deal_upsert, partner_upsert


class StandardPagination(PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500


ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)
EXTERNAL_ID = OpenApiParameter("external_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="The id in your system.")


def _django_errors(exc: DjangoValidationError) -> ValidationError:
    return ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages})


@extend_schema_view(
    list=extend_schema(summary="List partner tiers", tags=["partners"]),
    retrieve=extend_schema(summary="One partner tier", tags=["partners"], parameters=[ID]),
)
class TierViewSet(TenantReadOnlyViewSet):
    serializer_class = TierOutput
    pagination_class = StandardPagination

    def get_tenant_queryset(self, tenant):
        return PartnerTier.objects.filter(tenant=tenant).order_by("rank", "name")


PARTNER_EXAMPLE = OpenApiExample(
    "Partner",
    value={
        "id": 12,
        "external_id": "CRM-0042",
        "name": "Sakura Systems",
        "tier": 1,
        "tier_name": "Gold",
        "segment": "Enterprise",
        "region": "Kanto",
        "status": "active",
        "joined_on": "2025-04-01",
        "created_at": "2025-04-01T09:00:00+09:00",
    },
    response_only=True,
)


@extend_schema_view(
    list=extend_schema(
        summary="List partners",
        tags=["partners"],
        parameters=[OpenApiParameter("status", OpenApiTypes.STR), OpenApiParameter("tier", OpenApiTypes.INT)],
        examples=[PARTNER_EXAMPLE],
    ),
    retrieve=extend_schema(summary="One partner by external id", tags=["partners"], parameters=[EXTERNAL_ID], examples=[PARTNER_EXAMPLE]),
    update=extend_schema(
        summary="Create or update a partner by external id (upsert)",
        description="Creates the partner when the external id is new (201), updates it otherwise (200). "
        "Needs the `events:write` scope.",
        tags=["partners"],
        parameters=[EXTERNAL_ID],
        request=PartnerInput,
        responses={200: PartnerOutput, 201: PartnerOutput},
        examples=[
            OpenApiExample("Upsert", value={"name": "Sakura Systems", "tier": 1, "segment": "Enterprise", "status": "active"}, request_only=True),
            PARTNER_EXAMPLE,
        ],
    ),
)
class PartnerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantGenericViewSet):
    serializer_class = PartnerOutput
    pagination_class = StandardPagination
    lookup_field = "external_id"
    lookup_value_regex = "[^/]+"

    def get_tenant_queryset(self, tenant):
        qs = Partner.objects.filter(tenant=tenant).select_related("tier").order_by("name", "id")
        params = self.request.query_params
        if params.get("status"):
            qs = qs.filter(status=params["status"])
        if as_id(params.get("tier")) is not None:
            qs = qs.filter(tier_id=as_id(params["tier"]))
        return qs

    def update(self, request, external_id: str):
        data = PartnerInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        if "tier" in fields:
            tier_id = fields.pop("tier")
            tier = None
            if tier_id is not None:
                tier = PartnerTier.objects.filter(tenant=self.tenant, pk=tier_id).first() if 0 < tier_id < 2**62 else None
                if tier is None:
                    raise ValidationError({"tier": ["Unknown tier."]})
            fields["tier"] = tier
        try:
            partner, created = partner_upsert(tenant=self.tenant, external_id=external_id[:100], actor=None, **fields)
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc
        return Response(PartnerOutput(partner).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


DEAL_EXAMPLE = OpenApiExample(
    "Deal",
    value={
        "id": 7,
        "external_id": "SF-OPP-881",
        "partner": "CRM-0042",
        "partner_id": 12,
        "customer": "Kobe Logistics",
        "product": "Shien Cloud",
        "amount": "1200000.00",
        "currency": "JPY",
        "stage": "won",
        "expected_close_on": None,
        "closed_on": "2026-03-31",
        "source": "api",
        "created_at": "2026-02-01T10:00:00+09:00",
        "updated_at": "2026-03-31T18:00:00+09:00",
    },
    response_only=True,
)


@extend_schema_view(
    list=extend_schema(
        summary="List deals (outcomes)",
        tags=["deals"],
        parameters=[OpenApiParameter("partner", OpenApiTypes.STR, description="Partner external id."), OpenApiParameter("stage", OpenApiTypes.STR)],
        examples=[DEAL_EXAMPLE],
    ),
    retrieve=extend_schema(summary="One deal by external id", tags=["deals"], parameters=[EXTERNAL_ID], examples=[DEAL_EXAMPLE]),
    update=extend_schema(
        summary="Create or update a deal (outcome) by external id (upsert)",
        description="The partner is named by its external id. Won/lost deals without `closed_on` close today. "
        "Needs the `events:write` scope.",
        tags=["deals"],
        parameters=[EXTERNAL_ID],
        request=DealInput,
        responses={200: DealOutput, 201: DealOutput},
        examples=[
            OpenApiExample(
                "Won deal",
                value={"partner": "CRM-0042", "customer": "Kobe Logistics", "amount": "1200000", "currency": "JPY", "stage": "won", "closed_on": "2026-03-31"},
                request_only=True,
            ),
            DEAL_EXAMPLE,
        ],
    ),
)
class DealViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantGenericViewSet):
    serializer_class = DealOutput
    pagination_class = StandardPagination
    lookup_field = "external_id"
    lookup_value_regex = "[^/]+"

    def get_tenant_queryset(self, tenant):
        qs = Deal.objects.filter(tenant=tenant).exclude(external_id="").select_related("partner").order_by("-created_at", "-id")
        params = self.request.query_params
        if params.get("partner"):
            qs = qs.filter(partner__external_id=params["partner"])
        if params.get("stage"):
            qs = qs.filter(stage=params["stage"])
        return qs

    def update(self, request, external_id: str):
        data = DealInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        partner = Partner.objects.filter(tenant=self.tenant, external_id=fields.pop("partner")).exclude(external_id="").first()
        if partner is None:
            raise ValidationError({"partner": ["Unknown partner external id."]})
        try:
            deal, created = deal_upsert(tenant=self.tenant, external_id=external_id[:100], partner=partner, actor=None, **fields)
        except DjangoValidationError as exc:
            raise _django_errors(exc) from exc
        return Response(DealOutput(deal).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
