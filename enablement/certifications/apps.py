from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CertificationsConfig(AppConfig):
    name = "enablement.certifications"
    label = "certifications"
    verbose_name = _("Certifications")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from enablement.certifications import tasks  # noqa: F401  (registers the beat entry's tasks)
