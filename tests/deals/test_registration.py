"""Deal registration to PRM standard: conflicts, decisions with a reason, reopen, expiry, the stage
history (append-only), the deal pages, CSV export, import encodings and template, tenant currency."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from partners.deals import selectors
from partners.deals.models import Deal, DealEvent, DealStage
from partners.deals.normalize import customer_key, registrable_domain
from partners.deals.services import (
    deal_expire_due,
    deal_expiring,
    deal_register,
    deal_transition,
    deal_upsert,
)
from partners.deals.tasks import expire_deals_all_tenants
from tests import factories as f

pytestmark = pytest.mark.django_db


def url(name, tenant, **kw):
    return reverse(name, kwargs={"tenant_slug": tenant.slug, **kw})


def register(tenant, partner, customer, domain="", actor=None):
    return deal_register(tenant=tenant, partner=partner, customer=customer, customer_domain=domain,
                         amount=Decimal(1000), actor=actor)


# --- normalisation -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["株式会社東都銀行", "東都銀行（株）", "㈱東都銀行", "(株) 東都銀行", "東都銀行　株式会社", "東都 銀行"])
def test_japanese_legal_forms_width_and_spacing_normalise_away(name):
    assert customer_key(name) == "東都銀行"


@pytest.mark.parametrize("name", ["Kobe Logistics Co., Ltd.", "KOBE LOGISTICS INC", "ｋｏｂｅ・ｌｏｇｉｓｔｉｃｓ", "Kobe-Logistics Corp."])
def test_english_legal_forms_case_and_punctuation_normalise_away(name):
    assert customer_key(name) == "kobelogistics"


def test_legal_form_inside_a_word_is_kept():
    assert customer_key("Lincoln Incline") == "lincolnincline"


@pytest.mark.parametrize("value,expected", [
    ("taro@mail.toto-bank.co.jp", "toto-bank.co.jp"), ("https://www.toto-bank.co.jp/about", "toto-bank.co.jp"),
    ("WWW.Example.COM:8443", "example.com"), ("ｅｘａｍｐｌｅ．ｃｏｍ", "example.com"), ("not a domain", ""), ("", ""),
])
def test_registrable_domain(value, expected):
    assert registrable_domain(value) == expected


# --- conflicts -------------------------------------------------------------------------------------------


@pytest.fixture
def three_partners(tenant_a):
    with scope(tenant=tenant_a.pk):
        return [f.PartnerFactory(tenant=tenant_a, name=n, external_id=e) for n, e in
                (("Alpha", "P-001"), ("Beta", "P-002"), ("Gamma", "P-003"))]


def test_other_partners_open_registrations_for_the_same_customer_conflict(tenant_a, three_partners):
    a, b, c = three_partners
    with scope(tenant=tenant_a.pk):
        d1 = register(tenant_a, a, "株式会社東都銀行")
        d2 = register(tenant_a, b, "東都銀行（株）")
        d3 = register(tenant_a, c, "Other Co", domain="https://www.toto-bank.co.jp")
        d4 = register(tenant_a, c, "Someone", domain="x@toto-bank.co.jp")  # same partner as d3: no conflict with it
        d1.refresh_from_db()
        assert d1.customer_key == "東都銀行" and d4.customer_domain == "toto-bank.co.jp"
        assert set(selectors.deal_conflicts(tenant=tenant_a, deal=d1)) == {d2}
        assert set(selectors.deal_conflicts(tenant=tenant_a, deal=d3)) == set()
        d1.customer_domain = "toto-bank.co.jp"
        d1.save(update_fields=["customer_domain"])
        assert set(selectors.deal_conflicts(tenant=tenant_a, deal=d3)) == {d1}
        flagged = set(selectors.deal_list(tenant=tenant_a).filter(has_conflict=True))
        assert flagged == {d1, d2, d3, d4}
        # a rejected registration no longer protects the customer
        deal_transition(tenant=tenant_a, deal=d2, stage=DealStage.REJECTED, reason="duplicate", actor=None)
        assert set(selectors.deal_conflicts(tenant=tenant_a, deal=d1)) == {d3, d4}
        assert not selectors.deal_list(tenant=tenant_a).get(pk=d2.pk).has_conflict


def test_conflicts_never_cross_tenants(tenant_a, tenant_b, no_scope):
    pa = f.PartnerFactory(tenant=tenant_a)
    pb = f.PartnerFactory(tenant=tenant_b)
    da = register(tenant_a, pa, "株式会社東都銀行", domain="toto-bank.co.jp")
    register(tenant_b, pb, "東都銀行", domain="toto-bank.co.jp")
    assert list(selectors.deal_conflicts(tenant=tenant_a, deal=da)) == []
    assert not selectors.deal_list(tenant=tenant_a).filter(has_conflict=True).exists()


def test_manager_sees_conflicts_side_by_side_and_filters_them(client, login, manager_a, tenant_a, three_partners):
    a, b, c = three_partners
    with scope(tenant=tenant_a.pk):
        d1 = register(tenant_a, a, "株式会社東都銀行")
        register(tenant_a, b, "㈱東都銀行")
        register(tenant_a, c, "Unrelated KK")
    login(manager_a)
    page = client.get(url("manage-deal", tenant_a, deal_id=d1.pk)).content.decode()
    assert 'id="deal-conflicts"' in page and "Alpha" in page and "Beta" in page and "Gamma" not in page
    listing = client.get(url("manage-deals", tenant_a), {"conflicts": "on"}).content.decode()
    assert "Alpha" in listing and "Beta" in listing and "Unrelated" not in listing
    assert 'id="conflict-notice"' in client.get(url("manage-deals", tenant_a)).content.decode()


def test_import_flags_conflicts_with_the_database_and_within_the_file(client, login, manager_a, tenant_a, three_partners):
    a, _b, _c = three_partners
    with scope(tenant=tenant_a.pk):
        register(tenant_a, a, "東都銀行株式会社")
    login(manager_a)
    text = ("partner_external_id,deal_id,customer,customer_domain,amount,stage,closed_on\r\n"
            "P-002,D-1,㈱東都銀行,,100,registered,\r\n"
            "P-003,D-2,Kobe Logistics,kobe.co.jp,100,registered,\r\n"
            "P-002,D-3,KOBE LOGISTICS INC.,,100,registered,\r\n"
            "P-002,D-4,Kobe Logistics,,100,won,2026-05-01\r\n")
    r = _upload(client, tenant_a, text.encode("utf-8-sig"))
    rows = r.context["preview"].rows
    assert rows[0].conflicts and "Alpha" in rows[0].conflicts[0]
    assert rows[1].conflicts and rows[2].conflicts and not rows[3].conflicts  # a won deal is not a registration
    assert r.context["preview"].is_valid  # a conflict is flagged, not refused
    _confirm(client, tenant_a, r.context["token"])
    with scope(tenant=tenant_a.pk):
        assert selectors.deal_list(tenant=tenant_a).filter(has_conflict=True).count() == 4


# --- decisions with a reason, reopen, history -------------------------------------------------------


def test_reject_needs_a_reason_and_a_confirmation_then_the_partner_sees_it(client, login, manager_a, partner_user_a, tenant_a):
    with scope(tenant=tenant_a.pk):
        deal = register(tenant_a, partner_user_a.partner, "東都銀行", actor=partner_user_a.user)
    login(manager_a)
    action = url("manage-deal-action", tenant_a, deal_id=deal.pk)
    # the first POST (from a list button) only shows the confirmation page
    r = client.post(action, {"action": "reject"})
    assert r.status_code == 200 and 'name="reason"' in r.content.decode() and 'name="confirmed"' in r.content.decode()
    assert client.get(action, {"action": "reject"}).status_code == 200
    # confirming without a reason is refused
    r = client.post(action, {"action": "reject", "confirmed": "True", "reason": "  "})
    assert r.status_code == 200 and r.context["form"].errors["reason"]
    with scope(tenant=tenant_a.pk):
        assert Deal.objects.get().stage == DealStage.REGISTERED
    r = client.post(action, {"action": "reject", "confirmed": "True", "reason": "東都銀行は別パートナーが先に登録済みです"})
    assert r.status_code == 302
    with scope(tenant=tenant_a.pk):
        deal.refresh_from_db()
        assert deal.stage == DealStage.REJECTED and deal.decided_by == manager_a.user and deal.expires_on is None
    client.logout()
    login(partner_user_a)
    page = client.get(url("portal-deal", tenant_a, deal_id=deal.pk)).content.decode()
    assert "東都銀行は別パートナーが先に登録済みです" in page and 'id="deal-reason"' in page


def test_the_service_refuses_reject_and_return_without_reason(tenant_a, no_scope):
    from django.core.exceptions import ValidationError

    deal = register(tenant_a, f.PartnerFactory(tenant=tenant_a), "A")
    for stage in (DealStage.REJECTED, DealStage.RETURNED):
        with pytest.raises(ValidationError):
            deal_transition(tenant=tenant_a, deal=deal, stage=stage, reason="", actor=None)


def test_return_for_changes_edit_and_send_again_then_reopen(client, login, manager_a, partner_user_a, tenant_a):
    with scope(tenant=tenant_a.pk):
        deal = register(tenant_a, partner_user_a.partner, "Old name", actor=partner_user_a.user)
    login(manager_a)
    client.post(url("manage-deal-action", tenant_a, deal_id=deal.pk),
                {"action": "return", "confirmed": "True", "reason": "Add the customer's domain"})
    client.logout()
    login(partner_user_a)
    edit = url("portal-deal-edit", tenant_a, deal_id=deal.pk)
    assert "Add the customer&#x27;s domain" in client.get(edit).content.decode()
    due = (timezone.localdate() + dt.timedelta(days=30)).isoformat()
    r = client.post(edit, {"customer": "New name", "customer_domain": "new.example.com", "amount": "5", "currency": "JPY",
                           "expected_close_on": due})
    assert r.status_code == 302
    with scope(tenant=tenant_a.pk):
        deal.refresh_from_db()
        assert deal.stage == DealStage.REGISTERED and deal.customer == "New name" and deal.customer_domain == "example.com"
        deal_transition(tenant=tenant_a, deal=deal, stage=DealStage.REJECTED, reason="no", actor=manager_a.user)
    client.logout()
    login(manager_a)
    client.post(url("manage-deal-action", tenant_a, deal_id=deal.pk), {"action": "reopen"})
    with scope(tenant=tenant_a.pk):
        deal.refresh_from_db()
        assert deal.stage == DealStage.REGISTERED and deal.expires_on is not None
        history = [(e.from_stage, e.to_stage, e.reason) for e in selectors.deal_history(tenant=tenant_a, deal=deal)]
    assert history == [
        ("", "registered", ""), ("registered", "returned", "Add the customer's domain"), ("returned", "registered", ""),
        ("registered", "rejected", "no"), ("rejected", "registered", ""),
    ]


def test_every_stage_change_writes_history_including_upsert_and_import(tenant_a, no_scope):
    partner = f.PartnerFactory(tenant=tenant_a)
    deal, _ = deal_upsert(tenant=tenant_a, external_id="X-1", partner=partner, customer="C", amount=Decimal(1))
    deal_upsert(tenant=tenant_a, external_id="X-1", partner=partner, customer="C", amount=Decimal(2))  # same stage: no row
    deal_transition(tenant=tenant_a, deal=deal, stage=DealStage.APPROVED, actor=None)
    deal_upsert(tenant=tenant_a, external_id="X-1", partner=partner, customer="C", amount=Decimal(2), stage="won",
                closed_on=timezone.localdate())
    assert [(e.from_stage, e.to_stage) for e in DealEvent.objects.filter(deal=deal)] == [
        ("", "registered"), ("registered", "approved"), ("approved", "won")]


def test_history_is_append_only(tenant_a, no_scope):
    deal = register(tenant_a, f.PartnerFactory(tenant=tenant_a), "A")
    event = DealEvent.objects.get(deal=deal)
    with pytest.raises(IntegrityError), transaction.atomic():
        DealEvent.objects.filter(pk=event.pk).update(reason="rewritten")
    with pytest.raises(IntegrityError), transaction.atomic():
        DealEvent.objects.filter(pk=event.pk).delete()


# --- expiry ------------------------------------------------------------------------------------------------


def test_expiry_uses_the_tenant_days_expires_and_announces(tenant_a, no_scope):
    tenant_a.deal_registration_days = 30
    tenant_a.save()
    partner = f.PartnerFactory(tenant=tenant_a)
    today = timezone.localdate()
    old = register(tenant_a, partner, "Old")
    soon = register(tenant_a, partner, "Soon")
    fresh = register(tenant_a, partner, "Fresh")
    assert fresh.expires_on == today + dt.timedelta(days=30)
    Deal.objects.filter(pk=old.pk).update(expires_on=today - dt.timedelta(days=1))
    Deal.objects.filter(pk=soon.pk).update(expires_on=today + dt.timedelta(days=7))
    heard = []

    def receiver(sender, deal, days_left, **kw):
        heard.append((deal.pk, days_left))

    deal_expiring.connect(receiver)
    try:
        assert deal_expire_due(tenant=tenant_a, today=today) == (1, 1)
        assert deal_expire_due(tenant=tenant_a, today=today) == (0, 1)  # expiry is done once
    finally:
        deal_expiring.disconnect(receiver)
    assert heard == [(soon.pk, 7), (soon.pk, 7)]
    old.refresh_from_db()
    assert old.stage == DealStage.EXPIRED and old.expires_on is None
    assert DealEvent.objects.filter(deal=old, to_stage="expired", actor=None).count() == 1


def test_daily_task_expires_in_every_tenant_and_is_scheduled(tenant_a, tenant_b, settings, no_scope):
    yesterday = timezone.localdate() - dt.timedelta(days=2)
    deals = [register(t, f.PartnerFactory(tenant=t), "X") for t in (tenant_a, tenant_b)]
    Deal.objects.filter(pk__in=[d.pk for d in deals]).update(expires_on=yesterday)
    expire_deals_all_tenants.delay()
    assert set(Deal.objects.values_list("stage", flat=True)) == {"expired"}
    entry = settings.CELERY_BEAT_SCHEDULE["deals-expire-registrations"]
    assert entry["task"] == "partners.deals.tasks.expire_deals_all_tenants"


# --- pages, roles, no leaks ---------------------------------------------------------------------------------


@pytest.fixture
def deals_ab(tenant_a, tenant_b, partner_user_a, partner_user_b):
    with scopes_disabled():
        da = register(tenant_a, partner_user_a.partner, "Acme-only customer", actor=partner_user_a.user)
        other_partner_a = register(tenant_a, f.PartnerFactory(tenant=tenant_a, name="Other partner"), "Other partner's customer")
        db = register(tenant_b, partner_user_b.partner, "Globex-only customer", actor=partner_user_b.user)
        deal_transition(tenant=tenant_b, deal=db, stage=DealStage.REJECTED, reason="GLOBEX SECRET REASON", actor=None)
    return da, other_partner_a, db


def test_deal_pages_two_tenants_no_leak(client, login, manager_a, partner_user_a, deals_ab, tenant_a):
    da, other, db = deals_ab
    login(manager_a)
    assert client.get(url("manage-deal", tenant_a, deal_id=da.pk)).status_code == 200
    assert client.get(url("manage-deal", tenant_a, deal_id=db.pk)).status_code == 404
    assert client.get(url("manage-deal-action", tenant_a, deal_id=db.pk), {"action": "reject"}).status_code == 404
    assert client.post(url("manage-deal-action", tenant_a, deal_id=db.pk), {"action": "approve"}).status_code == 404
    client.logout()
    login(partner_user_a)
    page = client.get(url("portal-deal", tenant_a, deal_id=da.pk)).content.decode()
    assert "Acme-only customer" in page and 'id="deal-history"' in page
    # the other tenant's deal and another partner's deal of the same tenant: the same 404
    assert client.get(url("portal-deal", tenant_a, deal_id=db.pk)).status_code == 404
    assert client.get(url("portal-deal", tenant_a, deal_id=other.pk)).status_code == 404
    assert client.get(url("portal-deal-edit", tenant_a, deal_id=other.pk)).status_code == 404
    listing = client.get(url("portal-deals", tenant_a)).content.decode()
    assert "Acme-only customer" in listing and "Other partner&#x27;s customer" not in listing


def test_partner_users_cannot_reach_manage_deal_pages(client, login, partner_user_a, deals_ab, tenant_a):
    da, _other, _db = deals_ab
    login(partner_user_a)
    assert client.get(url("manage-deal", tenant_a, deal_id=da.pk)).status_code == 403
    assert client.get(url("manage-deals-export", tenant_a)).status_code == 403
    assert client.post(url("manage-deal-action", tenant_a, deal_id=da.pk), {"action": "approve"}).status_code == 403


def test_history_and_selectors_two_tenants_no_leak(deals_ab, tenant_a, tenant_b, no_scope):
    da, _other, db = deals_ab
    assert list(selectors.deal_history(tenant=tenant_a, deal=db)) == []
    assert selectors.deal_latest_reason(tenant=tenant_a, deal=db) is None
    assert selectors.deal_latest_reason(tenant=tenant_b, deal=db).reason == "GLOBEX SECRET REASON"
    assert db not in selectors.deal_list(tenant=tenant_a)


def test_history_needs_a_scope(deals_ab, tenant_a):
    from django_scopes.exceptions import ScopeError

    with pytest.raises(ScopeError):
        list(DealEvent.objects.all())


def test_export_csv_two_tenants_no_leak_local_time_and_language_date_format(client, login, manager_a, deals_ab, tenant_a):
    da, _other, _db = deals_ab
    with scope(tenant=tenant_a.pk):
        Deal.objects.filter(pk=da.pk).update(created_at=dt.datetime(2026, 12, 1, 18, 30, tzinfo=dt.UTC))
    login(manager_a)
    r = client.get(url("manage-deals-export", tenant_a))
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    body = r.content.decode("utf-8")
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert rows[0][0] == "パートナー"  # Acme's UI language is Japanese
    text = "\n".join(",".join(row) for row in rows)
    assert "Acme-only customer" in text and "Globex" not in text
    row = next(r for r in rows if r[1] == "Acme-only customer")
    assert row[12] == "2026/12/02 03:30"  # Asia/Tokyo, the Japanese date format, no microseconds or offset
    # the filters of the list apply
    filtered = client.get(url("manage-deals-export", tenant_a), {"q": "Other"}).content.decode()
    assert "Acme-only customer" not in filtered and "Other partner" in filtered


def test_export_in_english_uses_the_english_date_format(client, login, manager_b, tenant_b, partner_user_b):
    with scope(tenant=tenant_b.pk):
        deal = register(tenant_b, partner_user_b.partner, "Globex customer")
        Deal.objects.filter(pk=deal.pk).update(created_at=dt.datetime(2026, 12, 1, 18, 30, tzinfo=dt.UTC))
    login(manager_b)
    rows = list(csv.reader(io.StringIO(client.get(url("manage-deals-export", tenant_b)).content.decode().lstrip("\ufeff"))))
    assert rows[0][0] == "Partner" and rows[1][12] == "2026-12-02 03:30"  # tenant_b is in Asia/Tokyo too


# --- import encodings and template -----------------------------------------------------------------------------


def _upload(client, tenant, data: bytes):
    return client.post(url("manage-deals-import", tenant), {"step": "upload", "file": SimpleUploadedFile("deals.csv", data)})


def _confirm(client, tenant, token):
    return client.post(url("manage-deals-import", tenant), {"step": "confirm", "token": token})


EXCEL_ROWS = [
    ["パートナーID", "案件ID", "顧客名", "顧客ドメイン", "製品", "金額", "通貨", "ステージ", "成約日", "受注予定日"],
    ["P-001", "D-1", "株式会社さくら商事", "sakura.co.jp", "クラウド", "1,200,000", "JPY", "受注", "2026/05/01", ""],
    ["P-002", "D-2", "ｶﾌﾞｼｷｶﾞｲｼｬ　髙橋工業", "", "", "5000", "", "登録", "", "2026/12/24"],
]


def _excel_bytes(encoding: str, rows=EXCEL_ROWS) -> bytes:
    """What Excel writes: CRLF line ends; "CSV (comma delimited)" is CP932 on Japanese Windows,
    "CSV UTF-8" has a BOM."""
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding)


@pytest.mark.parametrize("encoding", ["cp932", "utf-8-sig", "utf-8"])
def test_import_reads_files_as_excel_writes_them(client, login, manager_a, tenant_a, three_partners, encoding):
    data = _excel_bytes(encoding)
    if encoding == "cp932":
        assert b"\r\n" in data and "髙".encode("cp932") in data  # an IBM-extension kanji that plain Shift_JIS lacks
    login(manager_a)
    r = _upload(client, tenant_a, data)
    preview = r.context["preview"]
    assert preview.is_valid, [(row.line, row.errors) for row in preview.rows] + preview.errors
    _confirm(client, tenant_a, r.context["token"])
    with scope(tenant=tenant_a.pk):
        deals = {d.external_id: d for d in Deal.objects.all()}
    assert deals["D-1"].customer == "株式会社さくら商事" and deals["D-1"].stage == "won"
    assert deals["D-2"].customer == "ｶﾌﾞｼｷｶﾞｲｼｬ　髙橋工業" and deals["D-2"].currency == "JPY"  # the tenant's currency


def test_import_errors_are_complete_per_row_and_shown_on_a_phone(client, login, manager_a, tenant_a, three_partners):
    rows = [EXCEL_ROWS[0], ["P-999", "D-9", "", "not a domain", "", "12abc", "XYZ", "maybe", "2026-13-45", ""]]
    login(manager_a)
    r = _upload(client, tenant_a, _excel_bytes("cp932", rows))
    errors = r.context["preview"].rows[0].errors
    for fragment in ("P-999", "customer", "not a domain", "12abc", "XYZ", "maybe", "2026-13-45"):
        assert any(fragment in e for e in errors), (fragment, errors)
    body = r.content.decode()
    assert 'class="table table-stack" id="import-preview"' in body and 'class="result"' in body
    for e in errors:
        assert str(e).replace("“", "").split("”")[0][:8] in body.replace("“", "").replace("&quot;", '"')


def test_import_template_downloads_and_imports_cleanly(client, login, manager_a, tenant_a, three_partners):
    login(manager_a)
    r = client.get(url("manage-deals-import-template", tenant_a))
    assert r.status_code == 200 and r["Content-Disposition"].startswith("attachment")
    data = r.content
    assert data.startswith("\ufeff".encode()) and b"\r\n" in data
    r = _upload(client, tenant_a, data.replace(b"P-0001", b"P-001"))
    assert r.context["preview"].is_valid, [row.errors for row in r.context["preview"].rows]


# --- currency --------------------------------------------------------------------------------------------------


def test_form_currency_defaults_to_the_tenant_currency(client, login, partner_user_a, partner_user_b, tenant_a, tenant_b):
    assert tenant_a.currency == "JPY" and tenant_b.currency == "USD"
    login(partner_user_b)
    form = client.get(url("portal-deal-new", tenant_b)).context["form"]
    assert form["currency"].value() == "USD"
    assert '<option value="USD" selected>' in client.get(url("portal-deal-new", tenant_b)).content.decode()
    client.logout()
    login(partner_user_a)
    assert client.get(url("portal-deal-new", tenant_a)).context["form"]["currency"].value() == "JPY"


def test_services_default_to_the_tenant_currency(tenant_b, no_scope):
    deal = register(tenant_b, f.PartnerFactory(tenant=tenant_b), "A")
    assert deal.currency == "USD"


def test_migration_sets_currency_from_language():
    import importlib

    mig = importlib.import_module("partners.migrations.0006_tenant_currency_deal_days")
    from django.apps import apps

    with scopes_disabled():
        ja = f.TenantFactory(slug="ja-t", default_language="ja", currency="JPY")
        en = f.TenantFactory(slug="en-t", default_language="en", currency="JPY")
        mig.currency_from_language(apps, None)
        ja.refresh_from_db()
        en.refresh_from_db()
    assert (ja.currency, en.currency) == ("JPY", "USD")
