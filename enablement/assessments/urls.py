"""Assessment pages (``portal_urlpatterns`` under portal/, ``manage_urlpatterns`` under manage/)."""

from django.urls import path

from enablement.assessments import views

portal_urlpatterns = [
    path("assessments/<int:asset_id>/", views.portal_assessment, name="portal-assessment"),
    path("assessments/<int:asset_id>/start/", views.portal_start, name="portal-assessment-start"),
    path("assessments/<int:asset_id>/attempts/<int:attempt_id>/", views.portal_take, name="portal-assessment-take"),
    path("assessments/<int:asset_id>/attempts/<int:attempt_id>/submit/", views.portal_submit,
         name="portal-assessment-submit"),
    path("assessments/<int:asset_id>/attempts/<int:attempt_id>/result/", views.portal_result,
         name="portal-assessment-result"),
]

manage_urlpatterns = [
    path("assessments/<int:asset_id>/", views.manage_assessment, name="manage-assessment"),
    path("assessments/<int:asset_id>/questions/new/", views.manage_question, name="manage-assessment-question-new"),
    path("assessments/<int:asset_id>/questions/<int:question_id>/", views.manage_question,
         name="manage-assessment-question"),
    path("assessments/<int:asset_id>/questions/<int:question_id>/delete/", views.manage_question_delete,
         name="manage-assessment-question-delete"),
    path("assessments/<int:asset_id>/attempts/", views.manage_attempts, name="manage-assessment-attempts"),
]
