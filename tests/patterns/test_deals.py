import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope

from partners.deals.models import Deal, DealStage
from tests import factories as f

pytestmark = pytest.mark.django_db


def url(name, tenant, **kw):
    return reverse(name, kwargs={"tenant_slug": tenant.slug, **kw})


def test_portal_registration(client, login, partner_user_a, tenant_a):
    login(partner_user_a)
    assert client.get(url("portal-deals", tenant_a)).status_code == 200
    due = (timezone.localdate() + dt.timedelta(days=30)).isoformat()
    r = client.post(url("portal-deal-new", tenant_a), {
        "customer": "株式会社テスト", "product": "Cloud", "amount": "1200000", "currency": "JPY", "expected_close_on": due})
    assert r.status_code == 302
    with scope(tenant=tenant_a.pk):
        deal = Deal.objects.get()
    assert deal.partner_id == partner_user_a.partner_id and deal.stage == DealStage.REGISTERED
    assert deal.source == "portal" and deal.registered_by == partner_user_a.user and deal.amount == Decimal("1200000")
    page = client.get(url("portal-deals", tenant_a)).content.decode()
    assert "株式会社テスト" in page
    # the column over the registration dates says "registered on", not the stage "registered"
    assert '<th scope="col">登録日</th>' in page and 'data-label="登録日"' in page and "登録済み" in page  # stage badge


def test_portal_registration_validates(client, login, partner_user_a, tenant_a):
    login(partner_user_a)
    past = (timezone.localdate() - dt.timedelta(days=3)).isoformat()
    r = client.post(url("portal-deal-new", tenant_a), {
        "customer": " ", "amount": "-5", "currency": "XXX", "expected_close_on": past})
    assert r.status_code == 200
    errors = r.context["form"].errors
    assert set(errors) == {"customer", "amount", "currency", "expected_close_on"}
    with scope(tenant=tenant_a.pk):
        assert not Deal.objects.exists()


def test_portal_lists_only_own_partner(client, login, partner_user_a, tenant_a):
    with scope(tenant=tenant_a.pk):
        f.DealFactory(tenant=tenant_a, customer="Someone else's deal")
    login(partner_user_a)
    assert "Someone else" not in client.get(url("portal-deals", tenant_a)).content.decode()


def test_manager_approves_then_wins(client, login, manager_a, tenant_a):
    with scope(tenant=tenant_a.pk):
        deal = f.DealFactory(tenant=tenant_a)
    login(manager_a)
    page = client.get(url("manage-deals", tenant_a))
    assert page.status_code == 200 and deal.customer in page.content.decode()
    r = client.post(url("manage-deal-action", tenant_a, deal_id=deal.pk), {"action": "approve"})
    assert r.status_code == 302
    f.refresh(deal)
    assert deal.stage == DealStage.APPROVED and deal.decided_by == manager_a.user
    client.post(url("manage-deal-action", tenant_a, deal_id=deal.pk), {"action": "win", "closed_on": "2026-10-01"})
    f.refresh(deal)
    assert deal.stage == DealStage.WON and deal.closed_on == dt.date(2026, 10, 1)
    # a won deal cannot be rejected
    client.post(url("manage-deal-action", tenant_a, deal_id=deal.pk), {"action": "reject"})
    f.refresh(deal)
    assert deal.stage == DealStage.WON


def test_manager_filters(client, login, manager_a, tenant_a):
    with scope(tenant=tenant_a.pk):
        f.DealFactory(tenant=tenant_a, customer="Alpha", stage="won", closed_on=timezone.localdate())
        f.DealFactory(tenant=tenant_a, customer="Beta")
    login(manager_a)
    body = client.get(url("manage-deals", tenant_a), {"stage": "won"}).content.decode()
    assert "Alpha" in body and "Beta" not in body
    r = client.get(url("manage-deals", tenant_a), {"q": "bet"}, HTTP_HX_REQUEST="true")
    assert "Beta" in r.content.decode() and "<html" not in r.content.decode()


def test_action_requires_post_and_csrf(tenant_a, manager_a):
    from django.test import Client

    with scope(tenant=tenant_a.pk):
        deal = f.DealFactory(tenant=tenant_a)
    c = Client(enforce_csrf_checks=True)
    c.force_login(manager_a.user)
    assert c.get(url("manage-deal-action", tenant_a, deal_id=deal.pk)).status_code == 405
    assert c.post(url("manage-deal-action", tenant_a, deal_id=deal.pk), {"action": "approve"}).status_code == 403
    f.refresh(deal)
    assert deal.stage == DealStage.REGISTERED


