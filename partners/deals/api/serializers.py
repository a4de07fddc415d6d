"""Serializers of the deal API (Input/Output pairs)."""

from __future__ import annotations

from rest_framework import serializers

from partners.deals.models import Deal, DealStage
from partners.deals.normalize import registrable_domain


class DealOutput(serializers.ModelSerializer):
    partner = serializers.CharField(source="partner.external_id", help_text="Partner external id.")
    partner_id = serializers.IntegerField()

    class Meta:
        model = Deal
        fields = [
            "id",
            "external_id",
            "partner",
            "partner_id",
            "customer",
            "customer_domain",
            "product",
            "amount",
            "currency",
            "stage",
            "expected_close_on",
            "closed_on",
            "source",
            "created_at",
            "updated_at",
        ]


class DealInput(serializers.Serializer):
    partner = serializers.CharField(max_length=100, help_text="The partner's external id.")
    customer = serializers.CharField(max_length=200)
    product = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0)
    customer_domain = serializers.CharField(
        max_length=253, required=False, allow_blank=True, default="",
        help_text="The customer's domain, web address or e-mail address (reduced to the registrable domain).",
    )
    currency = serializers.RegexField(
        r"^[A-Za-z]{3}$", required=False, default="", help_text="ISO 4217; the tenant's currency when omitted."
    )
    stage = serializers.ChoiceField(
        choices=DealStage.choices, required=False,
        help_text="Omit to keep the current stage (new deals: registered). A change needs deals:approve.",
    )
    expected_close_on = serializers.DateField(required=False, allow_null=True, default=None)
    closed_on = serializers.DateField(required=False, allow_null=True, default=None)

    def validate_customer_domain(self, value: str) -> str:
        if value.strip() and not registrable_domain(value):
            raise serializers.ValidationError("Not a domain, web address or e-mail address.")
        return value
