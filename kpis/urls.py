"""KPI pages of the manage area (``manage/``): the dashboards, "Refresh now" and the freshness line."""

from django.urls import path

from kpis import views
from kpis.dashboards import views as dashboards

manage_urlpatterns = [
    path("", dashboards.overview, name="manage-overview"),
    path("partners/", dashboards.partners, name="manage-partners"),
    path("partners/<int:partner_id>/", dashboards.partner_detail, name="manage-partner"),
    path("content/", dashboards.content, name="manage-content"),
    path("faq/", dashboards.faq, name="manage-faq"),
    path("faq/keyword/", dashboards.faq_keyword, name="manage-faq-keyword"),
    path("teams/", dashboards.teams, name="manage-teams"),
    path("kpis/refresh/", views.refresh, name="manage-refresh"),
    path("kpis/freshness/", views.freshness, name="manage-freshness"),
    path("kpis/health/", views.health, name="manage-health"),
]
