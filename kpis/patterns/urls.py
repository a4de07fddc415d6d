"""Success-pattern pages: the patterns, the playbook and its assignment (``manage/``) and the
partner's next best action (``portal/``)."""

from django.urls import path

from kpis.patterns import views

manage_urlpatterns = [
    path("patterns/", views.patterns, name="manage-patterns"),
    path("patterns/run/", views.patterns_run, name="manage-patterns-run"),
    path("patterns/cohort/", views.patterns_cohort, name="manage-patterns-cohort"),
    path("patterns/playbook/", views.patterns_playbook, name="manage-patterns-playbook"),
    path("patterns/assign/", views.patterns_assign, name="manage-patterns-assign"),
    path("partners/<int:partner_id>/next-best-action/", views.partner_nba, name="manage-partner-nba"),
]

portal_urlpatterns = [
    path("next-best-action/", views.portal_next_best_action, name="portal-next-best-action"),
]
