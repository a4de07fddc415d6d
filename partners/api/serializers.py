"""Serializers of the partners API (Input/Output pairs, HackSoft style)."""

from __future__ import annotations

from rest_framework import serializers

from partners.models import Deal, DealStage, Partner, PartnerStatus, PartnerTier


class TierOutput(serializers.ModelSerializer):
    class Meta:
        model = PartnerTier
        fields = ["id", "name", "rank"]


class PartnerOutput(serializers.ModelSerializer):
    tier = serializers.IntegerField(source="tier_id", allow_null=True, help_text="Tier id.")
    tier_name = serializers.CharField(source="tier.name", allow_null=True, default=None)

    class Meta:
        model = Partner
        fields = ["id", "external_id", "name", "tier", "tier_name", "segment", "region", "status", "joined_on", "created_at"]


class PartnerInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    tier = serializers.IntegerField(required=False, allow_null=True, help_text="Tier id (see /api/v1/tiers/).")
    segment = serializers.CharField(max_length=100, required=False, allow_blank=True)
    region = serializers.CharField(max_length=100, required=False, allow_blank=True)
    status = serializers.ChoiceField(choices=PartnerStatus.choices, required=False)
    joined_on = serializers.DateField(required=False)


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
    currency = serializers.RegexField(r"^[A-Za-z]{3}$", required=False, default="JPY")
    stage = serializers.ChoiceField(choices=DealStage.choices, required=False, default=DealStage.REGISTERED)
    expected_close_on = serializers.DateField(required=False, allow_null=True, default=None)
    closed_on = serializers.DateField(required=False, allow_null=True, default=None)
