"""Manage-area pages of the partners app (mounted under /t/<slug>/manage/)."""

urlpatterns: list = []
