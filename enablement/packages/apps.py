from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PackagesConfig(AppConfig):
    name = "enablement.packages"
    label = "packages"
    verbose_name = _("Packaged courses")
    default_auto_field = "django.db.models.BigAutoField"
