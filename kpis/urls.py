"""KPI pages of the manage area (``manage/``): the dashboards, "Refresh now", the freshness line and
the settings of KPI definitions and their dated targets."""

from django.urls import path

from kpis.dashboards import views as dashboards
from kpis.views import definitions
from kpis.views import status as views

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
    path("settings/kpis/", definitions.definition_list, name="manage-kpi-definitions"),
    path("settings/kpis/new/", definitions.definition_form, name="manage-kpi-definition-new"),
    path("settings/kpis/<int:definition_id>/", definitions.definition_detail, name="manage-kpi-definition"),
    path("settings/kpis/<int:definition_id>/edit/", definitions.definition_form, name="manage-kpi-definition-edit"),
    path("settings/kpis/<int:definition_id>/status/", definitions.definition_status,
         name="manage-kpi-definition-status"),
    path("settings/kpis/<int:definition_id>/targets/", definitions.target_add, name="manage-kpi-target-add"),
    path("settings/kpis/<int:definition_id>/targets/<int:target_id>/delete/", definitions.target_delete,
         name="manage-kpi-target-delete"),
]
