from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LrsConfig(AppConfig):
    name = "enablement.lrs"
    label = "lrs"
    verbose_name = _("xAPI learning record store")
    default_auto_field = "django.db.models.BigAutoField"
