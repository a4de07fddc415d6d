"""Who: tenants, users and their roles, partners, tiers, support activities, API keys."""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from partners.tenancy import ScopedManager, TenantOwnedModel


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(_("Unknown time zone %(tz)s."), params={"tz": value}) from exc


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """A person. Logs in with email + password; belongs to tenants through Membership."""

    username = None
    first_name = None
    last_name = None
    email = models.EmailField(_("email address"), unique=True)
    name = models.CharField(_("name"), max_length=150, blank=True)
    language = models.CharField(
        _("language"),
        max_length=8,
        blank=True,
        choices=settings.LANGUAGES,
        help_text=_("Empty: use the tenant's default language."),
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.name or self.email

    def get_full_name(self) -> str:
        return self.name or self.email

    def get_short_name(self) -> str:
        return self.name or self.email


slug_validator = RegexValidator(r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$", _("Lowercase letters, digits and hyphens."))


class Tenant(models.Model):
    """A vendor. Not tenant-owned itself: it *is* the tenant."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=50, unique=True, validators=[slug_validator])
    time_zone = models.CharField(_("time zone"), max_length=64, default="Asia/Tokyo", validators=[validate_time_zone])
    default_language = models.CharField(
        _("default language"), max_length=8, default="ja", choices=settings.LANGUAGES
    )
    currency = models.CharField(
        _("currency"), max_length=3, default="JPY", help_text=_("The default currency of new deals (ISO 4217).")
    )
    deal_registration_days = models.PositiveSmallIntegerField(
        _("deal registration days"), default=90,
        help_text=_("An open deal registration expires this many days after it was registered."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    log_retention_months = models.PositiveSmallIntegerField(
        _("activity log retention (months)"), null=True, blank=True,
        validators=[MinValueValidator(1)],
        help_text=_(
            "Events older than this many whole months are archived to files and removed from the log; "
            "facts and KPIs stay. Empty: keep the log forever."
        ),
    )
    mfa_required_channel_managers = models.BooleanField(
        _("require a second factor for channel managers"), default=False,
        help_text=_("Tenant admins always need one."),
    )
    mfa_required_partner_users = models.BooleanField(_("require a second factor for partner users"), default=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def zoneinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class Role(models.TextChoices):
    TENANT_ADMIN = "tenant_admin", _("Tenant admin")
    CHANNEL_MANAGER = "channel_manager", _("Channel manager")
    PARTNER_USER = "partner_user", _("Partner user")


MANAGER_ROLES = frozenset({Role.TENANT_ADMIN, Role.CHANNEL_MANAGER})


class PartnerTier(TenantOwnedModel):
    name = models.CharField(_("name"), max_length=100)
    rank = models.PositiveSmallIntegerField(_("rank"), default=0, help_text=_("1 is the highest tier."))

    class Meta:
        verbose_name = _("partner tier")
        verbose_name_plural = _("partner tiers")
        ordering = ["rank", "name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="uniq_tier_name_per_tenant"),
        ]

    def __str__(self) -> str:
        return self.name


class PartnerStatus(models.TextChoices):
    ONBOARDING = "onboarding", _("Onboarding")
    ACTIVE = "active", _("Active")
    NURTURING = "nurturing", _("Nurturing")
    DORMANT = "dormant", _("Dormant")


class CohortOverride(models.TextChoices):
    AUTO = "", _("Automatic")
    TOP = "top", _("Always a top partner")
    NURTURE = "nurture", _("Always needs nurturing")
    EXCLUDE = "exclude", _("Exclude from cohorts")


class Partner(TenantOwnedModel):
    name = models.CharField(_("company"), max_length=200)
    name_kana = models.CharField(
        _("reading"), max_length=200, blank=True, default="",
        help_text=_("The company name in hiragana (furigana); Japanese lists are sorted by it."),
    )
    external_id = models.CharField(_("external id"), max_length=100, blank=True, default="")
    tier = models.ForeignKey(
        PartnerTier, verbose_name=_("tier"), null=True, blank=True, on_delete=models.SET_NULL, related_name="partners"
    )
    segment = models.CharField(_("segment"), max_length=100, blank=True, default="")
    region = models.CharField(_("region"), max_length=100, blank=True, default="")
    status = models.CharField(_("status"), max_length=16, choices=PartnerStatus.choices, default=PartnerStatus.ONBOARDING)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("channel manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_partners",
    )
    joined_on = models.DateField(_("joined"), default=timezone.localdate)
    cohort_override = models.CharField(
        _("cohort override"), max_length=16, choices=CohortOverride.choices, blank=True, default=""
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("partner")
        verbose_name_plural = _("partners")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="uniq_partner_name_per_tenant"),
            models.UniqueConstraint(
                fields=["tenant", "external_id"], condition=~Q(external_id=""), name="uniq_partner_external_id"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "status"]), models.Index(fields=["tenant", "tier"])]

    def __str__(self) -> str:
        return self.name


class Membership(TenantOwnedModel):
    """User × tenant × role. Partner users are tied to their partner company."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), null=True, blank=True, on_delete=models.CASCADE, related_name="memberships"
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="uniq_membership_per_tenant"),
            models.CheckConstraint(
                condition=(Q(role=Role.PARTNER_USER) & Q(partner__isnull=False))
                | (~Q(role=Role.PARTNER_USER) & Q(partner__isnull=True)),
                name="membership_partner_iff_partner_user",
            ),
        ]
        # the filter bar's and the teams page's channel managers: a few rows among a tenant's
        # partner users (50,000 at 5,000 partners), read by every dashboard page
        indexes = [models.Index(fields=["tenant", "role"], name="membership_tenant_role")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant_id} ({self.get_role_display()})"

    @property
    def is_manager(self) -> bool:
        return self.role in MANAGER_ROLES

    @property
    def is_admin(self) -> bool:
        return self.role == Role.TENANT_ADMIN

    def clean(self) -> None:
        if self.role == Role.PARTNER_USER and not self.partner_id:
            raise ValidationError({"partner": _("A partner user must belong to a partner.")})
        if self.role != Role.PARTNER_USER and self.partner_id:
            raise ValidationError({"partner": _("Only partner users belong to a partner.")})
        if self.partner_id and self.partner.tenant_id != self.tenant_id:
            raise ValidationError({"partner": _("Unknown partner.")})


