"""Manage-area pages of the enablement app (mounted under /t/<slug>/manage/)."""

from django.urls import path

from enablement import views_manage as v

urlpatterns = [
    path("assets/", v.asset_list, name="manage-assets"),
    path("assets/new/", v.asset_new, name="manage-asset-new"),
    path("assets/<int:asset_id>/", v.asset_edit, name="manage-asset-edit"),
    path("assets/<int:asset_id>/publish/", v.asset_publish, name="manage-asset-publish"),
    path("assets/<int:asset_id>/archive/", v.asset_archive, name="manage-asset-archive"),
    path("assets/<int:asset_id>/versions/", v.asset_version_new, name="manage-asset-version-new"),
    path(
        "assets/<int:asset_id>/versions/<int:version_id>/download/",
        v.asset_version_download,
        name="manage-asset-version-download",
    ),
    path("assignments/", v.assignment_list, name="manage-assignments"),
    path("assignments/new/", v.assignment_new, name="manage-assignment-new"),
    path(
        "assignments/<int:assignment_id>/deactivate/", v.assignment_deactivate, name="manage-assignment-deactivate"
    ),
    path("paths/", v.path_list, name="manage-paths"),
    path("paths/new/", v.path_form, name="manage-path-new"),
    path("paths/<int:path_id>/", v.path_form, name="manage-path-edit"),
]
