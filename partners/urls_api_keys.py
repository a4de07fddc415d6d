"""Manage → API keys (mounted under /t/<slug>/manage/api-keys/)."""

from django.urls import path

from partners.views_api_keys import api_keys

urlpatterns = [
    path("", api_keys, name="manage-api-keys"),
]
