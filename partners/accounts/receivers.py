"""allauth signal receivers, connected in PartnersConfig.ready()."""

from __future__ import annotations

from allauth.mfa.signals import authenticator_added
from django.dispatch import receiver

from partners.accounts.mfa import MFA_METHOD


@receiver(authenticator_added)
def enrolment_counts_as_second_factor(sender, request, user, authenticator, **kwargs):
    """Enrolling proves possession (a TOTP code or a WebAuthn assertion was just checked), so the
    session has passed the second factor without asking for it again straight away."""
    from allauth.account.internal.flows.login import record_authentication

    if authenticator.type not in ("totp", "webauthn"):
        return
    if request is not None and request.user.is_authenticated and request.user.pk == user.pk:
        record_authentication(request, user, method=MFA_METHOD, type=authenticator.type, enrolled=True)
