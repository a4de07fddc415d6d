"""Writes of the enablement context, one module per topic: ``log`` (the activity log),
``catalog`` (assets, versions, paths, assignments), ``training`` (play sessions and progress)."""
