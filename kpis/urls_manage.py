from django.urls import path

from kpis import views

urlpatterns = [
    path("", views.overview, name="manage-overview"),
]
