"""Success patterns and the playbook (mounted at manage/)."""

from django.urls import path

from kpis import views_patterns

urlpatterns = [
    path("patterns/", views_patterns.patterns, name="manage-patterns"),
    path("patterns/run/", views_patterns.patterns_run, name="manage-patterns-run"),
    path("patterns/cohort/", views_patterns.patterns_cohort, name="manage-patterns-cohort"),
    path("patterns/playbook/", views_patterns.patterns_playbook, name="manage-patterns-playbook"),
    path("patterns/assign/", views_patterns.patterns_assign, name="manage-patterns-assign"),
    path("partners/<int:partner_id>/next-best-action/", views_patterns.partner_nba, name="manage-partner-nba"),
]
