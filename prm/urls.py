"""URL map. Tenant pages live under /t/<tenant_slug>/ (the middleware opens the scope)."""

from django.contrib import admin
from django.urls import include, path

from partners.views import tenant_root

tenant_patterns = [
    path("", tenant_root, name="tenant-root"),
    path("portal/", include("enablement.urls_portal")),
    path("manage/", include("kpis.urls_manage")),
    path("manage/", include("enablement.urls_manage")),
    path("manage/", include("partners.urls_manage")),
]

urlpatterns = [
    path("", include("partners.urls")),
    path("admin/", admin.site.urls),
    path("t/<slug:tenant_slug>/", include(tenant_patterns)),
    path("api/", include("prm.urls_api")),
]
