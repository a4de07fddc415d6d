"""Deal registration in the portal (mounted at portal/deals/)."""

from django.urls import path

from partners import views_deals

urlpatterns = [
    path("", views_deals.portal_deals, name="portal-deals"),
    path("new/", views_deals.portal_deal_new, name="portal-deal-new"),
]
