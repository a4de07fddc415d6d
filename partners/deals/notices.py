"""What deals tell people (through ``partners.notifications``): a decision on a registration, and a
registration about to expire (the ``deal_expiring`` signal of the daily expiry task)."""

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
    DealStage.RETURNED: _("Deal returned for changes: %(customer)s"),
}


def _url(tenant: Tenant) -> str:
    return reverse("portal-deals", kwargs={"tenant_slug": tenant.slug})


def deal_decision_notify(*, tenant: Tenant, deal: Deal, reason: str = "") -> list[int]:
    """Tell the person who registered the deal that it was approved, rejected or returned (once per
    decision: the dedupe key names the deal, the stage and the time of the change)."""
    title = DECISION_TITLES.get(deal.stage)
    if title is None or deal.registered_by_id is None:
        return []
    params = {"customer": deal.customer, "product": deal.product or "—", "amount": f"{deal.amount:,.0f}",
              "currency": deal.currency, "reason": reason}
    return notify(
        tenant=tenant,
        recipients=[deal.registered_by_id],
        kind=NotificationKind.DEAL_DECISION,
        title=title,
        body=_("%(product)s · %(amount)s %(currency)s\nReason: %(reason)s") if reason
        else _("%(product)s · %(amount)s %(currency)s"),
        params=params,
        url=_url(tenant),
        dedupe_key=f"deal.decision:{deal.pk}:{deal.stage}:{deal.updated_at.isoformat()}",
    )


def on_deal_expiring(sender, *, deal: Deal, days_left: int, **kwargs) -> None:
    """Receiver of ``deal_expiring``: remind the registering user (once per registration period)."""
    if deal.registered_by_id is None:
        return
    tenant = Tenant.objects.get(pk=deal.tenant_id)
    notify(
        tenant=tenant,
        recipients=[deal.registered_by_id],
        kind=NotificationKind.DEAL_EXPIRING,
        title=_("Deal registration expires in %(days)s days: %(customer)s"),
        body=_("Expires on %(date)s. Ask your channel manager to extend it, or record the outcome."),
        params={"days": days_left, "customer": deal.customer, "date": deal.expires_on.isoformat()},
        url=_url(tenant),
        dedupe_key=f"deal.expiring:{deal.pk}:{deal.expires_on.isoformat()}",
    )
