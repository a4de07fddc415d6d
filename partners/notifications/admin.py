"""Django admin for the notification centre, scoped to the tenant admin's own tenant: outgoing
webhooks (configured here) and read-only delivery records."""

from django.contrib import admin

from partners.notifications.models import Webhook, WebhookDelivery
from partners.tenancy.admin import TenantScopedAdmin


@admin.register(Webhook)
class WebhookAdmin(TenantScopedAdmin):
    list_display = ["name", "url", "format", "is_active"]
    list_filter = ["format", "is_active"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(TenantScopedAdmin):
    list_display = ["dedupe_key", "webhook", "kind", "state", "attempts", "delivered_at", "last_error"]
    list_filter = ["state", "kind"]
    list_select_related = ["webhook"]
    readonly_fields = ["webhook", "dedupe_key", "kind", "payload", "state", "attempts", "last_error", "delivered_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
