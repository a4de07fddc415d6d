"""Manage-area pages of the partners app (mounted under /t/<slug>/manage/)."""

from django.urls import path

from partners import views_manage as v

urlpatterns = [
    path("partners/<int:partner_id>/activities/", v.support_activities, name="manage-support-activities"),
    path("settings/partners/", v.partner_admin, name="manage-partner-admin"),
    path("settings/partners/new/", v.partner_form, name="manage-partner-new"),
    path("settings/partners/<int:partner_id>/", v.partner_form, name="manage-partner-edit"),
    path("settings/invite/", v.member_invite, name="manage-member-invite"),
]
