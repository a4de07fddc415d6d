"""Packaged courses: the manage page of a training's package, the portal launch page and its
commits (under /t/<tenant>/), and the sandboxed content (``content_urlpatterns``, under /packages/)."""

from django.urls import path

from enablement.packages import views

portal_urlpatterns = [
    path("packages/<int:asset_id>/", views.launch, name="portal-package-launch"),
    path("packages/<int:asset_id>/commit/", views.commit, name="portal-package-commit"),
]

manage_urlpatterns = [
    path("assets/<int:asset_id>/package/", views.manage, name="manage-package"),
]

content_urlpatterns = [
    path("c/<str:token>/<path:path>", views.content, name="package-content"),
]
