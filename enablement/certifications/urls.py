"""Certification pages: manage area, portal and the public verification page."""

from django.urls import path

from enablement.certifications.views import manage, portal, public

urlpatterns = [
    path("verify/<str:code>/", public.certificate_verify, name="certificate-verify"),
]

portal_urlpatterns = [
    path("certificates/", portal.my_certificates, name="portal-certificates"),
    path("certificates/<int:certificate_id>/pdf/", portal.certificate_download, name="portal-certificate-pdf"),
]

manage_urlpatterns = [
    path("certifications/", manage.certification_list, name="manage-certifications"),
    path("certifications/new/", manage.certification_form, name="manage-certification-new"),
    path("certifications/<int:certification_id>/", manage.certification_form, name="manage-certification-edit"),
    path(
        "certifications/<int:certification_id>/tiers/", manage.tier_requirement_set,
        name="manage-certification-tier",
    ),
    path(
        "certifications/<int:certification_id>/holders/", manage.certification_holders,
        name="manage-certification-holders",
    ),
    path("certificates/<int:certificate_id>/revoke/", manage.certificate_revoke, name="manage-certificate-revoke"),
]
