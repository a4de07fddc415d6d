"""What the LRS keeps: statements as received (mapped onto the activity log where known)."""

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
    payload = models.JSONField(help_text="The statement as received, plus the LRS-set 'stored' and 'authority'.")
    verb_id = models.CharField(max_length=500)
    actor_key = models.CharField(max_length=500, help_text="mbox, mbox_sha1sum, openid or account homePage|name.")
    activity_id = models.CharField(max_length=1000, blank=True, default="")
    registration = models.UUIDField(null=True, blank=True)
    timestamp = models.DateTimeField()
    stored = models.DateTimeField(default=timezone.now)
    voided = models.BooleanField(default=False)
    voids_statement_id = models.UUIDField(null=True, blank=True, help_text="Set on a voiding statement.")
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
            models.Index(fields=["tenant", "verb_id"], name="xapi_tenant_verb"),
            models.Index(fields=["tenant", "actor_key"], name="xapi_tenant_actor"),
            models.Index(fields=["tenant", "activity_id"], name="xapi_tenant_activity"),
            models.Index(fields=["tenant", "unmapped"], name="xapi_tenant_unmapped"),
        ]

    def __str__(self) -> str:
        return str(self.statement_id)
