"""Serializers of the enablement API (assets, assignments, events, the ingestion contract)."""

from __future__ import annotations

from rest_framework import serializers

from enablement.models import ActivityEvent, Asset, Assignment, RefusalReason, Verb


class AssetOutput(serializers.ModelSerializer):
    tags = serializers.ListField(source="tag_list", child=serializers.CharField())

    class Meta:
        model = Asset
        fields = [
            "id",
            "external_id",
            "kind",
            "title",
            "description",
            "language",
            "category",
            "tags",
            "status",
            "duration_seconds",
            "completion_threshold",
            "published_at",
            "created_at",
        ]


class AssignmentOutput(serializers.ModelSerializer):
    asset = serializers.IntegerField(source="asset_id", allow_null=True)
    learning_path = serializers.IntegerField(source="learning_path_id", allow_null=True)
    partner = serializers.IntegerField(source="partner_id", allow_null=True)
    tier = serializers.IntegerField(source="tier_id", allow_null=True)

    class Meta:
        model = Assignment
        fields = ["id", "asset", "learning_path", "target", "partner", "tier", "segment", "due_on", "required_completions", "is_active", "created_at"]


class EventOutput(serializers.ModelSerializer):
    partner = serializers.IntegerField(source="partner_id")
    partner_external_id = serializers.CharField(source="partner.external_id")
    user = serializers.EmailField(source="user.email", allow_null=True, default=None)
    asset = serializers.IntegerField(source="asset_id", allow_null=True)
    played_segments = serializers.ListField(child=serializers.ListField(child=serializers.FloatField()), allow_null=True)
    trusted = serializers.BooleanField(
        allow_null=True,
        help_text="null: decided by Shien (portal, import); true/false: sent with an API key that is / is not a "
        "trusted source. A completion with false is kept but never counts.",
    )

    class Meta:
        model = ActivityEvent
        fields = [
            "id",
            "event_id",
            "source",
            "verb",
            "partner",
            "partner_external_id",
            "user",
            "actor_ref",
            "asset",
            "occurred_at",
            "received_at",
            "progress",
            "seconds",
            "position",
            "played_segments",
            "query",
            "result_count",
            "resolved",
            "trusted",
        ]


class EventInput(serializers.Serializer):
    """One event of a batch (documentation of the contract; validation is set-based in ``ingest``)."""

    event_id = serializers.CharField(max_length=100, help_text="Your id for the event; unique per tenant. Resending it is a no-op.")
    verb = serializers.ChoiceField(choices=Verb.choices)
    occurred_at = serializers.DateTimeField(help_text="ISO 8601 with a time zone offset.")
    partner = serializers.CharField(max_length=254, help_text="Partner external id, or the email of one of its users.")
    user = serializers.CharField(
        max_length=300, required=False, help_text="Email of a partner user; any other value is kept as an external actor reference."
    )
    asset = serializers.JSONField(
        required=False,
        help_text="Asset id (integer) or external id (string). Required for training.*, document.*, assessment.* "
        "and faq.viewed.",
    )
    progress = serializers.FloatField(min_value=0, max_value=100, required=False, help_text="Percent reached (video).")
    seconds = serializers.FloatField(min_value=0, required=False, help_text="Seconds actually watched.")
    position = serializers.FloatField(min_value=0, required=False)
    played_segments = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField(min_value=0), min_length=2, max_length=2),
        required=False,
        help_text="[[start, end], …] in seconds.",
    )
    query = serializers.CharField(max_length=300, required=False, help_text="FAQ search keyword (faq.searched).")
    result_count = serializers.IntegerField(min_value=0, required=False)
    resolved = serializers.BooleanField(required=False, allow_null=True)
    score = serializers.FloatField(
        min_value=0, max_value=1, required=False,
        help_text="Scaled score 0..1 of a graded attempt (assessment.passed / assessment.failed only); stored as "
        "extra.score. A pass from a key that is not a trusted source is kept but completes nothing.",
    )
    extra = serializers.DictField(required=False)


class IngestInput(serializers.Serializer):
    events = EventInput(many=True, help_text="At most 500 events and 1 MB per request.")


class IngestResult(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the event in the request.")
    event_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["accepted", "duplicate", "rejected"])
    reason = serializers.ChoiceField(
        choices=RefusalReason.values, required=False, help_text="Why a rejected event was refused (counted per day)."
    )
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)


class IngestOutput(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.IntegerField()
    results = IngestResult(many=True)


class ErrorOutput(serializers.Serializer):
    detail = serializers.CharField()
