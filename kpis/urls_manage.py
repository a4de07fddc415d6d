from django.urls import path

from kpis import views

urlpatterns = [
    path("", views.overview, name="manage-overview"),
    path("partners/", views.partners, name="manage-partners"),
    path("partners/<int:partner_id>/", views.partner_detail, name="manage-partner"),
    path("content/", views.content, name="manage-content"),
    path("faq/", views.faq, name="manage-faq"),
    path("faq/keyword/", views.faq_keyword, name="manage-faq-keyword"),
    path("teams/", views.teams, name="manage-teams"),
]
