"""Deal approval, stages and CSV import in the manage area (mounted at manage/deals/)."""

from django.urls import path

from partners import views_deals

urlpatterns = [
    path("", views_deals.manage_deals, name="manage-deals"),
    path("<int:deal_id>/action/", views_deals.manage_deal_action, name="manage-deal-action"),
    path("import/", views_deals.manage_deals_import, name="manage-deals-import"),
    path("partner/<int:partner_id>/", views_deals.manage_partner_deals, name="manage-partner-deals"),
]
