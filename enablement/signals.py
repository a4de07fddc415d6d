"""Signals other apps listen to (enablement imports nothing from them)."""

from django.dispatch import Signal

# Sent inside the transaction of a change that model signals do not announce (rows written in
# bulk): who is targeted by which asset may have changed. kwargs: tenant_id, what (a short label)
targeting_changed = Signal()
