"""Django admin of the partners context.

People are global: only the platform operator (superuser) sees and edits accounts (``User``) —
passwords, e-mail, active flag, staff and superuser bits. Tenant admins manage memberships
only (role, partner, active), through the same services as the manage area, and never add one
directly: access starts with an invitation that the person accepts.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from partners import services
from partners.audit import audit_record, summary
from partners.models import (
    ApiKey,
    ApiKeyScope,
    AuditEvent,
    Invitation,
    Membership,
    Partner,
    PartnerTier,
    SupportActivity,
    Tenant,
    User,
)
from partners.tenancy.admin import TenantScopedAdmin

USER_AUDIT_FIELDS = ("email", "name", "is_active", "is_staff", "is_superuser")


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """Accounts: the platform operator's only. A tenant admin has no view, change, password or add here."""

    ordering = ["email"]
    list_display = ["email", "name", "is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Profile"), {"fields": ("name", "language")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser")}),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "name", "password1", "password2")}),)
    filter_horizontal = ()
    list_filter = ["is_staff", "is_superuser", "is_active"]

    def _operator(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_module_permission(self, request):
        return self._operator(request)

    def has_view_permission(self, request, obj=None):
        return self._operator(request)

    def has_change_permission(self, request, obj=None):
        return self._operator(request)

    def has_add_permission(self, request):
        return self._operator(request)

    def has_delete_permission(self, request, obj=None):
        return self._operator(request)

    def user_change_password(self, request, id, form_url=""):
        if not self._operator(request):
            raise PermissionDenied
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            user = User.objects.get(pk=id)
            audit_record(tenant=None, actor=request.user, action="user.password_set", target=user, target_label=user.email)
        return response

    def save_model(self, request, obj, form, change):
        before = summary(User.objects.get(pk=obj.pk), USER_AUDIT_FIELDS) if change else {}
        super().save_model(request, obj, form, change)
        after = summary(obj, USER_AUDIT_FIELDS)
        if not change or before != after or "password" in form.changed_data:
            audit_record(tenant=None, actor=request.user, action="user.changed" if change else "user.created",
                         target=obj, target_label=obj.email, before=before, after=after)


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
    """Role, partner and active flag of a membership — through the membership services (audited,
    last-admin guard). No add: access starts with an invitation."""

    list_display = ["user", "role", "partner", "is_active"]
    list_filter = ["role", "is_active"]
    search_fields = ["user__email", "user__name", "partner__name"]
    list_select_related = ["user", "partner"]
    readonly_fields = ["user"]
    fields = ["user", "role", "partner", "is_active"]

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        if not change or not self._owns(request, obj):
            raise PermissionDenied
        current = Membership.objects.get(pk=obj.pk)
        try:
            if obj.role != current.role or obj.partner_id != current.partner_id:
                services.membership_update(tenant=obj.tenant, membership=current, role=obj.role, partner=obj.partner,
                                           actor=request.user)
            if obj.is_active != current.is_active:
                services.membership_set_active(tenant=obj.tenant, membership=current, is_active=obj.is_active,
                                               actor=request.user)
        except ValidationError as exc:
            raise PermissionDenied(exc.messages[0]) from exc

    def delete_model(self, request, obj):
        services.membership_remove(tenant=obj.tenant, membership=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            services.membership_remove(tenant=obj.tenant, membership=obj, actor=request.user)


@admin.register(Invitation)
class InvitationAdmin(TenantScopedAdmin):
    """Read-only here: invitations are created, resent and revoked in Manage → Members."""

    list_display = ["email", "role", "partner", "created_at", "expires_at", "accepted_at", "revoked_at"]
    list_filter = ["role"]
    search_fields = ["email"]
    list_select_related = ["partner"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SupportActivity)
class SupportActivityAdmin(TenantScopedAdmin):
    list_display = ["partner", "kind", "occurred_on", "duration_minutes", "manager"]
    list_filter = ["kind"]
    search_fields = ["partner__name", "notes"]
    list_select_related = ["partner", "manager"]
    date_hierarchy = "occurred_on"


# --- API keys: created here or in Manage → API keys; the key is shown once, revocation is final -------
class ApiKeyAdminForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=_("scopes"), choices=ApiKeyScope.choices, widget=forms.CheckboxSelectMultiple, initial=[ApiKeyScope.READ]
    )

    class Meta:
        model = ApiKey
        fields = ["name", "scopes", "trusted_source"]


class ApiKeyChangeForm(forms.ModelForm):
    revoke = forms.BooleanField(label=_("revoke this key (final)"), required=False)

    class Meta:
        model = ApiKey
        fields = ["name", "trusted_source"]


@admin.register(ApiKey)
class ApiKeyAdmin(TenantScopedAdmin):
    list_display = ["name", "prefix", "scopes", "trusted_source", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at", "trusted_source"]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix", "scopes", "created_at", "last_used_at", "revoked_at"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = ApiKeyChangeForm if obj is not None else ApiKeyAdminForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "scopes", "trusted_source"]
        if obj.revoked_at is not None:
            return ["name", "prefix", "scopes", "trusted_source", "created_at", "last_used_at", "revoked_at"]
        return ["name", "prefix", "scopes", "trusted_source", "created_at", "last_used_at", "revoked_at", "revoke"]

    def has_change_permission(self, request, obj=None):
        # A revoked key is final: nothing about it can be changed any more.
        if obj is not None and obj.revoked_at is not None:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # keys are revoked, never deleted (their audit trail stays meaningful)

    def save_model(self, request, obj, form, change):
        tenant = request._shien_form_tenant
        if not change:
            try:
                key, raw = services.api_key_create(tenant=tenant, name=form.cleaned_data["name"],
                                                   scopes=form.cleaned_data["scopes"], actor=request.user,
                                                   trusted_source=form.cleaned_data.get("trusted_source", False))
            except ValidationError as exc:
                raise PermissionDenied(exc.messages[0]) from exc
            obj.pk, obj.prefix = key.pk, key.prefix
            request._shien_new_api_key = raw
            return
        if form.cleaned_data.get("revoke"):
            services.api_key_revoke(tenant=obj.tenant, key=obj, actor=request.user)
            return
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        """The raw key is shown once, on this page (no-store); it never goes into a message cookie."""
        raw = getattr(request, "_shien_new_api_key", None)
        if raw is None:
            return super().response_add(request, obj, post_url_continue)
        response = TemplateResponse(request, "admin/shien/api_key_created.html", {
            **self.admin_site.each_context(request),
            "opts": self.model._meta, "key": obj, "raw": raw, "title": _("API key created"),
        })
        response["Cache-Control"] = "no-store"
        return response


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only. Operators see every tenant's trail and platform-level events; tenant admins their own."""

    list_display = ["created_at", "tenant", "actor_label", "action", "target_type", "target_label", "ip"]
    list_filter = ["action"]
    search_fields = ["actor_label", "action", "target_label", "target_id"]
    ordering = ["-created_at", "-id"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]
    actions = None
    show_full_result_count = False

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("tenant")
        if request.user.is_superuser:
            return qs
        tenant = getattr(request, "admin_tenant", None)
        return qs.filter(tenant=tenant) if tenant else qs.none()

    def has_module_permission(self, request):
        return request.user.is_superuser or getattr(request, "admin_tenant", None) is not None

    def has_view_permission(self, request, obj=None):
        if not self.has_module_permission(request):
            return False
        if obj is None or request.user.is_superuser:
            return True
        return obj.tenant_id == getattr(request.admin_tenant, "pk", None)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
