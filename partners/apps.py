from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class PartnersConfig(AppConfig):
    name = "partners"
    verbose_name = _("Partners and tenancy")
    default = True

    def ready(self) -> None:
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate

        from partners.tenancy import rls

        connection_created.connect(rls.install, dispatch_uid="shien-rls-install")
        post_migrate.connect(rls.ensure_after_migrate, dispatch_uid="shien-rls-ensure")
        from partners.accounts import receivers  # noqa: F401


class ShienAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin whose default site decides access by membership (see ShienAdminSite)."""

    default = False
    default_site = "partners.tenancy.admin.ShienAdminSite"
