"""Packaged courses: the manage page of a training's package, the portal launch page and its
commits (under /t/<tenant>/), and the sandboxed content (``content_urlpatterns``, under /packages/)."""

from django.urls import path

from enablement.packages import cmi5_views, views

portal_urlpatterns = [
    path("packages/<int:asset_id>/", views.launch, name="portal-package-launch"),
    path("packages/<int:asset_id>/commit/", views.commit, name="portal-package-commit"),
    path("packages/<int:asset_id>/status/", views.status, name="portal-package-status"),
]

manage_urlpatterns = [
    path("assets/<int:asset_id>/package/", views.manage, name="manage-package"),
]

content_urlpatterns = [
    path("c/<str:token>/<path:path>", views.content, name="package-content"),
    path("cmi5/fetch/<int:tenant_id>/<int:launch_id>/<str:secret>", cmi5_views.fetch, name="cmi5-fetch"),
    path("cmi5/xapi/statements", cmi5_views.statements, name="cmi5-statements"),
    path("cmi5/xapi/activities/state", cmi5_views.state, name="cmi5-state"),
    path("cmi5/xapi/agents/profile", cmi5_views.agent_profile, name="cmi5-agent-profile"),
]
