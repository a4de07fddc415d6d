"""Enablement pages: the partner portal (``portal/``) and the catalog, assignments and learning
paths of the manage area (``manage/``)."""

from django.urls import path

from enablement.views import manage, portal

portal_urlpatterns = [
    path("", portal.home, name="portal-home"),
    path("catalog/", portal.catalog, name="portal-catalog"),
    path("assets/<int:asset_id>/", portal.asset, name="portal-asset"),
    path("trainings/<int:asset_id>/", portal.training, name="portal-training"),
    path("trainings/<int:asset_id>/media/", portal.asset_media, name="portal-asset-media"),
    path("trainings/<int:asset_id>/progress/", portal.training_progress, name="portal-training-progress"),
    path("documents/<int:asset_id>/", portal.document, name="portal-document"),
    path("documents/<int:asset_id>/download/", portal.document_download, name="portal-document-download"),
    path("documents/<int:asset_id>/file/", portal.document_file, name="portal-document-file"),
    path("documents/<int:asset_id>/reading/", portal.document_reading, name="portal-document-reading"),
    path("faq/", portal.faq, name="portal-faq"),
    path("faq/ask/", portal.faq_ask, name="portal-faq-ask"),
    path("faq/<int:asset_id>/", portal.faq_detail, name="portal-faq-detail"),
    path("faq/<int:asset_id>/feedback/", portal.faq_feedback, name="portal-faq-feedback"),
]

manage_urlpatterns = [
    path("assets/", manage.asset_list, name="manage-assets"),
    path("assets/new/", manage.asset_new, name="manage-asset-new"),
    path("assets/<int:asset_id>/", manage.asset_edit, name="manage-asset-edit"),
    path("assets/<int:asset_id>/publish/", manage.asset_publish, name="manage-asset-publish"),
    path("assets/<int:asset_id>/archive/", manage.asset_archive, name="manage-asset-archive"),
    path("assets/<int:asset_id>/versions/", manage.asset_version_new, name="manage-asset-version-new"),
    path(
        "assets/<int:asset_id>/versions/<int:version_id>/download/",
        manage.asset_version_download,
        name="manage-asset-version-download",
    ),
    path("assets/<int:asset_id>/audience/", manage.audience_edit, name="manage-asset-audience"),
    path("paths/<int:path_id>/audience/", manage.audience_edit, name="manage-path-audience"),
    path("assignments/", manage.assignment_list, name="manage-assignments"),
    path("assignments/new/", manage.assignment_new, name="manage-assignment-new"),
    path(
        "assignments/<int:assignment_id>/deactivate/", manage.assignment_deactivate, name="manage-assignment-deactivate"
    ),
    path("faq/synonyms/", manage.faq_synonyms, name="manage-faq-synonyms"),
    path("faq/synonyms/<int:synonym_id>/", manage.faq_synonyms, name="manage-faq-synonym-edit"),
    path("faq/synonyms/<int:synonym_id>/delete/", manage.faq_synonym_remove, name="manage-faq-synonym-delete"),
    path("paths/", manage.path_list, name="manage-paths"),
    path("paths/new/", manage.path_form, name="manage-path-new"),
    path("paths/<int:path_id>/", manage.path_form, name="manage-path-edit"),
]
