from django.urls import path

from enablement import views_portal

urlpatterns = [
    path("", views_portal.home, name="portal-home"),
]
