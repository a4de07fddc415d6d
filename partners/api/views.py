"""Partners and tiers over the API. Writes are upserts by external id."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from partners.api.base import TenantGenericViewSet, TenantReadOnlyViewSet, as_id
from partners.api.serializers import PartnerInput, PartnerOutput, TierOutput
from partners.errors import as_api_error
from partners.models import ApiKeyScope, Partner, PartnerTier
from partners.services import partner_upsert


class StandardPagination(PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500


ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)
EXTERNAL_ID = OpenApiParameter("external_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="The id in your system.")


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
        "Needs the `partners:write` scope.",
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
    write_scope = ApiKeyScope.PARTNERS_WRITE
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
            partner, created = partner_upsert(tenant=self.tenant, external_id=external_id[:100], actor=request.user, **fields)
        except DjangoValidationError as exc:
            raise as_api_error(exc) from exc
        return Response(PartnerOutput(partner).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
