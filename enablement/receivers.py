"""Signal receivers: partners announces, enablement logs (imports flow enablement → partners)."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from enablement.models import Asset, AssetKind, Verb
from enablement.search.index import faq_index_asset
from enablement.services.log import activity_record
from partners.models import Role
from partners.signals import tenant_session_started


@receiver(tenant_session_started)
def log_portal_login(sender, request, tenant, membership, **kwargs):
    """``portal.login``: once per session when a partner user enters the tenant."""
    if membership.role != Role.PARTNER_USER:
        return
    activity_record(
        tenant=tenant,
        partner=membership.partner,
        user=request.user,
        verb=Verb.PORTAL_LOGIN,
        session_key=request.session.session_key or "",
    )


@receiver(post_save, sender=Asset, dispatch_uid="enablement.faq_index")
def index_faq(sender, instance: Asset, raw: bool = False, **kwargs):
    """Every saved FAQ (service, admin, API, fixture) is re-analysed into the search index."""
    if raw or instance.kind != AssetKind.FAQ:
        return
    faq_index_asset(asset=instance)
