from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EnablementConfig(AppConfig):
    name = "enablement"
    verbose_name = _("Enablement")

    def ready(self) -> None:
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate

        from enablement import logstore, receivers  # noqa: F401

        connection_created.connect(logstore.register_sqlite_functions, dispatch_uid="shien-log-sqlite-functions")
        post_migrate.connect(logstore.ensure_after_migrate, dispatch_uid="shien-log-partitions")
