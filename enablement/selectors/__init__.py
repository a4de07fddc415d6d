"""Enablement reads: ``catalog`` (what a partner user sees in the portal) and ``manage`` (manage-area lists)."""
