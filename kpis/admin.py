"""Django admin of the KPI engine: targets (KpiDefinition) are edited here by tenant admins;
results and the rollup state are read-only."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _

from kpis.definitions import kpi_definition_save
from kpis.models import KpiDefinition, KpiResult, KpiTarget, RollupState
from partners.tenancy.admin import TenantScopedAdmin, TenantScopedInline


class KpiTargetInline(TenantScopedInline):
    model = KpiTarget
    extra = 0
    fields = ["effective_from", "tier", "segment", "partner", "target"]


@admin.register(KpiDefinition)
class KpiDefinitionAdmin(TenantScopedAdmin):
    inlines = [KpiTargetInline]
    list_display = ["name_en", "name_ja", "metric", "period", "tier", "segment", "target", "direction", "warning_band", "is_active"]
    list_filter = ["metric", "period", "is_active", ("tier", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name_en", "name_ja", "segment"]
    list_select_related = ["tier"]
    readonly_fields = ["replaces"]
    fieldsets = (
        (
            None,
            {
                "fields": ("name_ja", "name_en", "metric", "period", "is_active"),
                "description": _(
                    "Changing the metric, the period or the partner filter starts a new series: the current "
                    "definition is deactivated with its results kept, and a new one is created."
                ),
            },
        ),
        (_("Partner filter"), {"fields": ("tier", "segment")}),
        (
            _("Target and status"),
            {
                "fields": ("target", "direction", "warning_band"),
                "description": _(
                    "Rates are percentages: the target must be between 0 and 100. Counts and days cannot be negative."
                ),
            },
        ),
        (None, {"fields": ("replaces",)}),
    )

    def save_model(self, request, obj, form, change):
        if not change:
            super().save_model(request, obj, form, change)
            return
        if not request.user.is_superuser and obj.tenant_id != getattr(self.admin_tenant(request), "pk", None):
            raise PermissionDenied
        kpi_definition_save(tenant=obj.tenant, definition=obj, actor=request.user)  # may start a new series


class ReadOnlyTenantAdmin(TenantScopedAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(KpiResult)
class KpiResultAdmin(ReadOnlyTenantAdmin):
    list_display = ["definition", "period_start", "period_end", "partner", "numerator", "denominator", "value", "target", "status", "computed_at"]
    list_filter = ["status", ("definition", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["definition", "partner"]
    date_hierarchy = "period_start"
    search_fields = ["partner__name", "definition__name_en", "definition__name_ja"]


@admin.register(RollupState)
class RollupStateAdmin(ReadOnlyTenantAdmin):
    list_display = ["tenant", "status", "watermark", "started_at", "finished_at", "kpis_computed_at"]
    readonly_fields = ["watermark", "status", "started_at", "finished_at", "kpis_computed_at", "last_error"]
