from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class PartnersConfig(AppConfig):
    name = "partners"
    verbose_name = _("Partners and tenancy")
    default = True


class ShienAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin whose default site decides access by membership (see ShienAdminSite)."""

    default = False
    default_site = "partners.tenancy.admin.ShienAdminSite"
