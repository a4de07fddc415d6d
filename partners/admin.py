from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from partners.models import (
    ApiKey,
    ApiKeyScope,
    Membership,
    Partner,
    PartnerTier,
    SupportActivity,
    Tenant,
    User,
)
from partners.services import api_key_generate, api_key_hash
from partners.tenancy.admin import TenantScopedAdmin


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "is_staff", "is_active"]
    search_fields = ["email", "name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Profile"), {"fields": ("name", "language")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser")}),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "name", "password1", "password2")}),)
    filter_horizontal = ()
    list_filter = ["is_staff", "is_active"]

    # Users are global (one person, several tenants). A tenant admin sees only the users who
    # are members of their tenant and cannot grant staff or superuser rights.
    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        tenant = getattr(request, "admin_tenant", None)
        return qs.filter(memberships__tenant=tenant).distinct() if tenant else qs.none()

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser or obj is None:
            return fieldsets
        return ((None, {"fields": ("email", "name", "language", "is_active")}),)

    def has_module_permission(self, request):
        return request.user.is_superuser or getattr(request, "admin_tenant", None) is not None

    has_view_permission = has_change_permission = has_add_permission = (
        lambda self, request, obj=None: self.has_module_permission(request)
    )

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "time_zone", "default_language", "is_active"]
    prepopulated_fields = {"slug": ["name"]}

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    has_change_permission = has_add_permission = has_delete_permission = has_view_permission


@admin.register(PartnerTier)
class PartnerTierAdmin(TenantScopedAdmin):
    list_display = ["name", "rank"]
    ordering = ["rank"]


@admin.register(Partner)
class PartnerAdmin(TenantScopedAdmin):
    list_display = ["name", "tier", "status", "segment", "region", "manager", "joined_on"]
    list_filter = ["status", "tier"]
    search_fields = ["name", "external_id"]
    list_select_related = ["tier", "manager"]


@admin.register(Membership)
class MembershipAdmin(TenantScopedAdmin):
    list_display = ["user", "role", "partner", "is_active"]
    list_filter = ["role", "is_active"]
    search_fields = ["user__email", "user__name", "partner__name"]
    list_select_related = ["user", "partner"]


@admin.register(SupportActivity)
class SupportActivityAdmin(TenantScopedAdmin):
    list_display = ["partner", "kind", "occurred_on", "duration_minutes", "manager"]
    list_filter = ["kind"]
    search_fields = ["partner__name", "notes"]
    list_select_related = ["partner", "manager"]
    date_hierarchy = "occurred_on"


# --- API keys: created here or in Manage → API keys; the key is shown once ---------------------------


class ApiKeyAdminForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=_("scopes"), choices=ApiKeyScope.choices, widget=forms.CheckboxSelectMultiple, initial=[ApiKeyScope.EVENTS_WRITE]
    )

    class Meta:
        model = ApiKey
        fields = ["name", "scopes", "trusted_source", "revoked_at"]


@admin.register(ApiKey)
class ApiKeyAdmin(TenantScopedAdmin):
    form = ApiKeyAdminForm
    list_display = ["name", "prefix", "scopes", "trusted_source", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at", "trusted_source"]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]

    def save_model(self, request, obj, form, change):
        raw = None
        if not change:
            obj.prefix, raw = api_key_generate()
            obj.hashed_key = api_key_hash(raw)
            obj.created_by = request.user
        obj.scopes = sorted(set(form.cleaned_data["scopes"]))
        super().save_model(request, obj, form, change)
        if raw:
            messages.warning(request, _("New API key (copy it now, it is not shown again): %(key)s") % {"key": raw})
