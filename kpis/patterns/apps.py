from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PatternsConfig(AppConfig):
    name = "kpis.patterns"
    label = "patterns"
    verbose_name = _("Success patterns")

    def ready(self) -> None:
        # Register the Celery tasks in every process so views can enqueue them by name (kpis.jobs).
        from kpis.patterns import tasks  # noqa: F401
