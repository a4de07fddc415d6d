"""Signals other apps listen to (partners imports nothing from them)."""

from django.dispatch import Signal

# Sent once per session and tenant, when a user first enters a tenant's area.
# kwargs: request, tenant, membership
tenant_session_started = Signal()

# Sent after the transaction that created or re-issued an invitation commits: the e-mail with the
# accept link goes out from a receiver (the raw token exists only here, never in the database).
# kwargs: invitation, token, resent
invitation_sent = Signal()
