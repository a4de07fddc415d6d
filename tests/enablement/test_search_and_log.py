"""FAQ search (Japanese and English, trigram index + short-term fallback) and the append-only log.

These run on SQLite and on PostgreSQL (CI runs the suite on both)."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django_scopes import scope

from enablement.models import ActivityEvent, AssetKind, AssetStatus
from enablement.search import faq_search, split_terms
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


def test_japanese_two_character_substring(faqs, partner_user_a):
    assert search(partner_user_a, "保守") == ["保守契約の範囲"]
    # 2 characters that only occur in an answer
    assert set(search(partner_user_a, "更新")) == {"ライセンスキーの有効期限", "保守契約の範囲"}


def test_japanese_three_plus_character_substring(faqs, partner_user_a):
    assert search(partner_user_a, "請求書") == ["請求書を再発行するには？"]
    assert search(partner_user_a, "再発行") == ["請求書を再発行するには？"]
    assert search(partner_user_a, "有効期限") == ["ライセンスキーの有効期限"]
    assert search(partner_user_a, "ソフトウェア") == ["保守契約の範囲"]  # in the answer only


def test_english_words_case_insensitive_and_all_terms_must_match(faqs, partner_user_a):
    assert search(partner_user_a, "password") == ["How do I reset my password?"]
    assert search(partner_user_a, "RESET Password") == ["How do I reset my password?"]
    assert search(partner_user_a, "license expire") == ["ライセンスキーの有効期限"]
    assert search(partner_user_a, "password invoice") == []
    assert search(partner_user_a, "zzzz") == []


def test_mixed_short_and_long_terms(faqs, partner_user_a):
    assert search(partner_user_a, "保守　ハードウェア") == ["保守契約の範囲"]  # ideographic space
    assert search(partner_user_a, "my password") == ["How do I reset my password?"]


def test_question_hits_rank_above_answer_hits(tenant_a, partner_user_a):
    with scope(tenant=tenant_a.pk):
        f.AssetFactory(tenant=tenant_a, kind=AssetKind.FAQ, title="Other topic", body="something about invoices here")
        f.AssetFactory(tenant=tenant_a, kind=AssetKind.FAQ, title="Invoices explained", body="details")
    assert search(partner_user_a, "invoices") == ["Invoices explained", "Other topic"]


def test_only_published_faqs_of_the_tenant(faqs, partner_user_a, tenant_b, partner_user_b):
    with scope(tenant=tenant_b.pk):
        f.AssetFactory(tenant=tenant_b, kind=AssetKind.FAQ, title="請求書について（Globex）")
    assert search(partner_user_a, "請求書") == ["請求書を再発行するには？"]  # no draft, no training, no globex
    assert search(partner_user_b, "請求書") == ["請求書について（Globex）"]


def test_index_follows_edits_and_deletes(faqs, partner_user_a, tenant_a):
    with scope(tenant=tenant_a.pk):
        faq = faqs["password"]
        faq.title = "パスワードを忘れた場合"
        faq.save()
        assert search(partner_user_a, "パスワード") == ["パスワードを忘れた場合"]
        assert search(partner_user_a, "How do I reset") == []
        new = f.AssetFactory(tenant=tenant_a, kind=AssetKind.FAQ, title="新しい質問です")
        assert search(partner_user_a, "新しい質問") == ["新しい質問です"]
        new.delete()
        assert search(partner_user_a, "新しい質問") == []


def test_search_terms_are_not_fts_syntax(faqs, partner_user_a):
    for query in ['"', "pass*", "a OR b", "NEAR(x y)", "請求書\"", "-- ;"]:
        search(partner_user_a, query)  # never raises


def test_split_terms():
    assert split_terms("  請求書　再発行  請求書 ") == ["請求書", "再発行"]
    assert split_terms("") == []


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
