"""Deal pages: registration and the deal page in the portal (``portal/deals/``); approval, stages,
conflicts, export and CSV import in the manage area (``manage/deals/``)."""

from django.urls import path

from partners.deals import views

portal_urlpatterns = [
    path("", views.portal_deals, name="portal-deals"),
    path("new/", views.portal_deal_new, name="portal-deal-new"),
    path("<int:deal_id>/", views.portal_deal, name="portal-deal"),
    path("<int:deal_id>/edit/", views.portal_deal_edit, name="portal-deal-edit"),
]

manage_urlpatterns = [
    path("", views.manage_deals, name="manage-deals"),
    path("export.csv", views.manage_deals_export, name="manage-deals-export"),
    path("<int:deal_id>/", views.manage_deal, name="manage-deal"),
    path("<int:deal_id>/action/", views.manage_deal_action, name="manage-deal-action"),
    path("import/", views.manage_deals_import, name="manage-deals-import"),
    path("import/template.csv", views.manage_deals_import_template, name="manage-deals-import-template"),
    path("partner/<int:partner_id>/", views.manage_partner_deals, name="manage-partner-deals"),
]
