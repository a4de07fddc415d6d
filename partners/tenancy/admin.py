"""Django admin scoped per tenant.

Who may open the admin is decided by membership, not by the ``is_staff`` bit: the platform
operator (an active superuser) and anyone with an active *tenant admin* membership of an active
tenant (``ShienAdminSite.has_permission``). A tenant admin invited through the product therefore
reaches the admin of their tenant without anyone touching their account, and loses it the moment
the membership is suspended, demoted or removed. ``is_staff`` grants nothing on its own.

A tenant admin sees and edits only the rows of the tenant they administer (``request.admin_tenant``,
set by the middleware, which also opens the scope). Every form is bound to one tenant — the
object's, the tenant admin's, or for a new row of the operator the tenant chosen first
(``?tenant=<id>``) — and every foreign-key and many-to-many choice is limited to that tenant, for
superusers too. Unique constraints that include the tenant are validated as form errors.
Saves and deletions are written to the audit log.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from partners.audit import audit_record, summary
from partners.models import Tenant


class ShienAdminSite(admin.AdminSite):
    site_header = _("Shien administration")
    site_title = _("Shien administration")

    def has_permission(self, request):
        user = request.user
        if not (user.is_authenticated and user.is_active):
            return False
        return user.is_superuser or getattr(request, "admin_tenant", None) is not None

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        def wrapper(request, *args, **kwargs):
            # Logged in but neither operator nor tenant admin: a plain 403, not the admin login form.
            if request.user.is_authenticated and not self.has_permission(request):
                raise PermissionDenied
            return inner(request, *args, **kwargs)

        wrapper.__dict__.update(inner.__dict__)
        return wrapper

    def login(self, request, extra_context=None):
        """One login for the whole site (lockout, second factor): the product's."""
        if request.user.is_authenticated and not self.has_permission(request):
            raise PermissionDenied
        next_url = request.GET.get("next") or request.get_full_path().replace("login/", "")
        return redirect_to_login(next_url, settings.LOGIN_URL)


def _tenant_field_names(model) -> bool:
    return any(f.name == "tenant" for f in model._meta.fields)


class TenantScopedAdmin(admin.ModelAdmin):
    #: fields summarised in the audit log; defaults to the form's changed fields
    audit_fields: tuple[str, ...] | None = None

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

    # -- the tenant of the form ----------------------------------------------------------------
    def form_tenant(self, request, obj=None) -> Tenant | None:
        """The tenant a form is bound to: the object's; a tenant admin's own; for a new row of the
        operator, the one chosen in ``?tenant=<id>`` (``None`` until chosen)."""
        if obj is not None and getattr(obj, "tenant_id", None):
            return obj.tenant
        if not request.user.is_superuser:
            return self.admin_tenant(request)
        raw = request.GET.get("tenant", "")
        if raw.isdigit() and len(raw) <= 18:
            return Tenant.objects.filter(pk=int(raw)).first()
        return None

    def add_view(self, request, form_url="", extra_context=None):
        if request.user.is_superuser and self.form_tenant(request) is None:
            if not self.has_add_permission(request):
                raise PermissionDenied
            return TemplateResponse(request, "admin/shien/choose_tenant.html", {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": _("Choose the tenant of the new %(name)s") % {"name": self.model._meta.verbose_name},
                "tenants": Tenant.objects.order_by("name"),
            })
        return super().add_view(request, form_url, extra_context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        obj = None
        if object_id is not None:
            obj = self.get_object(request, admin.utils.unquote(object_id))
        request._shien_form_tenant = self.form_tenant(request, obj)
        return super().changeform_view(request, object_id, form_url, extra_context)

    # -- forms ------------------------------------------------------------------------------
    def get_form(self, request, obj=None, change=False, **kwargs):
        base = super().get_form(request, obj, change=change, **kwargs)
        tenant = getattr(request, "_shien_form_tenant", None) or self.form_tenant(request, obj)

        class TenantBoundForm(base):
            def __init__(self, *args, **kw):
                super().__init__(*args, **kw)
                if tenant is not None and getattr(self.instance, "tenant_id", None) is None:
                    self.instance.tenant = tenant

            def _get_validation_exclusions(self):
                # The tenant is not a form field, but the unique constraints that include it must be
                # checked here (a form error), not by the database (an IntegrityError).
                exclusions = super()._get_validation_exclusions()
                exclusions.discard("tenant")
                return exclusions

        TenantBoundForm.__name__ = base.__name__
        return TenantBoundForm

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        limit_to_tenant(field, db_field, getattr(request, "_shien_form_tenant", None) or self.form_tenant(request))
        return field

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        limit_to_tenant(field, db_field, getattr(request, "_shien_form_tenant", None) or self.form_tenant(request))
        return field

    def save_model(self, request, obj, form, change):
        tenant = getattr(request, "_shien_form_tenant", None) or self.form_tenant(request, obj if change else None)
        if tenant is None:
            raise PermissionDenied
        if not change:
            obj.tenant = tenant
        elif obj.tenant_id != tenant.pk or not self._owns(request, obj):
            raise PermissionDenied
        fields = list(self.audit_fields or form.changed_data)
        before = {} if not change else summary(type(obj).objects.get(pk=obj.pk), fields) if fields else {}
        super().save_model(request, obj, form, change)
        if not change or fields:
            audit_record(tenant=obj.tenant, actor=request.user,
                         action=f"{obj._meta.model_name}.{'changed' if change else 'created'}",
                         target=obj, before=before, after=summary(obj, fields))

    def delete_model(self, request, obj):
        audit_record(tenant=obj.tenant, actor=request.user, action=f"{obj._meta.model_name}.deleted", target=obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            audit_record(tenant=obj.tenant, actor=request.user, action=f"{obj._meta.model_name}.deleted", target=obj)
        super().delete_queryset(request, queryset)

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        tenant = form.instance.tenant
        for instance in instances:
            if hasattr(instance, "tenant_id"):
                instance.tenant_id = form.instance.tenant_id
            fields = [f.name for f in instance._meta.concrete_fields if f.name not in ("id", "tenant")]
            created = instance.pk is None
            instance.save()
            audit_record(tenant=tenant, actor=request.user, target=instance,
                         action=f"{instance._meta.model_name}.{'created' if created else 'changed'}",
                         after=summary(instance, fields))
        formset.save_m2m()
        for obj in formset.deleted_objects:
            audit_record(tenant=tenant, actor=request.user, action=f"{obj._meta.model_name}.deleted", target=obj)
            obj.delete()


def limit_to_tenant(field, db_field, tenant: Tenant | None) -> None:
    """Offer only ``tenant``'s rows in a relation widget (nothing when no tenant is known)."""
    if field is None or not hasattr(field, "queryset"):
        return
    related = db_field.remote_field.model
    if _tenant_field_names(related):
        field.queryset = field.queryset.filter(tenant=tenant) if tenant else field.queryset.none()
    elif related._meta.label == settings.AUTH_USER_MODEL:
        field.queryset = (
            field.queryset.filter(memberships__tenant=tenant).distinct() if tenant else field.queryset.none()
        )


class TenantScopedInline(admin.TabularInline):
    extra = 0

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        limit_to_tenant(field, db_field, getattr(request, "_shien_form_tenant", None))
        return field


__all__ = ["ShienAdminSite", "TenantScopedAdmin", "TenantScopedInline", "limit_to_tenant"]
