"""The LRS routes, included under ``/api/xapi/`` by ``prm.api``; any other path there is a
JSON 404 with the version header."""

from django.urls import path, re_path

from enablement.lrs import resources, views
from enablement.lrs.http import not_found_view

urlpatterns = [
    path("statements", views.statements_view, name="xapi-statements"),
    path("activities/state", resources.state_view, name="xapi-state"),
    path("activities/profile", resources.activity_profile_view, name="xapi-activity-profile"),
    path("activities", resources.activities_view, name="xapi-activities"),
    path("agents/profile", resources.agent_profile_view, name="xapi-agent-profile"),
    path("agents", resources.agents_view, name="xapi-agents"),
    path("about", views.about_view, name="xapi-about"),
    path("unmapped", views.unmapped_view, name="xapi-unmapped"),
    re_path(r"^.*$", not_found_view, name="xapi-not-found"),
]