def test_partner_user_forbidden_on_manage_pages(client, login, partner_user_a, tenant_a):
    with scope(tenant=tenant_a.pk):
        deal = f.DealFactory(tenant=tenant_a, partner=partner_user_a.partner)
    login(partner_user_a)
    assert client.get(url("manage-deals", tenant_a)).status_code == 403
    assert client.get(url("manage-deals-import", tenant_a)).status_code == 403
    assert client.post(url("manage-deal-action", tenant_a, deal_id=deal.pk), {"action": "approve"}).status_code == 403
    assert client.get(url("manage-partner-deals", tenant_a, partner_id=deal.partner_id)).status_code == 403


def test_manager_cannot_use_portal_registration(client, login, manager_a, tenant_a):
    login(manager_a)
    assert client.get(url("portal-deal-new", tenant_a)).status_code == 403


def test_tenant_b_manager_gets_404(client, login, tenant_a, manager_a, manager_b, tenant_b):
    with scope(tenant=tenant_a.pk):
        deal = f.DealFactory(tenant=tenant_a)
    login(manager_b)
    for name, kw in [("manage-deals", {}), ("manage-deals-import", {}), ("portal-deals", {}), ("portal-deal-new", {}),
                     ("manage-partner-deals", {"partner_id": deal.partner_id})]:
        assert client.get(url(name, tenant_a, **kw)).status_code == 404, name
    assert client.post(url("manage-deal-action", tenant_a, deal_id=deal.pk), {"action": "approve"}).status_code == 404
    # and A's deal id under B's own tenant: 404 too
    assert client.post(url("manage-deal-action", tenant_b, deal_id=deal.pk), {"action": "approve"}).status_code == 404
    assert client.get(url("manage-partner-deals", tenant_b, partner_id=deal.partner_id)).status_code == 404
    f.refresh(deal)
    assert deal.stage == DealStage.REGISTERED


def test_scorecard_partial(client, login, manager_a, tenant_a):
    with scope(tenant=tenant_a.pk):
        p = f.PartnerFactory(tenant=tenant_a)
        f.DealFactory(tenant=tenant_a, partner=p, customer="Won one", stage="won", amount=500, closed_on=timezone.localdate())
    login(manager_a)
    body = client.get(url("manage-partner-deals", tenant_a, partner_id=p.pk)).content.decode()
    assert "Won one" in body


# --- CSV import -----------------------------------------------------------------------------------------

HEADER = "partner_external_id,deal_id,customer,product,amount,currency,stage,closed_on,expected_close_on\n"


def upload(client, tenant, text: str, *, bom=False, name="deals.csv"):
    data = ("\ufeff" if bom else "") + text
    return client.post(url("manage-deals-import", tenant), {"step": "upload", "file": SimpleUploadedFile(
        name, data.encode("utf-8"), content_type="text/csv")})


def confirm(client, tenant, token):
    return client.post(url("manage-deals-import", tenant), {"step": "confirm", "token": token})


@pytest.fixture
def partners_a(tenant_a):
    with scope(tenant=tenant_a.pk):
        return [f.PartnerFactory(tenant=tenant_a, external_id="P-001"), f.PartnerFactory(tenant=tenant_a, external_id="P-002")]


def test_import_bad_rows_reported_and_nothing_imported(client, login, manager_a, tenant_a, partners_a):
    login(manager_a)
    text = HEADER + (
        "P-001,D-1,Good Co,Cloud,1000000,JPY,won,2026-05-01,\n"
        "P-999,D-2,Unknown partner Co,,5000,JPY,registered,,\n"
        "P-002,D-3,Bad amount Co,,12abc,JPY,approved,,\n"
        "P-002,D-4,Bad date Co,,100,JPY,won,2026-13-45,\n"
        "P-002,D-5,Bad stage Co,,100,XYZ,maybe,,\n"
    )
    r = upload(client, tenant_a, text)
    assert r.status_code == 200
    preview = r.context["preview"]
    by_line = {row.line: row.errors for row in preview.rows}
    assert by_line[2] == []
    assert any("P-999" in e for e in by_line[3])
    assert any("12abc" in e for e in by_line[4])
    assert any("2026-13-45" in e for e in by_line[5])
    assert any("XYZ" in e for e in by_line[6]) and any("maybe" in e for e in by_line[6])
    body = r.content.decode()
    assert 'value="confirm"' not in body and "何も取り込んでいません" in body  # acme's UI is Japanese
    # forcing a confirm with the stored (bad) file imports nothing either
    token = r.context["token"]
    r = confirm(client, tenant_a, token)
    with scope(tenant=tenant_a.pk):
        assert Deal.objects.count() == 0


