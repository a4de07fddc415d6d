"""Signal receivers: partners announces, enablement logs (imports flow enablement → partners)."""

from django.dispatch import receiver

from enablement.models import Verb
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
