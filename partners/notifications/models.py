"""The notification centre: in-app notices, e-mail delivery state, per-person preferences.

The bottom layer of the notification flow: every context calls ``services.notify``; this package
imports nothing above ``partners``."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from partners.notifications.http import validate_webhook_url
from partners.tenancy import TenantOwnedModel


class NotificationKind(models.TextChoices):
    ASSIGNMENT_NEW = "assignment.new", _("New assignments")
    ASSIGNMENT_OVERDUE = "assignment.overdue", _("Overdue assignments")
    DEAL_DECISION = "deal.decision", _("Deal decisions")
    DEAL_EXPIRING = "deal.expiring", _("Deal registrations expiring")
    FAQ_ANSWERED = "faq.answered", _("Answers to your questions")
    DIGEST_WEEKLY = "digest.weekly", _("Weekly digest")
    NEXT_ACTIONS_WEEKLY = "nba.weekly", _("Weekly next best actions")


class EmailState(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    SKIPPED = "skipped", _("Not sent")


class Notification(TenantOwnedModel):
    """One notice to one person. ``(tenant, recipient, dedupe_key)`` is unique, so an event
    notified twice (a retried task, a double click) stores one row and sends at most one mail."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recipient"), on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=32, choices=NotificationKind.choices)
    title = models.CharField(_("title"), max_length=300)
    body = models.TextField(_("body"), blank=True, default="")
    url = models.CharField(_("link"), max_length=500, blank=True, default="")
    dedupe_key = models.CharField(_("dedupe key"), max_length=200)
    in_app = models.BooleanField(_("in app"), default=True)
    email_state = models.CharField(
        _("e-mail"), max_length=16, choices=EmailState.choices, default=EmailState.PENDING
    )
    emailed_at = models.DateTimeField(_("e-mailed"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "recipient", "dedupe_key"], name="uniq_notification_dedupe"),
        ]
        indexes = [
            models.Index(fields=["tenant", "recipient", "read_at"], name="notification_unread"),
        ]

    def __str__(self) -> str:
        return self.title


class NotificationPreference(TenantOwnedModel):
    """Per person, tenant and kind: whether to show it in the app and send it by e-mail
    (no row: both on)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("kind"), max_length=32, choices=NotificationKind.choices)
    in_app = models.BooleanField(_("in app"), default=True)
    email = models.BooleanField(_("e-mail"), default=True)

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user", "kind"], name="uniq_notification_preference"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}"


class WebhookFormat(models.TextChoices):
    JSON = "json", _("JSON")
    SLACK = "slack", _("Slack")
    TEAMS = "teams", _("Microsoft Teams")


class Webhook(TenantOwnedModel):
    """An outgoing webhook of a tenant: each notified event of the chosen kinds is POSTed once,
    signed with HMAC-SHA256 of the body (header ``X-Shien-Signature: sha256=<hex>``)."""

    name = models.CharField(_("name"), max_length=100)
    url = models.URLField(_("URL"), max_length=500, validators=[validate_webhook_url],
                          help_text=_("A public http(s) address; redirects are not followed."))
    secret = models.CharField(_("signing secret"), max_length=200)
    format = models.CharField(_("format"), max_length=16, choices=WebhookFormat.choices, default=WebhookFormat.JSON)
    kinds = models.JSONField(_("kinds"), default=list, blank=True, help_text=_("Empty: every kind."))
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="uniq_webhook_name")]

    def __str__(self) -> str:
        return self.name

    def wants(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds


class WebhookDelivery(TenantOwnedModel):
    """One event for one webhook: ``(tenant, webhook, dedupe_key)`` is unique, so an event is
    delivered at most once per webhook however often it is notified."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    dedupe_key = models.CharField(_("dedupe key"), max_length=200)
    kind = models.CharField(_("kind"), max_length=32, choices=NotificationKind.choices)
    payload = models.JSONField(_("payload"))
    state = models.CharField(_("state"), max_length=16, choices=EmailState.choices, default=EmailState.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True, default="")
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "webhook", "dedupe_key"], name="uniq_webhook_delivery"),
        ]

    def __str__(self) -> str:
        return self.dedupe_key