def test_import_clean_file_imports_all_with_bom_and_japanese(client, login, manager_a, tenant_a, partners_a):
    login(manager_a)
    text = "パートナーID,案件ID,顧客,製品,金額,通貨,ステージ,成約日,完了予定日\n" + (
        "P-001,D-1,さくら商事,クラウド,\"1,200,000\",JPY,受注,2026/05/01,\n"
        "P-002,D-2,Globex,,5000.50,usd,registered,,2026-12-01\n"
    )
    r = upload(client, tenant_a, text, bom=True)
    preview = r.context["preview"]
    assert preview.is_valid, [(row.line, row.errors) for row in preview.rows] + preview.errors
    with scope(tenant=tenant_a.pk):
        assert Deal.objects.count() == 0  # preview only
    r = confirm(client, tenant_a, r.context["token"])
    assert r.status_code == 302
    with scope(tenant=tenant_a.pk):
        deals = {d.external_id: d for d in Deal.objects.all()}
    assert set(deals) == {"D-1", "D-2"}
    assert deals["D-1"].customer == "さくら商事" and deals["D-1"].stage == "won" and deals["D-1"].amount == Decimal("1200000")
    assert deals["D-1"].closed_on == dt.date(2026, 5, 1) and deals["D-1"].source == "import"
    assert deals["D-2"].currency == "USD" and deals["D-2"].expected_close_on == dt.date(2026, 12, 1)
    # importing the same file again updates, never duplicates
    r = upload(client, tenant_a, text, bom=True)
    assert r.context["preview"].update_count == 2
    confirm(client, tenant_a, r.context["token"])
    with scope(tenant=tenant_a.pk):
        assert Deal.objects.count() == 2


def test_import_rejects_undecodable_and_large_files(client, login, manager_a, tenant_a, partners_a, settings):
    login(manager_a)
    # neither UTF-8 nor CP932 (0x85 0x40 is unassigned in CP932)
    r = client.post(url("manage-deals-import", tenant_a), {"step": "upload", "file": SimpleUploadedFile(
        "d.csv", HEADER.encode() + b"P-001,D-1,\x85\x40,,1,JPY,registered,,\n")})
    assert r.context["form"].errors["file"]
    big = HEADER + ("P-001,D-x,C,,1,JPY,registered,,\n" * 40000)
    r = upload(client, tenant_a, big)
    assert r.context["form"].errors["file"]


def test_import_duplicate_ids_and_missing_columns(client, login, manager_a, tenant_a, partners_a):
    login(manager_a)
    r = upload(client, tenant_a, HEADER + "P-001,D-1,A,,1,JPY,registered,,\nP-001,D-1,B,,1,JPY,registered,,\n")
    assert any("D-1" in e for e in r.context["preview"].rows[1].errors)
    r = upload(client, tenant_a, "customer,amount\nA,1\n")
    assert r.context["preview"].errors


def test_import_partner_of_other_tenant_is_unknown(client, login, manager_a, tenant_a, tenant_b, partners_a):
    with scope(tenant=tenant_b.pk):
        f.PartnerFactory(tenant=tenant_b, external_id="B-001")
    login(manager_a)
    r = upload(client, tenant_a, HEADER + "B-001,D-1,A,,1,JPY,registered,,\n")
    assert not r.context["preview"].is_valid


def test_deal_pages_query_count_is_bounded(client, login, manager_a, partner_user_a, tenant_a, django_assert_max_num_queries):
    with scope(tenant=tenant_a.pk):
        for _ in range(30):
            f.DealFactory(tenant=tenant_a, partner=partner_user_a.partner)
            f.DealFactory(tenant=tenant_a)
    login(manager_a)
    with django_assert_max_num_queries(20):
        assert client.get(url("manage-deals", tenant_a)).status_code == 200
    login(partner_user_a)
    with django_assert_max_num_queries(20):
        assert client.get(url("portal-deals", tenant_a)).status_code == 200
