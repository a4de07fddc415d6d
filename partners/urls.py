"""Pages of the partners context: the site root and accounts (``urlpatterns``), the tenant root
(``tenant_urlpatterns``) and the manage area's partner settings, invitations, support activities and
API keys (``manage_urlpatterns``)."""

from django.urls import path

from partners.views import accounts, api_keys, audit, manage, members

urlpatterns = [
    path("", accounts.home, name="home"),
    path("accounts/invitation/<str:key>/", accounts.invitation_accept, name="invitation-accept"),
    path("accounts/sso/", accounts.sso_start, name="sso-start"),
    path("accounts/language/", accounts.set_language, name="set-language"),
]

tenant_urlpatterns = [
    path("", accounts.tenant_root, name="tenant-root"),
]

manage_urlpatterns = [
    path("partners/<int:partner_id>/activities/", manage.support_activities, name="manage-support-activities"),
    path("settings/partners/", manage.partner_admin, name="manage-partner-admin"),
    path("settings/partners/new/", manage.partner_form, name="manage-partner-new"),
    path("settings/partners/<int:partner_id>/", manage.partner_form, name="manage-partner-edit"),
    path("settings/invite/", manage.member_invite, name="manage-member-invite"),
    path("settings/invitations/<int:invitation_id>/<str:action>/", manage.invitation_action,
         name="manage-invitation-action"),
    path("settings/security/", manage.security_settings, name="manage-security"),
    path("settings/members/", members.members, name="manage-members"),
    path("settings/members/<int:membership_id>/", members.member_edit, name="manage-member-edit"),
    path("settings/members/<int:membership_id>/action/", members.member_action, name="manage-member-action"),
    path("settings/audit/", audit.audit_log, name="manage-audit-log"),
    path("api-keys/", api_keys.api_keys, name="manage-api-keys"),
]
