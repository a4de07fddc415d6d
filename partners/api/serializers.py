"""Serializers of the partners API (Input/Output pairs, HackSoft style)."""

from __future__ import annotations

from rest_framework import serializers

from partners.models import Partner, PartnerStatus, PartnerTier


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
