"""Django admin for deals, scoped to the tenant admin's own tenant."""

from django.contrib import admin

from partners.deals.models import Deal
from partners.tenancy.admin import TenantScopedAdmin


@admin.register(Deal)
class DealAdmin(TenantScopedAdmin):
    list_display = ["customer", "partner", "amount", "currency", "stage", "closed_on", "source"]
    list_filter = ["stage", "source"]
    search_fields = ["customer", "partner__name", "external_id"]
    list_select_related = ["partner"]
    audit_fields = ("partner", "customer", "amount", "stage", "closed_on")
