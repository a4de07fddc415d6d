"""URL map: one include per context. Tenant pages live under /t/<tenant_slug>/ (the tenancy
middleware opens the scope)."""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path

from enablement import urls as enablement_urls
from enablement.assessments import urls as assessment_urls
from enablement.certifications import urls as certifications_urls
from enablement.packages import urls as packages_urls
from kpis import urls as kpis_urls
from kpis.patterns import urls as patterns_urls
from partners import urls as partners_urls
from partners.deals import urls as deals_urls
from partners.notifications import urls as notifications_urls
from prm import health

tenant_patterns = [
    path("", include(partners_urls.tenant_urlpatterns)),
    path("", include(notifications_urls.tenant_urlpatterns)),
    path("portal/", include(patterns_urls.portal_urlpatterns)),
    path("portal/", include(enablement_urls.portal_urlpatterns)),
    path("portal/", include(packages_urls.portal_urlpatterns)),
    path("portal/", include(certifications_urls.portal_urlpatterns)),
    path("portal/", include(assessment_urls.portal_urlpatterns)),
    path("portal/deals/", include(deals_urls.portal_urlpatterns)),
    path("manage/", include(kpis_urls.manage_urlpatterns)),
    path("manage/", include(patterns_urls.manage_urlpatterns)),
    path("manage/", include(enablement_urls.manage_urlpatterns)),
    path("manage/", include(packages_urls.manage_urlpatterns)),
    path("manage/", include(certifications_urls.manage_urlpatterns)),
    path("manage/", include(assessment_urls.manage_urlpatterns)),
    path("manage/", include(partners_urls.manage_urlpatterns)),
    path("manage/deals/", include(deals_urls.manage_urlpatterns)),
]

# Everyone logs in through allauth (e-mail, second factor, lockout); the admin's own form is not used.
admin.site.login = login_required(admin.site.login)

urlpatterns = [
    # Probes (prm.health.HealthMiddleware answers them first, before host validation).
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("", include(partners_urls.urlpatterns)),
    path("", include(notifications_urls.urlpatterns)),
    path("", include(certifications_urls.urlpatterns)),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path(settings.ADMIN_URL, admin.site.urls),  # ADMIN_URL, default "admin/"
    path("t/<slug:tenant_slug>/", include(tenant_patterns)),
    path("packages/", include(packages_urls.content_urlpatterns)),
    path("api/", include("prm.api")),
]
