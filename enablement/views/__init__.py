"""Enablement pages: ``portal`` (the partner portal) and ``manage`` (catalog, assignments, paths)."""
