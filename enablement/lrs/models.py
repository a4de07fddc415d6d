"""What the LRS keeps: statements as received (mapped onto the activity log where known), the
agents and activities each statement relates to (the query index), the canonical activity
definitions, and the documents of the State, Activity Profile and Agent Profile resources."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from enablement.models import ActivityEvent
from partners.tenancy import TenantOwnedModel


class XapiStatement(TenantOwnedModel):
    """An xAPI statement as received by the LRS (``/api/xapi/statements``), kept verbatim.

    Statements whose verb, actor and activity are known are also mapped onto the activity log
    (``mapped_event``); the others are kept with ``unmapped=True`` and a reason, never dropped.
    """

    statement_id = models.UUIDField()
    payload = models.JSONField(
        help_text="The statement as received, plus the LRS-set 'stored' and 'authority'."
    )
    verb_id = models.CharField(max_length=500)
    actor_key = models.CharField(
        max_length=500, help_text="mbox, mbox_sha1sum, openid or account homePage|name."
    )
    activity_id = models.CharField(max_length=1000, blank=True, default="")
    registration = models.UUIDField(null=True, blank=True)
    timestamp = models.DateTimeField()
    stored = models.DateTimeField(default=timezone.now)
    voided = models.BooleanField(default=False)
    voids_statement_id = models.UUIDField(null=True, blank=True, help_text="Set on a voiding statement.")
    ref_statement_id = models.UUIDField(
        null=True,
        blank=True,
        help_text="The statement this one targets (object StatementRef), voiding or not.",
    )
    mapped_event = models.ForeignKey(
        ActivityEvent, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    unmapped = models.BooleanField(default=False)
    unmapped_reason = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        verbose_name = _("xAPI statement")
        verbose_name_plural = _("xAPI statements")
        db_table = "enablement_xapistatement"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "statement_id"], name="uniq_xapi_statement_id"),
        ]
        indexes = [
            models.Index(fields=["tenant", "stored", "id"], name="xapi_tenant_stored"),
            models.Index(fields=["tenant", "verb_id", "stored", "id"], name="xapi_tenant_verb_stored"),
            models.Index(fields=["tenant", "actor_key"], name="xapi_tenant_actor"),
            models.Index(fields=["tenant", "activity_id"], name="xapi_tenant_activity"),
            models.Index(fields=["tenant", "unmapped"], name="xapi_tenant_unmapped"),
            models.Index(fields=["tenant", "ref_statement_id"], name="xapi_tenant_ref"),
            models.Index(fields=["tenant", "registration", "stored", "id"], name="xapi_tenant_reg_stored"),
            # the statements that target another one, in stored order (StatementRef filter matches)
            models.Index(
                fields=["tenant", "stored", "id"],
                name="xapi_tenant_refs_stored",
                condition=models.Q(ref_statement_id__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return str(self.statement_id)


class StatementAgent(TenantOwnedModel):
    """One agent (or identified group) a statement relates to, by its identity key.

    ``direct`` rows are the actor and an Agent/Group object (and the members of such groups):
    the ``agent`` filter matches them. Every other row (authority, instructor, team, and the same
    places inside a SubStatement) counts only with ``related_agents=true``.
    """

    statement = models.ForeignKey(XapiStatement, on_delete=models.CASCADE, related_name="agent_index")
    agent_key = models.CharField(max_length=500)
    direct = models.BooleanField(default=False)
    stored = models.DateTimeField(
        default=timezone.now, help_text="The statement's stored time: pages are read in this order."
    )

    class Meta:
        verbose_name = _("statement agent")
        verbose_name_plural = _("statement agents")
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "statement", "agent_key", "direct"], name="uniq_lrs_statement_agent"
            ),
        ]
        indexes = [
            models.Index(
                fields=["tenant", "agent_key", "direct", "stored", "statement"],
                name="lrs_agent_direct_stored",
            ),
            models.Index(
                fields=["tenant", "agent_key", "stored", "statement"], name="lrs_agent_related_stored"
            ),
        ]


class StatementActivity(TenantOwnedModel):
    """One activity a statement relates to: ``direct`` for the object, otherwise context
    activities and the activities of a SubStatement (``related_activities=true``)."""

    statement = models.ForeignKey(XapiStatement, on_delete=models.CASCADE, related_name="activity_index")
    activity_id = models.CharField(max_length=1000)
    direct = models.BooleanField(default=False)
    stored = models.DateTimeField(
        default=timezone.now, help_text="The statement's stored time: pages are read in this order."
    )

    class Meta:
        verbose_name = _("statement activity")
        verbose_name_plural = _("statement activities")
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "statement", "activity_id", "direct"], name="uniq_lrs_statement_activity"
            ),
        ]
        indexes = [
            models.Index(
                fields=["tenant", "activity_id", "direct", "stored", "statement"],
                name="lrs_activity_direct_stored",
            ),
            models.Index(
                fields=["tenant", "activity_id", "stored", "statement"], name="lrs_activity_related_stored"
            ),
        ]


class Activity(TenantOwnedModel):
    """The canonical definition of an activity: the definitions of every statement that used the
    id, merged (language maps by language, other properties: the latest wins)."""

    activity_id = models.CharField(max_length=1000)
    definition = models.JSONField(default=dict, blank=True)
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        constraints = [models.UniqueConstraint(fields=["tenant", "activity_id"], name="uniq_lrs_activity")]

    def __str__(self) -> str:
        return self.activity_id


class DocumentKind(models.TextChoices):
    STATE = "state", _("State")
    ACTIVITY_PROFILE = "activity_profile", _("Activity profile")
    AGENT_PROFILE = "agent_profile", _("Agent profile")


class Document(TenantOwnedModel):
    """A document of the State, Activity Profile or Agent Profile resource.

    The key is (kind, activity, agent, registration, document id); the parts a kind does not use
    are empty strings so that the unique constraint holds without NULLs.
    """

    kind = models.CharField(max_length=20, choices=DocumentKind.choices)
    activity_id = models.CharField(max_length=1000, blank=True, default="")
    agent_key = models.CharField(max_length=500, blank=True, default="")
    registration = models.CharField(max_length=36, blank=True, default="")
    document_id = models.CharField(max_length=500)
    content = models.BinaryField()
    content_type = models.CharField(max_length=255, default="application/octet-stream")
    etag = models.CharField(max_length=64)
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("xAPI document")
        verbose_name_plural = _("xAPI documents")
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "kind", "activity_id", "agent_key", "registration", "document_id"],
                name="uniq_lrs_document",
            ),
        ]
        indexes = [
            models.Index(
                fields=["tenant", "kind", "activity_id", "agent_key", "registration", "updated"],
                name="lrs_document_since",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.document_id}"


def attachment_path(tenant_id: int, sha2: str) -> str:
    """Attachment content lives in the default storage under the tenant's private folder,
    named by its SHA-2 (never served by URL: only the Statements resource returns it)."""
    return f"t{tenant_id}/lrs-attachments/{sha2.lower()}"


class StatementAttachment(TenantOwnedModel):
    """The content of a statement attachment sent in multipart/mixed, stored once per tenant and
    SHA-2 (statements refer to it by the ``sha2`` of their attachment objects)."""

    sha2 = models.CharField(max_length=128)
    content_type = models.CharField(max_length=255, default="application/octet-stream")
    length = models.BigIntegerField()
    file = models.FileField(max_length=300)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("statement attachment")
        verbose_name_plural = _("statement attachments")
        constraints = [models.UniqueConstraint(fields=["tenant", "sha2"], name="uniq_lrs_attachment_sha2")]

    def __str__(self) -> str:
        return self.sha2
