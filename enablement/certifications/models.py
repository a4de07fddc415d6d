"""Certifications, certificates, tier requirements and expiry reminders.

The rules (docs/certifications.md has the long form):

* A person *earns* a certification when, for every required asset, the log holds a completion event
  of theirs (the rule of ``enablement.completion``, whatever the asset kind) that happened at or
  after the certificate's *counting start*. ``issued_at`` is the instant the last requirement was met.
* Counting start: none for a first certificate; after a revocation, the revocation instant (the
  person must complete everything again); otherwise the previous certificate's ``renewable_from``
  (``expires_at`` minus the certification's renewal window). Completions older than that do not renew.
* A renewal is a new certificate continuing the chain (``sequence`` + 1, ``previous``). It expires
  ``validity_months`` after the previous expiry when it was earned before that expiry, otherwise
  ``validity_months`` after its own ``issued_at``.
* A certificate is *valid* at an instant when it was issued at or before it, it has not expired and
  it is not revoked. Only valid certificates count (coverage, tier requirements, KPIs).
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from enablement.models import Asset
from partners.models import Partner, PartnerTier
from partners.tenancy import TenantOwnedModel


def new_verification_code() -> str:
    """144 random bits, URL-safe: unguessable, so the public page can be found only with the code."""
    return secrets.token_urlsafe(18)


class Certification(TenantOwnedModel):
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True, default="")
    required_assets = models.ManyToManyField(
        Asset, through="CertificationRequirement", related_name="+", verbose_name=_("required assets")
    )
    validity_months = models.PositiveSmallIntegerField(
        _("validity (months)"), default=24, validators=[MinValueValidator(1), MaxValueValidator(120)]
    )
    renewal_window_days = models.PositiveSmallIntegerField(
        _("renewal window (days)"),
        default=90,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text=_("Completions in the last days before expiry renew the certificate; older ones do not."),
    )
    is_active = models.BooleanField(
        _("active"), default=True, help_text=_("Inactive certifications issue no new certificates.")
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("certification")
        verbose_name_plural = _("certifications")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="uniq_certification_name_per_tenant"),
        ]

    def __str__(self) -> str:
        return self.name


class CertificationRequirement(TenantOwnedModel):
    certification = models.ForeignKey(Certification, on_delete=models.CASCADE, related_name="requirements")
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+", verbose_name=_("asset"))

    class Meta:
        verbose_name = _("required asset")
        verbose_name_plural = _("required assets")
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "certification", "asset"], name="uniq_certification_requirement"
            ),
        ]


class Certificate(TenantOwnedModel):
    """One person's certificate. Never deleted: revoked or expired ones stay as history."""

    certification = models.ForeignKey(Certification, on_delete=models.PROTECT, related_name="certificates")
    holder = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    partner = models.ForeignKey(
        Partner, on_delete=models.PROTECT, related_name="+", verbose_name=_("partner at issue time")
    )
    sequence = models.PositiveIntegerField(_("number in the chain"), default=1)
    previous = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="renewal"
    )
    code = models.CharField(_("verification code"), max_length=64, default=new_verification_code, editable=False)
    issued_at = models.DateTimeField(_("issued"))
    expires_at = models.DateTimeField(_("expires"))
    # The counting start of the next certificate in the chain (see the module docstring).
    renewable_from = models.DateTimeField()
    revoked_at = models.DateTimeField(pgettext_lazy("certificate", "revoked"), null=True, blank=True)
    revoked_reason = models.CharField(_("reason"), max_length=500, blank=True, default="")
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("certificate")
        verbose_name_plural = _("certificates")
        ordering = ["-issued_at"]
        constraints = [
            # Concurrent evaluations compute the same next number: exactly one insert wins.
            models.UniqueConstraint(
                fields=["tenant", "certification", "holder", "sequence"], name="uniq_certificate_in_chain"
            ),
            models.UniqueConstraint(fields=["tenant", "code"], name="uniq_certificate_code"),
            models.CheckConstraint(condition=Q(expires_at__gt=models.F("issued_at")), name="certificate_expires_after_issue"),
        ]
        indexes = [
            models.Index(fields=["code"], name="certificate_code"),
            models.Index(fields=["tenant", "certification", "expires_at"], name="certificate_expiry"),
            models.Index(fields=["tenant", "partner", "expires_at"], name="certificate_partner_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.certification} — {self.holder}"

    def status(self, at=None) -> str:
        at = at or timezone.now()
        if self.revoked_at is not None and self.revoked_at <= at:
            return CertificateStatus.REVOKED
        if self.expires_at <= at:
            return CertificateStatus.EXPIRED
        return CertificateStatus.VALID

    def get_status_display(self) -> str:
        return CertificateStatus(self.status()).label


class CertificateStatus(models.TextChoices):
    VALID = "valid", _("Valid")
    EXPIRED = "expired", pgettext_lazy("certificate", "Expired")
    REVOKED = "revoked", pgettext_lazy("certificate", "Revoked")


def valid_q(at, prefix: str = "") -> Q:
    """Certificates valid at ``at`` (the one definition every reader uses)."""
    return (
        Q(**{f"{prefix}issued_at__lte": at, f"{prefix}expires_at__gt": at})
        & (Q(**{f"{prefix}revoked_at__isnull": True}) | Q(**{f"{prefix}revoked_at__gt": at}))
    )


class TierCertificationRequirement(TenantOwnedModel):
    """A tier requires N people of each partner to hold a valid certificate of a certification."""

    tier = models.ForeignKey(PartnerTier, on_delete=models.CASCADE, related_name="+", verbose_name=_("tier"))
    certification = models.ForeignKey(
        Certification, on_delete=models.CASCADE, related_name="tier_requirements", verbose_name=_("certification")
    )
    required_people = models.PositiveSmallIntegerField(
        _("certified people required"), default=1, validators=[MinValueValidator(1), MaxValueValidator(1000)]
    )

    class Meta:
        verbose_name = _("tier certification requirement")
        verbose_name_plural = _("tier certification requirements")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "tier", "certification"], name="uniq_tier_certification"),
        ]

    def __str__(self) -> str:
        return f"{self.tier}: {self.required_people} × {self.certification}"


class CertificateReminder(TenantOwnedModel):
    """A reminder mail sent before expiry: one row per (certificate, days before), so each is sent once."""

    certificate = models.ForeignKey(Certificate, on_delete=models.CASCADE, related_name="reminders")
    days_before = models.PositiveSmallIntegerField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "certificate", "days_before"], name="uniq_certificate_reminder"
            ),
        ]
