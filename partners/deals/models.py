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
    RETURNED = "returned", _("Returned for changes")
    EXPIRED = "expired", _("Expired")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


# A registration that still protects the opportunity (and so can conflict with another partner's).
OPEN_STAGES = (DealStage.REGISTERED, DealStage.APPROVED, DealStage.RETURNED)


class DealSource(models.TextChoices):
    PORTAL = "portal", _("Portal")
    IMPORT = "import", _("CSV import")
    API = "api", _("API")


class Deal(TenantOwnedModel):
    """A registered opportunity and its outcome."""

    partner = models.ForeignKey("partners.Partner", verbose_name=_("partner"), on_delete=models.CASCADE, related_name="deals")
    external_id = models.CharField(_("external id"), max_length=100, blank=True, default="")
    customer = models.CharField(_("customer"), max_length=200)
    customer_domain = models.CharField(
        _("customer domain"), max_length=253, blank=True, default="",
        help_text=_("The customer's web or e-mail domain, e.g. example.co.jp (optional)."),
    )
    # The customer's name reduced for conflict detection (partners.deals.normalize.customer_key).
    customer_key = models.CharField(_("customer key"), max_length=200, blank=True, default="", editable=False)
    product = models.CharField(_("product"), max_length=200, blank=True, default="")
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2, validators=[MinValueValidator(0)])
    currency = models.CharField(_("currency"), max_length=3, default="JPY")
    expected_close_on = models.DateField(_("expected close date"), null=True, blank=True)
    stage = models.CharField(_("stage"), max_length=16, choices=DealStage.choices, default=DealStage.REGISTERED)
    closed_on = models.DateField(_("closed on"), null=True, blank=True, help_text=_("Date won or lost."))
    expires_on = models.DateField(_("registration expires on"), null=True, blank=True)
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
        indexes = [
            models.Index(fields=["tenant", "partner", "stage"]),
            models.Index(fields=["tenant", "stage", "closed_on"]),
            models.Index(fields=["tenant", "customer_key"], name="deal_customer_key"),
            models.Index(fields=["tenant", "customer_domain"], name="deal_customer_domain"),
            models.Index(fields=["tenant", "stage", "expires_on"], name="deal_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.customer} ({self.get_stage_display()})"


class DealEvent(TenantOwnedModel):
    """The stage history of a deal: one row per change, written by every service that changes a
    deal's stage. Append-only: the database refuses UPDATE and DELETE (migration 0003)."""

    deal = models.ForeignKey(Deal, verbose_name=_("deal"), on_delete=models.CASCADE, related_name="events")
    from_stage = models.CharField(_("from"), max_length=16, choices=DealStage.choices, blank=True, default="")
    to_stage = models.CharField(_("to"), max_length=16, choices=DealStage.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField(_("reason"), blank=True, default="")
    at = models.DateTimeField(_("at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("deal event")
        verbose_name_plural = _("deal events")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["tenant", "deal", "at"], name="dealevent_deal_at")]

    def __str__(self) -> str:
        return f"{self.deal_id}: {self.from_stage or '—'} → {self.to_stage}"
