"""Partner names with a reading (furigana): suggested from the name, editable, and Japanese lists
in あいうえお order (reading, then name); English lists by name."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation
from django_scopes import scope

from kpis.dashboards.filters import parse_filters
from kpis.dashboards.selectors import partners_table
from partners import services
from partners.models import Partner
from partners.reading import reading_of
from partners.selectors import partner_list
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("name", "reading"), [
    ("株式会社山田商事", "やまだしょうじ"), ("東都銀行", "とうとぎんこう"), ("さくらネット(株)", "さくらねっと"),
    ("ＭＤＦ合同会社", "えむでぃーえふ"), ("", ""),
])
def test_reading_in_hiragana_without_the_legal_form(name, reading):
    assert reading_of(name) == reading


def test_suggested_on_create_kept_when_edited_suggested_again_on_rename(tenant_a, manager_a):
    with scope(tenant=tenant_a.pk):
        partner = services.partner_create(tenant=tenant_a, actor=manager_a.user, name="東都銀行")
        assert partner.name_kana == "とうとぎんこう"
        services.partner_update(tenant=tenant_a, actor=manager_a.user, partner=partner, name="山田商事",
                                name_kana="とうとぎんこう")
        assert partner.name_kana == "やまだしょうじ"  # the old suggestion followed the rename
        services.partner_update(tenant=tenant_a, actor=manager_a.user, partner=partner, name_kana="やまだ")
        services.partner_update(tenant=tenant_a, actor=manager_a.user, partner=partner, name="山田商事販売",
                                name_kana="やまだ")
        assert partner.name_kana == "やまだ"  # an edited reading is the person's: kept
        services.partner_update(tenant=tenant_a, actor=manager_a.user, partner=partner, name_kana="")
        assert partner.name_kana == "やまだしょうじはんばい"


def make_partners(tenant):
    # Code-point order of the names: 伊藤 < 佐藤 < 安藤 < 渡辺; あいうえお order: あんどう いとう さとう わたなべ.
    with scope(tenant=tenant.pk):
        for name in ("渡辺商会", "佐藤電機", "伊藤製作所", "安藤工業"):
            f.PartnerFactory(tenant=tenant, name=name, name_kana=reading_of(name))


def test_lists_in_aiueo_order_in_japanese(tenant_a, tenant_b):
    make_partners(tenant_a)
    make_partners(tenant_b)
    aiueo = ["安藤工業", "伊藤製作所", "佐藤電機", "渡辺商会"]
    with scope(tenant=tenant_a.pk):
        with translation.override("ja"):
            assert [p.name for p in partner_list(tenant=tenant_a)] == aiueo
            filters = parse_filters({})
            assert [p.name for p in partners_table(tenant=tenant_a, filters=filters, sort="name")] == aiueo
            assert [p.name for p in partners_table(tenant=tenant_a, filters=filters, sort="-name")] == aiueo[::-1]
        with translation.override("en"):
            assert [p.name for p in partner_list(tenant=tenant_a)] == sorted(aiueo)
        assert Partner.objects.filter(tenant=tenant_a).count() == 4  # no rows of tenant B


def test_partner_form_edits_the_reading(client, login, manager_a, tenant_a):
    login(manager_a)
    new = reverse("manage-partner-new", kwargs={"tenant_slug": "acme"})
    assert 'name="name_kana"' in client.get(new).content.decode()
    response = client.post(new, {"name": "株式会社新星システムズ", "name_kana": "", "status": "onboarding",
                                 "joined_on": "2026-11-01"})
    assert response.status_code == 302
    with scope(tenant=tenant_a.pk):
        partner = Partner.objects.get(name="株式会社新星システムズ")
    assert partner.name_kana == reading_of("新星システムズ")
    edit = reverse("manage-partner-edit", kwargs={"tenant_slug": "acme", "partner_id": partner.pk})
    client.post(edit, {"name": partner.name, "name_kana": "しんせいしすてむず", "status": "active", "joined_on": "2026-11-01"})
    f.refresh(partner)
    assert partner.name_kana == "しんせいしすてむず"
    assert "しんせいしすてむず" in client.get(reverse("manage-partner-admin", kwargs={"tenant_slug": "acme"})).content.decode()


def test_upsert_by_external_id_suggests_the_reading(tenant_a):
    with scope(tenant=tenant_a.pk):
        partner, created = services.partner_upsert(tenant=tenant_a, external_id="P-1", name="東都銀行")
        assert created and partner.name_kana == "とうとぎんこう"
        partner, _ = services.partner_upsert(tenant=tenant_a, external_id="P-1", name="山田商事")
        assert partner.name_kana == "やまだしょうじ"
