"""Deals over the API: list, one by external id, and upsert by external id."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from partners.api.base import TenantGenericViewSet
from partners.api.permissions import key_has_scope
from partners.api.views import EXTERNAL_ID, StandardPagination
from partners.deals.api.serializers import DealInput, DealOutput
from partners.deals.models import Deal, DealStage
from partners.deals.services import deal_transition, deal_upsert
from partners.errors import as_api_error
from partners.models import ApiKeyScope, Partner

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
        description="The partner is named by its external id. Needs the `deals:write` scope. A new deal "
        "enters as `registered`; a `stage` different from the deal's current one is a step of the approval "
        "workflow (registered → approved → won / lost, or rejected), needs the `deals:approve` scope and "
        "moves one step at a time. Won/lost deals without `closed_on` close today.",
        tags=["deals"],
        parameters=[EXTERNAL_ID],
        request=DealInput,
        responses={200: DealOutput, 201: DealOutput},
        examples=[
            OpenApiExample(
                "Won deal",
                value={"partner": "CRM-0042", "customer": "Kobe Logistics", "amount": "1200000", "currency": "JPY", "stage": "won", "closed_on": "2026-03-31"},
                description="An approved deal closes as won (needs `deals:approve`).",
                request_only=True,
            ),
            DEAL_EXAMPLE,
        ],
    ),
)
class DealViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantGenericViewSet):
    serializer_class = DealOutput
    write_scope = ApiKeyScope.DEALS_WRITE
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
        stage = fields.pop("stage", None)
        closed_on = fields.pop("closed_on", None)
        external_id = external_id[:100]
        existing = Deal.objects.filter(tenant=self.tenant, external_id=external_id).first()
        current = existing.stage if existing is not None else DealStage.REGISTERED
        if stage and stage != current and not key_has_scope(request.auth, ApiKeyScope.DEALS_APPROVE):
            raise PermissionDenied(
                "Changing a deal's stage needs the deals:approve scope; new deals enter as registered."
            )
        try:
            with transaction.atomic():
                deal, created = deal_upsert(
                    tenant=self.tenant, external_id=external_id, partner=partner, actor=request.user, **fields
                )
                if stage and stage != deal.stage:
                    deal = deal_transition(tenant=self.tenant, deal=deal, stage=stage, closed_on=closed_on,
                                           actor=request.user)
        except DjangoValidationError as exc:
            raise as_api_error(exc) from exc
        return Response(DealOutput(deal).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
