"""What deals tell people (through ``partners.notifications``): a decision on a registration."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from partners.deals.models import Deal, DealStage
from partners.models import Tenant
from partners.notifications.models import NotificationKind
from partners.notifications.services import notify

DECISION_TITLES = {
    DealStage.APPROVED: _("Deal approved: %(customer)s"),
    DealStage.REJECTED: _("Deal rejected: %(customer)s"),
}


def deal_decision_notify(*, tenant: Tenant, deal: Deal) -> list[int]:
    """Tell the person who registered the deal that it was approved or rejected (once per decision:
    the dedupe key names the deal, the stage and the time of the change)."""
    title = DECISION_TITLES.get(deal.stage)
    if title is None or deal.registered_by_id is None:
        return []
    return notify(
        tenant=tenant,
        recipients=[deal.registered_by_id],
        kind=NotificationKind.DEAL_DECISION,
        title=title,
        body=_("%(product)s · %(amount)s %(currency)s"),
        params={"customer": deal.customer, "product": deal.product or "—",
                "amount": f"{deal.amount:,.0f}", "currency": deal.currency},
        url=reverse("portal-deals", kwargs={"tenant_slug": tenant.slug}),
        dedupe_key=f"deal.decision:{deal.pk}:{deal.stage}:{deal.updated_at.isoformat()}",
    )
