"""Pages of the notification centre: ``tenant_urlpatterns`` (under /t/<tenant>/) and the
login-free unsubscribe link (``urlpatterns``)."""

from django.urls import path

from partners.notifications import views

urlpatterns = [
    path("notifications/unsubscribe/<str:token>/", views.notification_unsubscribe, name="notification-unsubscribe"),
]

tenant_urlpatterns = [
    path("notifications/", views.notification_centre, name="notification-centre"),
    path("notifications/bell/", views.notification_bell, name="notification-bell"),
    path("notifications/read/", views.notification_read, name="notification-read-all"),
    path("notifications/<int:notification_id>/read/", views.notification_read, name="notification-read"),
    path("notifications/settings/", views.notification_preferences, name="notification-preferences"),
]