class SupportActivityKind(models.TextChoices):
    MEETING = "meeting", _("Meeting")
    WORKSHOP = "workshop", _("Workshop")
    CALL = "call", _("Call")
    EMAIL = "email", _("Email")
    CO_SELLING = "co_selling", _("Co-selling")
    OTHER = "other", _("Other")


class SupportActivity(TenantOwnedModel):
    """What a channel manager did for a partner."""

    partner = models.ForeignKey(Partner, verbose_name=_("partner"), on_delete=models.CASCADE, related_name="support_activities")
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("logged by"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=SupportActivityKind.choices)
    occurred_on = models.DateField(_("date"))
    duration_minutes = models.PositiveIntegerField(_("duration (minutes)"), default=0)
    participants = models.CharField(_("participants"), max_length=500, blank=True, default="")
    notes = models.TextField(_("notes"), blank=True, default="")
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("support activity")
        verbose_name_plural = _("support activities")
        ordering = ["-occurred_on", "-id"]
        indexes = [models.Index(fields=["tenant", "partner", "occurred_on"]), models.Index(fields=["tenant", "occurred_on"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.occurred_on}"


class ApiKeyScope(models.TextChoices):
    READ = "read", _("Read")
    EVENTS_WRITE = "events:write", _("Write activity events")
    PARTNERS_WRITE = "partners:write", _("Create and update partners")
    DEALS_WRITE = "deals:write", _("Register deals (they enter as registered)")
    DEALS_APPROVE = "deals:approve", _("Approve, reject and close deals")


class ApiKey(TenantOwnedModel):
    """A tenant's credential for external systems. Only a hash is stored; the prefix identifies it."""

    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    hashed_key = models.CharField(max_length=128, editable=False)
    scopes = models.JSONField(_("scopes"), default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)
    trusted_source = models.BooleanField(
        _("trusted source"),
        default=False,
        help_text=_("Completions sent with this key count toward completion KPIs. Otherwise they are stored and shown, but do not count."),
    )

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="uniq_api_key_name_per_tenant")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Invitation(TenantOwnedModel):
    """An e-mailed, single-use, expiring invitation to a membership. Only the token's hash is stored;
    the membership exists once the invited person accepts (a new person sets a password, an existing
    person accepts while logged in)."""

    email = models.EmailField(_("email address"))
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), null=True, blank=True, on_delete=models.CASCADE, related_name="invitations"
    )
    name = models.CharField(_("name"), max_length=150, blank=True, default="")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    expires_at = models.DateTimeField(_("expires"))
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "email"], condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="uniq_pending_invitation_per_tenant",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "created_at"])]

    def __str__(self) -> str:
        return f"{self.email} → {self.tenant_id} ({self.get_role_display()})"

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > timezone.now()

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"


