"""Django admin scoped per tenant.

A tenant admin (staff, not superuser) sees and edits only the rows of the tenant they
administer (``request.admin_tenant``, set by the middleware, which also opens the scope);
every foreign-key and many-to-many widget offers only that tenant's rows; saving sets the
tenant. Superusers see everything and pick the tenant explicitly.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied

from partners.models import Tenant


class TenantScopedAdmin(admin.ModelAdmin):
    def admin_tenant(self, request) -> Tenant | None:
        return getattr(request, "admin_tenant", None)

    # -- visibility -----------------------------------------------------------------------
    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        tenant = self.admin_tenant(request)
        return qs.filter(tenant=tenant) if tenant else qs.none()

    def _is_tenant_admin(self, request) -> bool:
        return request.user.is_superuser or self.admin_tenant(request) is not None

    def has_module_permission(self, request):
        return self._is_tenant_admin(request)

    def has_view_permission(self, request, obj=None):
        return self._is_tenant_admin(request) and self._owns(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._is_tenant_admin(request) and self._owns(request, obj)

    def has_add_permission(self, request):
        return self._is_tenant_admin(request)

    def has_delete_permission(self, request, obj=None):
        return self._is_tenant_admin(request) and self._owns(request, obj)

    def _owns(self, request, obj) -> bool:
        if obj is None or request.user.is_superuser:
            return True
        tenant = self.admin_tenant(request)
        return tenant is not None and obj.tenant_id == tenant.pk

    # -- forms ------------------------------------------------------------------------------
    def get_exclude(self, request, obj=None):
        return tuple(super().get_exclude(request, obj) or ())

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if request.user.is_superuser and "tenant" not in form.base_fields and obj is None:
            # The platform operator must say which tenant a new row belongs to.
            form.base_fields = {
                "tenant": forms.ModelChoiceField(queryset=Tenant.objects.all(), label="Tenant"),
                **form.base_fields,
            }
        return form

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        self._limit(field, db_field, request)
        return field

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        self._limit(field, db_field, request)
        return field

    def _limit(self, field, db_field, request) -> None:
        if field is None or request.user.is_superuser:
            return
        related = db_field.remote_field.model
        tenant = self.admin_tenant(request)
        if any(f.name == "tenant" for f in related._meta.fields):
            field.queryset = field.queryset.filter(tenant=tenant) if tenant else field.queryset.none()
        elif related._meta.label == "partners.User":
            field.queryset = (
                field.queryset.filter(memberships__tenant=tenant).distinct() if tenant else field.queryset.none()
            )

    def save_model(self, request, obj, form, change):
        if not change:
            if request.user.is_superuser:
                obj.tenant = form.cleaned_data.get("tenant") or obj.tenant
            else:
                tenant = self.admin_tenant(request)
                if tenant is None:
                    raise PermissionDenied
                obj.tenant = tenant
        elif not request.user.is_superuser and obj.tenant_id != getattr(self.admin_tenant(request), "pk", None):
            raise PermissionDenied
        super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for instance in instances:
            if hasattr(instance, "tenant_id"):
                instance.tenant_id = form.instance.tenant_id
            instance.save()
        formset.save_m2m()
        for obj in formset.deleted_objects:
            obj.delete()


class TenantScopedInline(admin.TabularInline):
    extra = 0

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and not request.user.is_superuser:
            related = db_field.remote_field.model
            tenant = getattr(request, "admin_tenant", None)
            if any(f.name == "tenant" for f in related._meta.fields):
                field.queryset = field.queryset.filter(tenant=tenant) if tenant else field.queryset.none()
        return field
