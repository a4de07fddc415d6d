from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PatternsConfig(AppConfig):
    name = "kpis.patterns"
    label = "patterns"
    verbose_name = _("Success patterns")

    def ready(self) -> None:
        # Register the Celery tasks in every process so views can enqueue them by name (kpis.jobs).
        from kpis.patterns import tasks  # noqa: F401
        from kpis.patterns.selectors import store_adoption_on_kpi_run
        from kpis.scope import inputs_consumed

        # The adoption table's stored order follows each KPI run that consumes the input markers.
        inputs_consumed.connect(store_adoption_on_kpi_run, dispatch_uid="shien-patterns-adoption")
