from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PartnersConfig(AppConfig):
    name = "partners"
    verbose_name = _("Partners and tenancy")

    def ready(self) -> None:
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate

        from partners.tenancy import rls

        connection_created.connect(rls.install, dispatch_uid="shien-rls-install")
        post_migrate.connect(rls.ensure_after_migrate, dispatch_uid="shien-rls-ensure")
        from partners.accounts import receivers  # noqa: F401
