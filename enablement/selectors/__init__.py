"""Enablement reads: ``catalog`` (what a partner user sees in the portal), ``manage`` (manage-area lists)
and ``archive`` (the archived part of the log)."""
