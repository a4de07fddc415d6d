"""Rollup status and "Refresh now" (manage area)."""

from django.urls import path

from kpis import views_ops

urlpatterns = [
    path("kpis/refresh/", views_ops.refresh, name="manage-refresh"),
    path("kpis/freshness/", views_ops.freshness, name="manage-freshness"),
]
