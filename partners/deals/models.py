"""Deal registration: opportunities partners register and their outcomes (won / lost)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from partners.tenancy import TenantOwnedModel


class DealStage(models.TextChoices):
    REGISTERED = "registered", _("Registered")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


class DealSource(models.TextChoices):
    PORTAL = "portal", _("Portal")
    IMPORT = "import", _("CSV import")
    API = "api", _("API")


class Deal(TenantOwnedModel):
    """A registered opportunity and its outcome."""

    partner = models.ForeignKey("partners.Partner", verbose_name=_("partner"), on_delete=models.CASCADE, related_name="deals")
    external_id = models.CharField(_("external id"), max_length=100, blank=True, default="")
    customer = models.CharField(_("customer"), max_length=200)
    product = models.CharField(_("product"), max_length=200, blank=True, default="")
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2, validators=[MinValueValidator(0)])
    currency = models.CharField(_("currency"), max_length=3, default="JPY")
    expected_close_on = models.DateField(_("expected close date"), null=True, blank=True)
    stage = models.CharField(_("stage"), max_length=16, choices=DealStage.choices, default=DealStage.REGISTERED)
    closed_on = models.DateField(_("closed on"), null=True, blank=True, help_text=_("Date won or lost."))
    source = models.CharField(_("source"), max_length=16, choices=DealSource.choices, default=DealSource.PORTAL)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("registered by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("decided by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        db_table = "partners_deal"  # the table kept its name when deals became their own context
        verbose_name = _("deal")
        verbose_name_plural = _("deals")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "external_id"], condition=~Q(external_id=""), name="uniq_deal_external_id"
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="deal_amount_non_negative"),
        ]
        indexes = [models.Index(fields=["tenant", "partner", "stage"]), models.Index(fields=["tenant", "stage", "closed_on"])]

    def __str__(self) -> str:
        return f"{self.customer} ({self.get_stage_display()})"
