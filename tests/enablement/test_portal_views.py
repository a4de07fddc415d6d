"""Partner portal: each verb is logged with the right partner, user and asset; visibility is one 404."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from urllib.parse import quote

import pytest
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from enablement.models import ActivityEvent, AssetKind, AssetStatus, AssignmentTarget, Verb
from tests import factories as f
from tests.enablement.conftest import add_version

pytestmark = pytest.mark.django_db


def url(name, asset=None, slug="acme"):
    kwargs = {"tenant_slug": slug}
    if asset is not None:
        kwargs["asset_id"] = asset.pk
    return reverse(name, kwargs=kwargs)


def events(tenant, **filters):
    with scope(tenant=tenant.pk):
        return list(ActivityEvent.objects.filter(tenant=tenant, **filters).order_by("id"))


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    """The play-session clock, moved by hand (no sleeping)."""
    from tests.enablement.conftest import FakeClock

    fake = FakeClock()
    monkeypatch.setattr("enablement.services.training.clock", fake)
    _clock[0] = fake
    return fake


_clock: list = [None]


def heartbeat(client, asset, segments, position, event_id=None, slug="acme", after=600):
    """Open the player page (its play session), let ``after`` seconds pass, send one heartbeat."""
    page = client.get(url("portal-training", asset, slug))
    session = page.context["play_session"] if page.status_code == 200 else ""
    _clock[0].advance(seconds=after)
    body = {
        "event_id": event_id or str(uuid.uuid4()),
        "session": session,
        "played_segments": segments,
        "position": position,
        "seconds": 0,
    }
    return client.post(url("portal-training-progress", asset, slug), data=json.dumps(body), content_type="application/json")


def state(response) -> dict:
    data = response.json()
    return {k: data[k] for k in ("share", "completed", "duplicate")}


# --- the log -------------------------------------------------------------------------------------


def test_document_view_and_download_are_logged(client, login, portal):
    login(portal["member"])
    doc = portal["document"]
    assert client.get(url("portal-document", doc)).status_code == 200
    response = client.get(url("portal-document-download", doc))
    assert response.status_code == 200
    b"".join(response.streaming_content)
    viewed = events(portal["tenant"], verb=Verb.DOCUMENT_VIEWED)
    downloaded = events(portal["tenant"], verb=Verb.DOCUMENT_DOWNLOADED)
    assert len(viewed) == len(downloaded) == 1
    for event in viewed + downloaded:
        assert (event.partner_id, event.user_id, event.asset_id) == (portal["partner"].pk, portal["member"].user_id, doc.pk)
        assert event.source == "portal"


def test_download_has_the_japanese_file_name_and_is_an_attachment(client, login, portal):
    login(portal["member"])
    response = client.get(url("portal-document-download", portal["document"]))
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment")
    assert f"filename*=utf-8''{quote('資料.pdf')}" in disposition
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF")


def test_download_serves_the_latest_version(client, login, portal):
    add_version(portal["document"], name="資料_v2.pdf", data=b"%PDF-1.4 version two", version=2)
    login(portal["member"])
    response = client.get(url("portal-document-download", portal["document"]))
    assert quote("資料_v2.pdf") in response["Content-Disposition"]
    assert b"".join(response.streaming_content) == b"%PDF-1.4 version two"
    (event,) = events(portal["tenant"], verb=Verb.DOCUMENT_DOWNLOADED)
    assert event.extra == {"version": 2}


def test_a_pdf_is_read_on_the_document_page_without_counting_as_a_download(client, login, portal):
    """The page frames the PDF (same origin only, nothing else loads in it); reading it there logs
    no download, so a document completed by download still needs the Download button."""
    login(portal["member"])
    doc = portal["document"]
    page = client.get(url("portal-document", doc)).content.decode()
    assert f'src="{url("portal-document-file", doc)}"' in page
    response = client.get(url("portal-document-file", doc))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("inline")
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    policy = response["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in policy and "default-src 'none'" in policy
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    assert events(portal["tenant"], verb=Verb.DOCUMENT_DOWNLOADED) == []
    # Other pages still refuse to be framed.
    assert client.get(url("portal-document", doc))["X-Frame-Options"] == "DENY"


def test_only_a_pdf_is_shown_inline(client, login, portal):
    add_version(portal["document"], name="表.xlsx", data=b"PK\x03\x04 not a pdf", version=2)
    with scope(tenant=portal["tenant"].pk):
        portal["document"].versions.filter(version=2).update(
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    login(portal["member"])
    assert client.get(url("portal-document-file", portal["document"])).status_code == 404
    page = client.get(url("portal-document", portal["document"])).content.decode()
    assert url("portal-document-file", portal["document"]) not in page


def test_faq_search_view_and_feedback_are_logged(client, login, portal):
    login(portal["member"])
    faq = portal["faq"]
    response = client.get(url("portal-faq"), {"q": "請求書"}, follow=True)
    assert response.status_code == 200
    assert faq.title in response.content.decode()
    client.get(url("portal-faq"), {"q": "存在しないキーワード"}, follow=True)
    assert client.get(url("portal-faq-detail", faq), {"q": "請求書"}).status_code == 200
    yes = client.post(url("portal-faq-feedback", faq), {"resolved": "yes", "q": "請求書"}, HTTP_HX_REQUEST="true")
    assert yes.status_code == 200 and "notice-success" in yes.content.decode()
    client.post(url("portal-faq-feedback", faq), {"resolved": "no"})

    searched = events(portal["tenant"], verb=Verb.FAQ_SEARCHED)
    assert [(e.query, e.result_count) for e in searched] == [("請求書", 1), ("存在しないキーワード", 0)]
    assert all(e.asset_id is None and e.partner_id == portal["partner"].pk for e in searched)
    (viewed,) = events(portal["tenant"], verb=Verb.FAQ_VIEWED)
    assert (viewed.asset_id, viewed.user_id, viewed.query) == (faq.pk, portal["member"].user_id, "請求書")
    feedback = events(portal["tenant"], verb=Verb.FAQ_FEEDBACK)
    assert [(e.asset_id, e.resolved) for e in feedback] == [(faq.pk, True), (faq.pk, False)]
    assert all(e.partner_id == portal["partner"].pk and e.user_id == portal["member"].user_id for e in feedback)


def test_faq_feedback_requires_csrf(login, portal):
    from django.test import Client

    c = Client(enforce_csrf_checks=True)
    login(portal["member"], c)
    response = c.post(url("portal-faq-feedback", portal["faq"]), {"resolved": "yes"})
    assert response.status_code == 403
    assert events(portal["tenant"], verb=Verb.FAQ_FEEDBACK) == []


def test_faq_answer_markdown_is_sanitised(client, login, portal):
    with scope(tenant=portal["tenant"].pk):
        faq = f.AssetFactory(
            tenant=portal["tenant"], kind=AssetKind.FAQ, title="XSS?", body="**bold** <script>alert(1)</script> [x](javascript:alert(1))"
        )
    login(portal["member"])
    html = client.get(url("portal-faq-detail", faq)).content.decode()
    assert "<strong>bold</strong>" in html
    assert "<script>alert(1)" not in html and "javascript:alert" not in html


def test_training_verbs_are_logged(client, login, portal):
    login(portal["member"])
    training = portal["training"]
    assert client.get(url("portal-training", training)).status_code == 200
    assert state(heartbeat(client, training, [[0, 50]], 50)) == {"share": 50.0, "completed": False, "duplicate": False}
    result = heartbeat(client, training, [[50, 95]], 95).json()
    assert result["completed"] is True and result["share"] == 95.0
    logged = events(portal["tenant"], asset=training)
    assert [e.verb for e in logged] == [
        Verb.TRAINING_STARTED,
        Verb.TRAINING_PROGRESSED,
        Verb.TRAINING_PROGRESSED,
        Verb.TRAINING_COMPLETED,
    ]
    assert all(e.partner_id == portal["partner"].pk and e.user_id == portal["member"].user_id for e in logged)
    assert logged[-1].played_segments == [[0.0, 95.0]] and logged[-1].seconds == 95.0


def test_heartbeat_sent_twice_is_stored_once(client, login, portal):
    login(portal["member"])
    event_id = str(uuid.uuid4())
    first = heartbeat(client, portal["training"], [[0, 20]], 20, event_id=event_id)
    second = heartbeat(client, portal["training"], [[0, 20]], 20, event_id=event_id)
    assert first.status_code == second.status_code == 200
    assert second.json()["duplicate"] is True
    assert len(events(portal["tenant"], verb=Verb.TRAINING_PROGRESSED, event_id=event_id)) == 1
    assert len(events(portal["tenant"], verb=Verb.TRAINING_STARTED)) == 1


def test_seeking_to_the_end_does_not_complete(client, login, portal):
    login(portal["member"])
    training = portal["training"]  # 100 s, threshold 90 %
    # Watched 5 s, then jumped to the end and let the last 3 s play.
    result = state(heartbeat(client, training, [[0, 5], [97, 100]], 100))
    assert result == {"share": 8.0, "completed": False, "duplicate": False}
    # The position says "the end", the segments do not; repeating the same range adds nothing.
    result = heartbeat(client, training, [[97, 100], [0, 5]], 100).json()
    assert result["completed"] is False
    assert events(portal["tenant"], verb=Verb.TRAINING_COMPLETED) == []


def test_watching_ninety_percent_completes_exactly_once(client, login, portal):
    login(portal["member"])
    training = portal["training"]
    assert heartbeat(client, training, [[0, 60]], 60).json()["completed"] is False
    assert heartbeat(client, training, [[55, 89]], 89).json()["completed"] is False  # 89 %
    assert heartbeat(client, training, [[89, 90]], 90).json()["completed"] is True  # 90 %
    assert heartbeat(client, training, [[90, 100]], 100).json()["completed"] is True
    (completed,) = events(portal["tenant"], verb=Verb.TRAINING_COMPLETED)
    assert completed.progress == 90.0


def test_segments_are_merged_across_page_loads_and_resume_from_last_position(client, login, portal):
    training = portal["training"]
    with scope(tenant=portal["tenant"].pk):
        training.video_url = "https://videos.example.com/t.mp4"
        training.save()
    login(portal["member"])
    heartbeat(client, training, [[0, 30]], 30)
    heartbeat(client, training, [[30, 42.5]], 42.5)
    page = client.get(url("portal-training", training))
    assert page.context["resume"] == 42.5
    assert 'data-resume="42.5"' in page.content.decode()
    assert page.context["share_percent"] == 42


def test_garbage_heartbeats_are_refused_or_cleaned(client, login, portal):
    login(portal["member"])
    training = portal["training"]
    assert heartbeat(client, training, [[0, 10]], 10, event_id="not-a-uuid").status_code == 400
    bad_json = client.post(url("portal-training-progress", training), data="{", content_type="application/json")
    assert bad_json.status_code == 400
    # Out-of-range and malformed segments are clipped or dropped: never more than the duration.
    result = heartbeat(client, training, [[-50, 20], ["x", 3], [10], [90, 10_000]], 5).json()
    assert result["share"] == 30.0


def test_heartbeat_needs_post_and_csrf(login, portal):
    from django.test import Client

    c = Client(enforce_csrf_checks=True)
    login(portal["member"], c)
    assert c.get(url("portal-training-progress", portal["training"])).status_code == 405
    assert heartbeat(c, portal["training"], [[0, 10]], 10).status_code == 403


# --- visibility: one 404 --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,kind",
    [
        ("portal-training", "training"),
        ("portal-asset-media", "training"),
        ("portal-document", "document"),
        ("portal-document-download", "document"),
        ("portal-document-file", "document"),
        ("portal-faq-detail", "faq"),
        ("portal-asset", "document"),
    ],
)
def test_other_tenants_assets_are_404(client, login, portal, other_tenant_assets, name, kind):
    login(portal["member"])
    assert client.get(url(name, other_tenant_assets[kind])).status_code == 404
    # ... also under the other tenant's own URL (not a member there).
    assert client.get(url(name, other_tenant_assets[kind], slug="globex")).status_code == 404


def test_cannot_log_events_for_other_tenants_assets(client, login, portal, other_tenant_assets):
    login(portal["member"])
    assert heartbeat(client, other_tenant_assets["training"], [[0, 10]], 10).status_code == 404
    response = client.post(url("portal-faq-feedback", other_tenant_assets["faq"]), {"resolved": "yes"})
    assert response.status_code == 404
    with scopes_disabled():
        assert not ActivityEvent.objects.exclude(verb=Verb.PORTAL_LOGIN).exists()


def test_unassigned_unpublished_asset_is_404(client, login, portal):
    login(portal["member"])
    draft = portal["draft"]
    assert client.get(url("portal-document", draft)).status_code == 404
    assert client.get(url("portal-document-download", draft)).status_code == 404
    assert client.get(url("portal-document-file", draft)).status_code == 404
    with scope(tenant=portal["tenant"].pk):
        draft_training = f.AssetFactory(tenant=portal["tenant"], kind="training", status=AssetStatus.DRAFT)
        draft_faq = f.AssetFactory(tenant=portal["tenant"], kind="faq", status=AssetStatus.ARCHIVED, title="古い質問")
    assert client.get(url("portal-training", draft_training)).status_code == 404
    assert heartbeat(client, draft_training, [[0, 10]], 10).status_code == 404
    assert client.get(url("portal-faq-detail", draft_faq)).status_code == 404
    assert client.post(url("portal-faq-feedback", draft_faq), {"resolved": "no"}).status_code == 404
    client.get(url("portal-faq"), {"q": "古い質問"}, follow=True)
    assert events(portal["tenant"], verb=Verb.FAQ_SEARCHED)[0].result_count == 0
    assert events(portal["tenant"], asset__isnull=False) == []


def test_wrong_kind_is_404(client, login, portal):
    login(portal["member"])
    assert client.get(url("portal-training", portal["document"])).status_code == 404
    assert client.get(url("portal-document-download", portal["training"])).status_code == 404


@pytest.mark.parametrize("target", ["partner", "tier", "segment", "path"])
def test_assigned_unpublished_asset_is_visible(client, login, portal, target):
    draft, tenant, partner = portal["draft"], portal["tenant"], portal["partner"]
    with scope(tenant=tenant.pk):
        kwargs = {"tenant": tenant, "asset": draft, "target": target, "partner": None}
        if target == "partner":
            kwargs["partner"] = partner
        elif target == "tier":
            kwargs["tier"] = partner.tier
        elif target == "segment":
            kwargs["segment"] = partner.segment
        else:
            item = f.LearningPathItemFactory(path__tenant=tenant, asset=draft)
            kwargs.update(asset=None, learning_path=item.path, target=AssignmentTarget.PARTNER, partner=partner)
        f.AssignmentFactory(**kwargs)
    login(portal["member"])
    assert client.get(url("portal-document", draft)).status_code == 200
    assert client.get(url("portal-document-download", draft)).status_code == 200


def test_another_partners_assignment_does_not_open_a_draft(client, login, portal):
    with scope(tenant=portal["tenant"].pk):
        other = f.PartnerFactory(tenant=portal["tenant"], segment="Enterprise", tier=None)
        f.AssignmentFactory(tenant=portal["tenant"], asset=portal["draft"], partner=other)
    login(portal["member"])
    assert client.get(url("portal-document", portal["draft"])).status_code == 404


# --- roles ----------------------------------------------------------------------------------------

PORTAL_PAGES = ["portal-home", "portal-catalog", "portal-faq"]


@pytest.mark.parametrize("name", PORTAL_PAGES)
def test_managers_get_403_on_portal_pages(client, login, manager_a, admin_a, name):
    for member in (manager_a, admin_a):
        login(member)
        assert client.get(url(name)).status_code == 403


def test_managers_get_403_on_asset_pages(client, login, manager_a, portal):
    login(manager_a)
    for name in ("portal-training", "portal-document", "portal-document-download", "portal-faq-detail"):
        kind = {"portal-training": "training", "portal-faq-detail": "faq"}.get(name, "document")
        assert client.get(url(name, portal[kind])).status_code == 403
    assert heartbeat(client, portal["training"], [[0, 10]], 10).status_code == 403


def test_anonymous_is_sent_to_login(client, tenant_a):
    response = client.get(url("portal-home"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- media ----------------------------------------------------------------------------------------


def _training_with_video(tenant, data=b"0123456789" * 100):
    from django.core.files.base import ContentFile

    with scope(tenant=tenant.pk):
        asset = f.AssetFactory(tenant=tenant, kind="training", duration_seconds=6)
        asset.video_file.save("clip.webm", ContentFile(data), save=True)
    return asset


def test_media_is_served_with_range_support(client, login, portal):
    asset = _training_with_video(portal["tenant"])
    login(portal["member"])
    full = client.get(url("portal-asset-media", asset))
    assert full.status_code == 200 and full["Content-Type"] == "video/webm"
    assert len(b"".join(full.streaming_content)) == 1000
    part = client.get(url("portal-asset-media", asset), HTTP_RANGE="bytes=10-19")
    assert part.status_code == 206
    assert part["Content-Range"] == "bytes 10-19/1000"
    assert b"".join(part.streaming_content) == b"0123456789"
    tail = client.get(url("portal-asset-media", asset), HTTP_RANGE="bytes=-5")
    assert b"".join(tail.streaming_content) == b"56789"
    assert client.get(url("portal-asset-media", asset), HTTP_RANGE="bytes=5000-").status_code == 416
    page = client.get(url("portal-training", asset)).content.decode()
    assert url("portal-asset-media", asset) in page


def test_external_video_url_is_used_when_no_file(client, login, portal):
    with scope(tenant=portal["tenant"].pk):
        asset = f.AssetFactory(tenant=portal["tenant"], kind="training", video_url="https://videos.example.com/a.mp4")
    login(portal["member"])
    assert "https://videos.example.com/a.mp4" in client.get(url("portal-training", asset)).content.decode()
    assert client.get(url("portal-asset-media", asset)).status_code == 404


# --- home and catalog -----------------------------------------------------------------------------


def test_home_lists_assignments_overdue_first_with_progress(client, login, portal, make_member):
    tenant, partner = portal["tenant"], portal["partner"]
    today = timezone.localdate()
    with scope(tenant=tenant.pk):
        later = f.AssignmentFactory(tenant=tenant, asset=portal["training"], partner=partner, due_on=today + dt.timedelta(days=30))
        overdue = f.AssignmentFactory(
            tenant=tenant, asset=portal["document"], partner=None, target="tier", tier=partner.tier,
            due_on=today - dt.timedelta(days=3), required_completions=2,
        )
        path_item = f.LearningPathItemFactory(path__tenant=tenant, path__title="入門コース", asset=portal["faq"])
        f.AssignmentFactory(
            tenant=tenant, asset=None, learning_path=path_item.path, partner=partner, due_on=today + dt.timedelta(days=7)
        )
    colleague = make_member(tenant, "partner_user", partner=partner)
    login(colleague)
    client.get(url("portal-document", portal["document"]))  # 1 of 2 users
    login(portal["member"])
    heartbeat(client, portal["training"], [[0, 40]], 40)
    response = client.get(url("portal-home"))
    assert response.status_code == 200
    rows = response.context["rows"]
    assert [r.asset.pk for r in rows] == [portal["document"].pk, portal["faq"].pk, portal["training"].pk]
    assert rows[0].overdue and rows[0].done_users == 1 and rows[0].percent == 50
    assert rows[1].path_title == "入門コース"
    assert rows[2].my_progress == 40.0 and rows[2].percent == 40 and rows[2].due_on == later.due_on
    html = response.content.decode()
    assert "status-overdue" in html
    assert response.context["next_steps"][0].asset.pk == portal["training"].pk  # started: continue first
    assert overdue.due_on.strftime("%Y") in html


def test_home_query_count_does_not_grow_with_assignments(client, login, portal, django_assert_max_num_queries):
    tenant, partner = portal["tenant"], portal["partner"]
    login(portal["member"])
    client.get(url("portal-home"))
    with scope(tenant=tenant.pk):
        for _ in range(15):
            f.AssignmentFactory(tenant=tenant, partner=partner)
        path = f.LearningPathFactory(tenant=tenant)
        for _ in range(5):
            f.LearningPathItemFactory(path=path, tenant=tenant)
        f.AssignmentFactory(tenant=tenant, asset=None, learning_path=path, partner=partner)
    with django_assert_max_num_queries(13):  # pairs (enablement.pairs), assets, path titles, progress
        response = client.get(url("portal-home"))
    assert len(response.context["rows"]) == 20


def test_home_shows_completion_by_colleagues(client, login, portal, make_member):
    tenant, partner = portal["tenant"], portal["partner"]
    with scope(tenant=tenant.pk):
        f.AssignmentFactory(tenant=tenant, asset=portal["training"], partner=partner)
    colleague = make_member(tenant, "partner_user", partner=partner)
    login(colleague)
    heartbeat(client, portal["training"], [[0, 100]], 100)
    login(portal["member"])
    (row,) = client.get(url("portal-home")).context["rows"]
    assert row.done and row.done_users == 1 and row.percent == 100


def test_home_ignores_other_partners_and_tenants(client, login, portal, partner_user_b, other_tenant_assets):
    tenant = portal["tenant"]
    with scope(tenant=tenant.pk):
        other = f.PartnerFactory(tenant=tenant, segment="Enterprise", tier=None)
        f.AssignmentFactory(tenant=tenant, asset=portal["training"], partner=other)
    with scope(tenant=partner_user_b.tenant_id):
        f.AssignmentFactory(tenant=partner_user_b.tenant, asset=other_tenant_assets["training"], partner=partner_user_b.partner)
    login(portal["member"])
    response = client.get(url("portal-home"))
    assert response.context["rows"] == []
    assert "Globex" not in response.content.decode()


def test_catalog_filters_and_highlights_assignments(client, login, portal, other_tenant_assets):
    tenant = portal["tenant"]
    with scope(tenant=tenant.pk):
        tagged = f.AssetFactory(tenant=tenant, kind="document", title="価格表", category="営業", tags=",pricing,smb,")
        f.AssetFactory(tenant=tenant, kind="document", title="Pricing old", tags=",pricing-old,")
        f.AssignmentFactory(tenant=tenant, asset=tagged, partner=portal["partner"])
    login(portal["member"])
    response = client.get(url("portal-catalog"))
    titles = [a.title for a in response.context["page"].object_list]
    assert "価格表" in titles and "社外秘" not in titles and "Globex deck" not in titles
    assert "is-assigned" in response.content.decode()
    by_tag = client.get(url("portal-catalog"), {"tag": "pricing"})
    assert [a.title for a in by_tag.context["page"].object_list] == ["価格表"]
    by_kind = client.get(url("portal-catalog"), {"kind": "faq"})
    assert [a.title for a in by_kind.context["page"].object_list] == [portal["faq"].title]
    by_category = client.get(url("portal-catalog"), {"category": "営業"})
    assert [a.title for a in by_category.context["page"].object_list] == ["価格表"]
    by_text = client.get(url("portal-catalog"), {"q": "価格"})
    assert [a.title for a in by_text.context["page"].object_list] == ["価格表"]
    partial = client.get(url("portal-catalog"), {"kind": "faq"}, HTTP_HX_REQUEST="true")
    assert "<html" not in partial.content.decode() and portal["faq"].title in partial.content.decode()


def test_asset_redirects_by_kind(client, login, portal):
    login(portal["member"])
    response = client.get(url("portal-asset", portal["faq"]))
    assert response.status_code == 302 and response["Location"] == url("portal-faq-detail", portal["faq"])


def test_catalog_and_faq_query_counts_are_bounded(client, login, portal, django_assert_max_num_queries):
    tenant = portal["tenant"]
    with scope(tenant=tenant.pk):
        for i in range(30):
            f.AssetFactory(tenant=tenant, kind=["training", "document", "faq"][i % 3], tags=f",t{i % 4},", category=f"c{i % 3}")
            f.AssetFactory(tenant=tenant, kind="faq", title=f"請求書の質問 {i}", body="回答")
    login(portal["member"])
    client.get(url("portal-catalog"))
    with django_assert_max_num_queries(15):  # session, membership, tenant count + 6 own queries
        assert client.get(url("portal-catalog")).status_code == 200
    search_url = client.get(url("portal-faq"), {"q": "請求書"})["Location"]  # a new search gets its own URL
    # request overhead 9 + search 4 + the log (insert in 2 savepoints) + the per-user rate limit (database cache)
    with django_assert_max_num_queries(23):
        response = client.get(search_url)
    assert len(response.context["results"]) == 31
    with django_assert_max_num_queries(25):  # a reload: the duplicate log insert is refused and looked up
        assert client.get(search_url).status_code == 200
