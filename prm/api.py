"""API routes: /api/v1/ (DRF), /api/xapi/ (LRS), /api/schema/ and /api/docs/ (OpenAPI, only when
``API_DOCS_PUBLIC``)."""

import functools

from django.conf import settings
from django.http import Http404
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from enablement.api.views import AssetViewSet, AssignmentViewSet, EventViewSet
from kpis.api.views import KpiDefinitionViewSet, KpiResultViewSet
from partners.api.views import PartnerViewSet, TierViewSet
from partners.deals.api.views import DealViewSet


def _docs(view):
    """The OpenAPI schema and docs answer 404 unless ``settings.API_DOCS_PUBLIC``."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not settings.API_DOCS_PUBLIC:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


class Router(DefaultRouter):
    include_root_view = False
    include_format_suffixes = False


router = Router(trailing_slash="/")
router.register("partners", PartnerViewSet, basename="api-partner")
router.register("tiers", TierViewSet, basename="api-tier")
router.register("deals", DealViewSet, basename="api-deal")
router.register("assets", AssetViewSet, basename="api-asset")
router.register("assignments", AssignmentViewSet, basename="api-assignment")
router.register("events", EventViewSet, basename="api-event")
router.register("kpi-definitions", KpiDefinitionViewSet, basename="api-kpi-definition")
router.register("kpi-results", KpiResultViewSet, basename="api-kpi-result")

urlpatterns = [
    path("v1/", include(router.urls)),
    path("xapi/", include("enablement.lrs.urls")),
    path("schema/", _docs(SpectacularAPIView.as_view()), name="api-schema"),
    path("docs/", _docs(SpectacularSwaggerSplitView.as_view(url_name="api-schema")), name="api-docs"),
]
