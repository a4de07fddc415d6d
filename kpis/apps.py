from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KpisConfig(AppConfig):
    name = "kpis"
    verbose_name = _("KPIs")

    def ready(self) -> None:
        # Register the Celery tasks in every process (web included), so services can enqueue
        # them by name (kpis.jobs) without importing the task modules.
        from kpis import scope, tasks  # noqa: F401

        scope.connect()  # every input of the KPI results records that it changed (kpis.scope)
