"""URL map. Tenant pages live under /t/<tenant_slug>/ (the middleware opens the scope)."""

from django.contrib import admin
from django.urls import include, path

from kpis.views_patterns import portal_next_best_action
from partners.views import tenant_root

tenant_patterns = [
    path("", tenant_root, name="tenant-root"),
    path("portal/next-best-action/", portal_next_best_action, name="portal-next-best-action"),  # success patterns
    path("portal/", include("enablement.urls_portal")),  # catalog, player, documents, FAQ
    path("portal/deals/", include("partners.urls_deals_portal")),  # deal registration
    path("manage/", include("kpis.urls_manage")),  # dashboards
    path("manage/", include("kpis.urls_ops")),  # refresh / rollup status
    path("manage/", include("kpis.urls_patterns")),  # success patterns, playbook
    path("manage/", include("enablement.urls_manage")),  # assets, assignments
    path("manage/", include("partners.urls_manage")),  # partner settings, support activities
    path("manage/deals/", include("partners.urls_deals_manage")),  # deal approval, CSV import
    path("manage/api-keys/", include("partners.urls_api_keys")),  # API keys
]

urlpatterns = [
    path("", include("partners.urls")),
    path("admin/", admin.site.urls),
    path("t/<slug:tenant_slug>/", include(tenant_patterns)),
    path("api/", include("prm.urls_api")),
]
