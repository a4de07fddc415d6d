"""The LRS routes, included under ``/api/xapi/`` by ``prm.urls_api``."""

from django.urls import path

from enablement.lrs.views import about_view, statements_view, unmapped_view

urlpatterns = [
    path("statements", statements_view, name="xapi-statements"),
    path("about", about_view, name="xapi-about"),
    path("unmapped", unmapped_view, name="xapi-unmapped"),
]
