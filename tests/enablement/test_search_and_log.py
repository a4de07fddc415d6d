"""FAQ search (Japanese and English: analysed terms, synonyms, ranking) and the append-only log.

These run on SQLite and on PostgreSQL (CI runs the suite on both)."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django_scopes import scope

from enablement.models import ActivityEvent, AssetKind, AssetStatus, FaqSynonym, FaqTerm
from enablement.search import analyse, faq_search, normalise
from enablement.search.index import faq_reindex
from enablement.services.log import activity_record
from tests import factories as f

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture
def faqs(tenant_a, partner_user_a):
    with scope(tenant=tenant_a.pk):
        make = lambda title, body="", **kw: f.AssetFactory(  # noqa: E731
            tenant=tenant_a, kind=AssetKind.FAQ, title=title, body=body, **kw
        )
        return {
            "invoice": make("請求書を再発行するには？", "管理画面の「契約」から再発行できます。"),
            "license": make("ライセンスキーの有効期限", "License keys expire after one year. 更新は営業担当へ。"),
            "password": make("How do I reset my password?", "Use the password reset link on the login page."),
            "maintenance": make("保守契約の範囲", "ハードウェア保守とソフトウェア更新を含みます。"),
            "draft": make("請求書の下書き", "非公開", status=AssetStatus.DRAFT),
            "training": f.AssetFactory(tenant=tenant_a, kind=AssetKind.TRAINING, title="請求書トレーニング"),
        }


def search(member, query):
    with scope(tenant=member.tenant_id):
        return [a.title for a in faq_search(tenant=member.tenant, partner=member.partner, query=query)]


def test_analysis_normalises_width_case_inflection_and_spelling():
    assert [g.term for g in analyse("ｍｄｆ")] == ["mdf"] == [g.term for g in analyse("MDF")]
    assert [g.term for g in analyse("registering")] == [g.term for g in analyse("register")]
    assert [g.term for g in analyse("licence")] == [g.term for g in analyse("license")]
    assert [g.term for g in analyse("パスワードを忘れました")] == ["パスワード", "忘れる"]  # particles, auxiliaries out
    assert analyse("請求書")[0].parts == ("請求",)  # the long unit keeps its short part
    assert normalise("  ＭＤＦ　申請  ") == "mdf 申請"
    assert analyse("") == [] and analyse("how do I") == []


def test_japanese_words_inside_compounds(faqs, partner_user_a):
    assert search(partner_user_a, "保守") == ["保守契約の範囲"]  # 保守契約 = 保守 + 契約
    assert set(search(partner_user_a, "更新")) == {"ライセンスキーの有効期限", "保守契約の範囲"}  # answers only


def test_japanese_words(faqs, partner_user_a):
    assert search(partner_user_a, "請求書") == ["請求書を再発行するには？"]
    assert search(partner_user_a, "再発行") == ["請求書を再発行するには？"]
    assert search(partner_user_a, "有効期限") == ["ライセンスキーの有効期限"]
    assert search(partner_user_a, "ソフトウェア") == ["保守契約の範囲"]  # in the answer only
    assert search(partner_user_a, "請求書を再発行したいです") == ["請求書を再発行するには？"]


def test_english_words_case_width_and_stems(faqs, partner_user_a):
    assert search(partner_user_a, "password") == ["How do I reset my password?"]
    assert search(partner_user_a, "ＲＥＳＥＴ Passwords") == ["How do I reset my password?"]
    assert search(partner_user_a, "licence expiring") == ["ライセンスキーの有効期限"]
    assert search(partner_user_a, "zzzz") == []


def test_more_matched_words_rank_first(faqs, partner_user_a):
    # half of a two-word query is enough to be found; the FAQ matching both ranks first
    assert search(partner_user_a, "password reset")[0] == "How do I reset my password?"
    assert search(partner_user_a, "password invoice") == ["How do I reset my password?"]
    assert search(partner_user_a, "保守　ハードウェア") == ["保守契約の範囲"]  # ideographic space


def test_question_hits_rank_above_answer_hits(tenant_a, partner_user_a):
    with scope(tenant=tenant_a.pk):
        f.AssetFactory(tenant=tenant_a, kind=AssetKind.FAQ, title="Other topic", body="something about invoices here")
        f.AssetFactory(tenant=tenant_a, kind=AssetKind.FAQ, title="Invoices explained", body="details")
        f.AssetFactory(tenant=tenant_a, kind=AssetKind.FAQ, title="Billing", body="details", tags=",invoice,")
    assert search(partner_user_a, "invoices") == ["Invoices explained", "Billing", "Other topic"]


def test_synonyms_are_per_tenant(faqs, partner_user_a, tenant_b, partner_user_b):
    with scope(tenant=partner_user_a.tenant_id):
        FaqSynonym.objects.create(tenant=partner_user_a.tenant, terms="値引き, ディスカウント")
        f.AssetFactory(tenant=partner_user_a.tenant, kind=AssetKind.FAQ, title="ディスカウントの申請")
    with scope(tenant=tenant_b.pk):
        f.AssetFactory(tenant=tenant_b, kind=AssetKind.FAQ, title="ディスカウントの条件（Globex）")
    assert search(partner_user_a, "値引き") == ["ディスカウントの申請"]
    assert search(partner_user_b, "値引き") == []  # Acme's synonyms do not apply to Globex
    assert search(partner_user_b, "ディスカウント") == ["ディスカウントの条件（Globex）"]


def test_phrase_synonyms(faqs, partner_user_a):
    with scope(tenant=partner_user_a.tenant_id):
        FaqSynonym.objects.create(tenant=partner_user_a.tenant, terms="MDF, market development funds")
        f.AssetFactory(tenant=partner_user_a.tenant, kind=AssetKind.FAQ, title="MDF claims")
    assert search(partner_user_a, "market development funds") == ["MDF claims"]
    assert search(partner_user_a, "ｍｄｆ") == ["MDF claims"]


def test_only_published_faqs_of_the_tenant(faqs, partner_user_a, tenant_b, partner_user_b):
    with scope(tenant=tenant_b.pk):
        f.AssetFactory(tenant=tenant_b, kind=AssetKind.FAQ, title="請求書について（Globex）")
    assert search(partner_user_a, "請求書") == ["請求書を再発行するには？"]  # no draft, no training, no globex
    assert search(partner_user_b, "請求書") == ["請求書について（Globex）"]


def test_terms_are_stored_per_tenant(faqs, tenant_a, tenant_b):
    with scope(tenant=tenant_b.pk):
        f.AssetFactory(tenant=tenant_b, kind=AssetKind.FAQ, title="請求書について（Globex）")
        assert {t.asset.tenant_id for t in FaqTerm.objects.filter(tenant=tenant_b).select_related("asset")} == {
            tenant_b.pk
        }
    with scope(tenant=tenant_a.pk):
        assert FaqTerm.objects.filter(tenant=tenant_a, term="請求書").count() == 2  # the published one and the draft


def test_index_follows_edits_and_deletes(faqs, partner_user_a, tenant_a):
    with scope(tenant=tenant_a.pk):
        faq = faqs["password"]
        faq.title = "パスワードを忘れた場合"
        faq.body = "ログイン画面から"
        faq.save()
        assert search(partner_user_a, "パスワード") == ["パスワードを忘れた場合"]
        assert search(partner_user_a, "How do I reset") == []
        new = f.AssetFactory(tenant=tenant_a, kind=AssetKind.FAQ, title="新しい質問です")
        assert search(partner_user_a, "新しい質問") == ["新しい質問です"]
        new.delete()
        assert search(partner_user_a, "新しい質問") == []
        assert faq_reindex(tenant=tenant_a) > 0
        assert search(partner_user_a, "パスワード") == ["パスワードを忘れた場合"]


def test_search_terms_are_not_query_syntax(faqs, partner_user_a):
    for query in ['"', "pass*", "a OR b", "NEAR(x y)", "請求書\"", "-- ;", "%", "_", "x" * 500]:
        search(partner_user_a, query)  # never raises


def test_search_query_count_is_bounded(faqs, partner_user_a, django_assert_max_num_queries):
    with scope(tenant=partner_user_a.tenant_id):
        for query in ("請求書", "パスワードを忘れてログインできません 請求書 保守 ライセンス 更新 ソフトウェア"):
            with django_assert_max_num_queries(4):
                faq_search(tenant=partner_user_a.tenant, partner=partner_user_a.partner, query=query)


# --- the log is append-only (database triggers on SQLite and PostgreSQL) -------------------------


@pytest.fixture
def event(tenant_a, partner_user_a):
    with scope(tenant=tenant_a.pk):
        stored, created = activity_record(
            tenant=tenant_a, partner=partner_user_a.partner, user=partner_user_a.user, verb="portal.login"
        )
    assert created
    return stored


def test_update_on_the_log_is_refused(event):
    with scope(tenant=event.tenant_id), pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        ActivityEvent.objects.filter(pk=event.pk).update(query="tampered")
    with scope(tenant=event.tenant_id):
        assert ActivityEvent.objects.get(pk=event.pk).query == ""


def test_save_of_a_stored_event_is_refused(event):
    event.query = "tampered"
    with scope(tenant=event.tenant_id), pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        event.save()


def test_delete_on_the_log_is_refused(event):
    with scope(tenant=event.tenant_id), pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():
        ActivityEvent.objects.filter(pk=event.pk).delete()
    with scope(tenant=event.tenant_id):
        assert ActivityEvent.objects.filter(pk=event.pk).exists()


def test_raw_sql_update_and_delete_are_refused(event):
    for sql in (
        "UPDATE enablement_activityevent SET verb = 'faq.viewed' WHERE id = %s",
        "DELETE FROM enablement_activityevent WHERE id = %s",
    ):
        # inside the tenant's scope, so on PostgreSQL row-level security lets the row be seen and
        # the append-only trigger is what refuses it
        with scope(tenant=event.tenant_id), pytest.raises((IntegrityError, DatabaseError)), transaction.atomic(), \
                connection.cursor() as cursor:
            cursor.execute(sql, [event.pk])


def test_same_event_id_is_stored_once(tenant_a, partner_user_a):
    with scope(tenant=tenant_a.pk):
        kwargs = {"tenant": tenant_a, "partner": partner_user_a.partner, "verb": "faq.searched", "event_id": "x-1"}
        first, created1 = activity_record(**kwargs, query="a")
        second, created2 = activity_record(**kwargs, query="b")
        assert (created1, created2) == (True, False)
        assert second.pk == first.pk and ActivityEvent.objects.filter(event_id="x-1").count() == 1


def test_faq_reindex_command(faqs, tenant_a, tenant_b, partner_user_a):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("faq_reindex", stdout=out)
    assert "acme:" in out.getvalue() and "globex: 0" in out.getvalue()
    call_command("faq_reindex", "--tenant", "acme", stdout=out)
    assert search(partner_user_a, "請求書") == ["請求書を再発行するには？"]