class SsoProtocol(models.TextChoices):
    OIDC = "oidc", _("OpenID Connect")
    SAML = "saml", _("SAML 2.0")


class SsoConnection(TenantOwnedModel):
    """A tenant's identity provider. People it vouches for get a membership in this tenant only."""

    protocol = models.CharField(_("protocol"), max_length=8, choices=SsoProtocol.choices)
    name = models.CharField(_("button label"), max_length=100, help_text=_("Shown on the login page."))
    is_active = models.BooleanField(_("active"), default=True)
    # OpenID Connect
    issuer = models.URLField(_("issuer URL"), blank=True, default="")
    client_id = models.CharField(_("client id"), max_length=255, blank=True, default="")
    client_secret_encrypted = models.TextField(blank=True, default="", editable=False)
    client_secret_env = models.CharField(
        _("client secret from environment variable"), max_length=100, blank=True, default="",
        help_text=_("Name of an environment variable SHIEN_SSO_… holding the secret (instead of storing it)."),
    )
    # SAML 2.0
    idp_entity_id = models.CharField(_("IdP entity id"), max_length=500, blank=True, default="")
    idp_sso_url = models.URLField(_("IdP single sign-on URL"), max_length=500, blank=True, default="")
    idp_x509cert = models.TextField(_("IdP signing certificate (PEM)"), blank=True, default="")
    idp_metadata_url = models.URLField(_("IdP metadata URL"), max_length=500, blank=True, default="")
    idp_metadata_xml = models.TextField(
        _("IdP metadata (XML)"), blank=True, default="",
        help_text=_("Pasted or uploaded, or fetched from the metadata URL when saved; sign-in reads it from here."),
    )
    # Who may come in, and as what
    email_domains = models.CharField(
        _("e-mail domains"), max_length=500,
        help_text=_("Comma-separated. Only addresses in these domains may sign in through this provider."),
    )
    jit_enabled = models.BooleanField(
        _("just-in-time membership"), default=True,
        help_text=_("Create the membership on first sign-in, from the rules below."),
    )
    default_role = models.CharField(
        _("default role"), max_length=32, choices=Role.choices, blank=True, default="",
        help_text=_("Empty: only people matched by a rule get a membership."),
    )
    default_partner = models.ForeignKey(
        Partner, verbose_name=_("default partner"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    role_mapping = models.JSONField(
        _("role mapping"), default=list, blank=True,
        help_text=_("Rules, first match wins: {\"domain\"|\"attribute\"+\"value\", \"role\", \"partner\"}."),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("SSO connection")
        verbose_name_plural = _("SSO connections")
        constraints = [models.UniqueConstraint(fields=["tenant", "protocol"], name="uniq_sso_protocol_per_tenant")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_protocol_display()})"

    @property
    def provider_id(self) -> str:
        """allauth's provider id (OIDC) / organisation slug (SAML): unique per tenant and protocol."""
        return f"{self.protocol}-t{self.tenant_id}"

    @property
    def domains(self) -> list[str]:
        return [d.strip().lower().lstrip("@") for d in self.email_domains.split(",") if d.strip()]


class AuditEvent(models.Model):
    """Who changed what, append-only (UPDATE and DELETE are refused by database triggers; the one
    sanctioned UPDATE is a person's erasure replacing their identity in the labels and before/after,
    partners 0013).

    ``tenant`` is empty only for platform-level changes an operator made outside any tenant
    (e.g. a person's staff bit). ``actor`` is empty for API keys and system jobs, which
    ``actor_label`` names instead.
    """

    tenant = models.ForeignKey(
        Tenant, verbose_name=_("tenant"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # DO_NOTHING without a database constraint: deleting a person never rewrites the trail
    # (actor_label keeps who it was).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("actor"), null=True, blank=True, on_delete=models.DO_NOTHING,
        related_name="+", db_constraint=False,
    )
    actor_label = models.CharField(_("actor"), max_length=254, blank=True, default="")
    action = models.CharField(_("action"), max_length=64)
    target_type = models.CharField(_("target type"), max_length=64)
    target_id = models.CharField(_("target id"), max_length=64, blank=True, default="")
    target_label = models.CharField(_("target"), max_length=254, blank=True, default="")
    before = models.JSONField(_("before"), default=dict, blank=True)
    after = models.JSONField(_("after"), default=dict, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "created_at"]), models.Index(fields=["tenant", "action"])]

    def __str__(self) -> str:
        return f"{self.action} {self.target_label}"
