from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DealsConfig(AppConfig):
    name = "partners.deals"
    label = "deals"
    verbose_name = _("Deals")

    def ready(self) -> None:
        from partners.deals.notices import on_deal_expiring
        from partners.deals.services import deal_expiring

        deal_expiring.connect(on_deal_expiring, sender=None, dispatch_uid="deals.notices.on_deal_expiring")
