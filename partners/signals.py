"""Signals other apps listen to (partners imports nothing from them)."""

from django.dispatch import Signal

# Sent once per session and tenant, when a user first enters a tenant's area.
# kwargs: request, tenant, membership
tenant_session_started = Signal()
