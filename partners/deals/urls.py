"""Deal pages: registration in the portal (``portal/deals/``) and approval, stages and CSV import in
the manage area (``manage/deals/``)."""

from django.urls import path

from partners.deals import views

portal_urlpatterns = [
    path("", views.portal_deals, name="portal-deals"),
    path("new/", views.portal_deal_new, name="portal-deal-new"),
]

manage_urlpatterns = [
    path("", views.manage_deals, name="manage-deals"),
    path("<int:deal_id>/action/", views.manage_deal_action, name="manage-deal-action"),
    path("import/", views.manage_deals_import, name="manage-deals-import"),
    path("partner/<int:partner_id>/", views.manage_partner_deals, name="manage-partner-deals"),
]
