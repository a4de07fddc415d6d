from django.urls import path

from enablement import views_portal

urlpatterns = [
    path("", views_portal.home, name="portal-home"),
    path("catalog/", views_portal.catalog, name="portal-catalog"),
    path("assets/<int:asset_id>/", views_portal.asset, name="portal-asset"),
    path("trainings/<int:asset_id>/", views_portal.training, name="portal-training"),
    path("trainings/<int:asset_id>/media/", views_portal.asset_media, name="portal-asset-media"),
    path("trainings/<int:asset_id>/progress/", views_portal.training_progress, name="portal-training-progress"),
    path("documents/<int:asset_id>/", views_portal.document, name="portal-document"),
    path("documents/<int:asset_id>/download/", views_portal.document_download, name="portal-document-download"),
    path("faq/", views_portal.faq, name="portal-faq"),
    path("faq/<int:asset_id>/", views_portal.faq_detail, name="portal-faq-detail"),
    path("faq/<int:asset_id>/feedback/", views_portal.faq_feedback, name="portal-faq-feedback"),
]
