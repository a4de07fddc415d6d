"""A document's completion rule (view / download / reading time): the server-side reading session
that a forged heartbeat cannot shortcut, the portal's done state per rule, validation of the rule
and its lock once the document has activity."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django_scopes import scope

from enablement.forms import AssetForm
from enablement.models import ActivityEvent, Asset, AssetKind, PlaySession, Verb
from enablement.selectors.catalog import portal_assignment_rows, user_completed
from enablement.services import reading
from enablement.services.catalog import asset_update
from tests import factories as f
from tests.enablement.conftest import add_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def five_minutes(portal):
    """A document completed by 5 minutes of reading, assigned to the partner."""
    tenant = portal["tenant"]
    with scope(tenant=tenant.pk):
        doc = f.AssetFactory(tenant=tenant, kind=AssetKind.DOCUMENT, title="導入ガイド", completion_requires="time",
                             completion_min_seconds=300)
        f.AssignmentFactory(tenant=tenant, partner=portal["partner"], asset=doc)
    add_version(doc)
    return doc


@pytest.fixture
def download_doc(portal):
    tenant = portal["tenant"]
    with scope(tenant=tenant.pk):
        doc = f.AssetFactory(tenant=tenant, kind=AssetKind.DOCUMENT, title="価格表", completion_requires="download")
        f.AssignmentFactory(tenant=tenant, partner=portal["partner"], asset=doc)
    add_version(doc)
    return doc


def _url(name, asset, slug="acme"):
    return reverse(name, kwargs={"tenant_slug": slug, "asset_id": asset.pk})


def open_document(client, asset) -> str:
    response = client.get(_url("portal-document", asset))
    assert response.status_code == 200
    return response.context["reading_session"]


def beat(client, asset, token, seconds):
    return client.post(_url("portal-document-reading", asset), data=json.dumps({"session": token, "seconds": seconds}),
                       content_type="application/json")


def reads(tenant, asset=None):
    with scope(tenant=tenant.pk):
        qs = ActivityEvent.objects.filter(tenant=tenant, verb=Verb.DOCUMENT_READ)
        return list(qs.filter(asset=asset) if asset else qs)


def done_on_home(portal, asset) -> bool:
    with scope(tenant=portal["tenant"].pk):
        rows = portal_assignment_rows(tenant=portal["tenant"], partner=portal["partner"], user=portal["member"].user)
        return next(r for r in rows if r.asset.pk == asset.pk).done


# --- reading time: what cannot be forged -------------------------------------------------------------


def test_forged_reading_right_after_opening_does_not_complete(client, login, portal, five_minutes, clock):
    login(portal["member"])
    token = open_document(client, five_minutes)
    clock.advance(seconds=2)
    result = beat(client, five_minutes, token, 300).json()
    assert result["completed"] is False
    assert result["credited"] == pytest.approx(2)  # 2 s elapsed: 2 s credited, whatever was claimed
    # Many claims in the same instant add nothing: the budget is the elapsed time.
    for _ in range(10):
        assert beat(client, five_minutes, token, 60).json()["credited"] == 0
    assert reads(portal["tenant"]) == []
    assert not done_on_home(portal, five_minutes)
    # A minute later, at most a minute more.
    clock.advance(seconds=60)
    result = beat(client, five_minutes, token, 60).json()
    assert result["total"] == pytest.approx(62) and result["completed"] is False


def test_honest_reading_completes_after_the_minimum_time_exactly_once(client, login, portal, five_minutes, clock, settings):
    settings.PORTAL_LOG_RATE = "off"  # five simulated minutes of heartbeats in a second of real time
    login(portal["member"])
    token = open_document(client, five_minutes)
    answers = []
    for _ in range(20):  # 15 s heartbeats: 300 s after 20 of them
        clock.advance(seconds=15)
        answers.append(beat(client, five_minutes, token, 15).json())
        token = answers[-1]["session"]
    assert [a["completed"] for a in answers] == [False] * 19 + [True]
    assert answers[-1]["total"] == pytest.approx(300) and answers[-1]["percent"] == 100
    (read,) = reads(portal["tenant"], five_minutes)
    assert read.user_id == portal["member"].user_id and read.partner_id == portal["partner"].pk
    assert read.seconds == pytest.approx(300)
    # More reading (and a reopened page) logs nothing more: once per user and document.
    clock.advance(seconds=30)
    token = open_document(client, five_minutes)
    assert beat(client, five_minutes, token, 30).json()["completed"] is True
    assert len(reads(portal["tenant"], five_minutes)) == 1
    assert done_on_home(portal, five_minutes)
    page = client.get(_url("portal-document", five_minutes))
    assert page.context["completed"] is True


def test_reading_time_adds_up_over_visits_and_is_capped_per_heartbeat(client, login, portal, five_minutes, clock):
    login(portal["member"])
    token = open_document(client, five_minutes)
    clock.advance(seconds=200)  # the page sat hidden: the script sends nothing, the budget grows
    result = beat(client, five_minutes, token, 200).json()
    assert result["credited"] == pytest.approx(reading.MAX_BEAT_SECONDS)  # one heartbeat claims at most 60 s
    clock.advance(hours=13)  # the session ages out: a new one starts, the credited time is kept
    token = open_document(client, five_minutes)
    with scope(tenant=portal["tenant"].pk):
        assert PlaySession.objects.filter(asset=five_minutes).count() == 2
    clock.advance(seconds=240)
    total = 0.0
    for _ in range(4):
        result = beat(client, five_minutes, token, 60).json()
        total = result["total"]
    assert total == pytest.approx(300) and result["completed"] is True


def test_reading_record_is_idempotent_under_repeats(portal, five_minutes, clock):
    tenant, user = portal["tenant"], portal["member"].user
    with scope(tenant=tenant.pk):
        _session, token = reading.reading_start(tenant=tenant, user=user, asset=five_minutes)
        clock.advance(seconds=400)
        kw = {"tenant": tenant, "partner": portal["partner"], "user": user, "asset": five_minutes, "token": token}
        for _ in range(5):
            reading.reading_record(**kw, seconds=60)
        answers = [reading.reading_record(**kw, seconds=60) for _ in range(3)]
        assert all(a["completed"] for a in answers)
        assert ActivityEvent.objects.filter(tenant=tenant, verb=Verb.DOCUMENT_READ).count() == 1
        # the fixed event id refuses a second row even if two writers both saw "not done yet"
        with pytest.raises(IntegrityError), transaction.atomic():
            ActivityEvent.objects.create(
                tenant=tenant, partner=portal["partner"], user=user, asset=five_minutes, verb=Verb.DOCUMENT_READ,
                occurred_at=clock(), source="portal", event_id=reading.event_id_for(user_id=user.pk, asset_id=five_minutes.pk),
            )


def test_a_token_of_another_user_or_document_is_refused(client, login, portal, five_minutes, clock, tenant_a):
    with scope(tenant=tenant_a.pk):
        other = f.PartnerUserMembershipFactory(tenant=tenant_a, partner=portal["partner"])
        second = f.AssetFactory(tenant=tenant_a, kind=AssetKind.DOCUMENT, completion_requires="time", completion_min_seconds=10)
    login(other)
    foreign = open_document(client, five_minutes)
    login(portal["member"])
    clock.advance(seconds=30)
    assert beat(client, five_minutes, foreign, 10).status_code == 400
    mine_elsewhere = open_document(client, second)
    assert beat(client, five_minutes, mine_elsewhere, 10).status_code == 400
    assert beat(client, five_minutes, "garbage", 10).status_code == 400
    assert beat(client, five_minutes, "", 10).status_code == 400
    token = open_document(client, five_minutes)
    bodies = [json.dumps({"session": token, "seconds": bad}) for bad in (-1, "10", None, True)]
    bodies.append(json.dumps({"session": token}).replace("}", ', "seconds": 1e999}'))  # infinity
    for body in bodies:
        assert client.post(_url("portal-document-reading", five_minutes), data=body,
                           content_type="application/json").status_code == 400
    assert reads(portal["tenant"]) == []


def test_reading_endpoint_checks_tenant_visibility_kind_csrf_and_method(client, login, portal, five_minutes,
                                                                         other_tenant_assets, clock):
    login(portal["member"])
    token = open_document(client, five_minutes)
    clock.advance(seconds=30)
    # a document that is not completed by reading time: nothing to credit
    assert beat(client, portal["document"], token, 10).status_code == 400
    # a draft nobody is assigned, another tenant's document, a training: one 404
    assert beat(client, portal["draft"], token, 10).status_code == 404
    assert beat(client, other_tenant_assets["document"], token, 10).status_code == 404
    assert beat(client, portal["training"], token, 10).status_code == 404
    assert client.get(_url("portal-document-reading", five_minutes)).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(portal["member"].user)
    assert strict.post(_url("portal-document-reading", five_minutes), data=json.dumps({"session": token, "seconds": 10}),
                       content_type="application/json").status_code == 403
    # not a partner user of this tenant
    client.logout()
    assert beat(client, five_minutes, token, 10).status_code in (302, 403)
    assert reads(portal["tenant"]) == []


def test_reading_endpoint_is_rate_limited_and_refuses_before_crediting(client, login, portal, five_minutes, clock, settings):
    login(portal["member"])
    token = open_document(client, five_minutes)  # one request of the budget
    settings.PORTAL_LOG_RATE = "3/min"
    clock.advance(seconds=600)
    statuses = [beat(client, five_minutes, token, 60) for _ in range(4)]
    assert [r.status_code for r in statuses] == [200, 200, 429, 429]
    assert statuses[-1]["Retry-After"]
    assert statuses[1].json()["total"] == pytest.approx(120)  # nothing credited by the refused ones
    with scope(tenant=portal["tenant"].pk):
        assert PlaySession.objects.get(asset=five_minutes).credited_seconds == pytest.approx(120)


# --- the page says what completes the document -------------------------------------------------------


def _language(membership, code):
    membership.user.language = code
    membership.user.save(update_fields=["language"])


def test_the_document_page_says_what_completes_it(client, login, portal, five_minutes, download_doc):
    _language(portal["member"], "en")
    login(portal["member"])
    page = client.get(_url("portal-document", five_minutes)).content.decode()
    assert "Read for 5 minutes to complete." in page and "data-reading" in page and "js/reading.js" in page
    page = client.get(_url("portal-document", download_doc)).content.decode()
    assert "Download to complete." in page and "js/reading.js" not in page
    page = client.get(_url("portal-document", portal["document"])).content.decode()
    assert "Opening this document completes it." in page
    _language(portal["member"], "ja")
    page = client.get(_url("portal-document", five_minutes)).content.decode()
    assert "5分間読むと完了します。" in page
    page = client.get(_url("portal-document", download_doc)).content.decode()
    assert "ダウンロードすると完了します。" in page


# --- download rule ----------------------------------------------------------------------------------


def test_a_download_document_is_done_by_a_download_not_a_view(client, login, portal, download_doc):
    login(portal["member"])
    tenant, user = portal["tenant"], portal["member"].user
    client.get(_url("portal-document", download_doc))
    with scope(tenant=tenant.pk):
        assert not user_completed(tenant=tenant, user=user, asset=download_doc)
    assert not done_on_home(portal, download_doc)
    assert client.get(_url("portal-document-download", download_doc)).status_code == 200
    with scope(tenant=tenant.pk):
        assert user_completed(tenant=tenant, user=user, asset=download_doc)
    assert done_on_home(portal, download_doc)


def test_a_view_document_is_done_by_a_view_and_a_time_document_not_by_a_download(client, login, portal, five_minutes):
    login(portal["member"])
    tenant, user = portal["tenant"], portal["member"].user
    with scope(tenant=tenant.pk):
        f.AssignmentFactory(tenant=tenant, partner=portal["partner"], asset=portal["document"])
    client.get(_url("portal-document", portal["document"]))
    assert done_on_home(portal, portal["document"])
    client.get(_url("portal-document", five_minutes))
    client.get(_url("portal-document-download", five_minutes))
    with scope(tenant=tenant.pk):
        assert not user_completed(tenant=tenant, user=user, asset=five_minutes)
    assert not done_on_home(portal, five_minutes)


# --- the rule: validation and lock -----------------------------------------------------------------


def test_the_rule_is_validated_by_the_model_and_the_database(tenant_a):
    with scope(tenant=tenant_a.pk):
        for kind, rule, seconds, field in [
            ("document", "time", None, "completion_min_seconds"),
            ("document", "time", 0, "completion_min_seconds"),
            ("document", "view", 60, "completion_min_seconds"),
            ("document", "download", 60, "completion_min_seconds"),
            ("training", "download", None, "completion_requires"),
        ]:
            asset = Asset(tenant=tenant_a, kind=kind, title="x", completion_requires=rule, completion_min_seconds=seconds)
            with pytest.raises(ValidationError) as exc:
                asset.full_clean(exclude=["tenant", "created_by"])
            assert field in exc.value.message_dict
        Asset(tenant=tenant_a, kind="document", title="ok", completion_requires="time", completion_min_seconds=60).full_clean(
            exclude=["tenant", "created_by"])
        with pytest.raises(IntegrityError), transaction.atomic():
            Asset.objects.create(tenant=tenant_a, kind="document", title="bad", completion_requires="time")
        with pytest.raises(IntegrityError), transaction.atomic():
            Asset.objects.create(tenant=tenant_a, kind="faq", title="bad?", completion_requires="download")


def test_the_manage_form_validates_and_saves_the_rule(client, login, manager_a, tenant_a):
    with scope(tenant=tenant_a.pk):
        doc = f.AssetFactory(tenant=tenant_a, kind=AssetKind.DOCUMENT, title="提案書")
        form = AssetForm({"title": "提案書", "language": "ja", "completion_requires": "time"}, tenant=tenant_a,
                         kind="document", asset=doc)
        assert not form.is_valid() and "completion_min_seconds" in form.errors
    login(manager_a)
    url = reverse("manage-asset-edit", kwargs={"tenant_slug": tenant_a.slug, "asset_id": doc.pk})
    page = client.get(url).content.decode()
    assert 'name="completion_requires"' in page and 'name="completion_min_seconds"' in page
    r = client.post(url, {"title": "提案書", "language": "ja", "completion_requires": "time", "completion_min_seconds": "180"})
    assert r.status_code == 302
    with scope(tenant=tenant_a.pk):
        doc.refresh_from_db()
    assert (doc.completion_requires, doc.completion_min_seconds) == ("time", 180)
    client.post(url, {"title": "提案書", "language": "ja", "completion_requires": "download", "completion_min_seconds": "180"})
    with scope(tenant=tenant_a.pk):
        doc.refresh_from_db()
    assert (doc.completion_requires, doc.completion_min_seconds) == ("download", None)
    # a training's form has no document rule
    with scope(tenant=tenant_a.pk):
        assert "completion_requires" not in AssetForm(tenant=tenant_a, kind="training").fields


def test_the_rule_is_locked_once_the_document_has_activity(client, login, manager_a, portal, download_doc):
    tenant = portal["tenant"]
    login(portal["member"])
    client.get(_url("portal-document", download_doc))  # one view: history exists
    _language(manager_a, "en")
    login(manager_a)
    url = reverse("manage-asset-edit", kwargs={"tenant_slug": tenant.slug, "asset_id": download_doc.pk})
    page = client.get(url)
    form = page.context["form"]
    assert form.fields["completion_requires"].disabled and form.fields["completion_min_seconds"].disabled
    assert "already has activity" in page.content.decode()
    r = client.post(url, {"title": "価格表 v2", "language": "ja", "completion_requires": "view"})
    assert r.status_code == 302  # the other fields save; the rule stays
    with scope(tenant=tenant.pk):
        download_doc.refresh_from_db()
    assert (download_doc.title, download_doc.completion_requires) == ("価格表 v2", "download")
    # the service refuses it too (the one writer)
    with scope(tenant=tenant.pk), pytest.raises(ValidationError) as exc:
        asset_update(tenant=tenant, actor=manager_a.user, asset=download_doc, completion_requires="view")
    assert "completion_requires" in exc.value.message_dict
    # a document without activity may still change
    with scope(tenant=tenant.pk):
        fresh = f.AssetFactory(tenant=tenant, kind=AssetKind.DOCUMENT)
        asset_update(tenant=tenant, actor=manager_a.user, asset=fresh, completion_requires="time", completion_min_seconds=60)
        fresh.refresh_from_db()
        assert fresh.completion_requires == "time"


def test_the_admin_locks_the_rule_once_the_document_has_activity(client, login, admin_a, portal, download_doc):
    tenant = portal["tenant"]
    _language(admin_a, "en")
    login(admin_a)
    url = reverse("admin:enablement_asset_change", args=[download_doc.pk])
    page = client.get(url).content.decode()
    assert 'name="completion_requires"' in page
    login(portal["member"])
    client.get(_url("portal-document", download_doc))
    login(admin_a)
    page = client.get(url).content.decode()
    assert 'name="completion_requires"' not in page and "cannot be changed once the document has activity" in page
    with scope(tenant=tenant.pk):
        assert Asset.objects.get(pk=download_doc.pk).completion_requires == "download"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_heartbeats_credit_within_the_budget_and_log_document_read_once(portal, five_minutes, clock, settings):
    """Eight tabs report at the same instant: the session row lock serialises them, the credit stays
    within the elapsed time and document.read is stored once."""
    import threading

    from django.db import connections

    settings.PORTAL_LOG_RATE = "off"
    user = portal["member"].user
    opener = Client()
    opener.force_login(user)
    token = open_document(opener, five_minutes)
    clock.advance(seconds=400)
    barrier = threading.Barrier(8)
    answers, errors = [], []

    def send():
        try:
            c = Client()
            c.force_login(user)
            barrier.wait(timeout=20)
            r = beat(c, five_minutes, token, 60)
            answers.append((r.status_code, r.json()))
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert [code for code, _ in answers] == [200] * 8
    assert sum(body["credited"] for _, body in answers) == pytest.approx(400)  # 8 x 60 claimed, 400 s elapsed
    assert sum(body["completed"] for _, body in answers) >= 1
    assert len(reads(portal["tenant"], five_minutes)) == 1


def test_a_minimum_under_a_minute_is_shown_in_seconds(client, login, portal, five_minutes):
    """A 45-second minimum reads "45 seconds", not "1 minute" (the page used to round it up to a minute)."""
    user = portal["member"].user
    user.language = "en"
    user.save(update_fields=["language"])
    with scope(tenant=portal["tenant"].pk):
        Asset.objects.filter(pk=five_minutes.pk).update(completion_min_seconds=45)
    login(portal["member"])
    page = client.get(_url("portal-document", five_minutes)).content.decode()
    assert "Read for 45 seconds to complete." in page
    assert 'data-reading-left data-unit="1">45<' in page
    assert "minute" not in page.split('id="completion-heading"')[1].split("</section>")[0]
    user.language = "ja"
    user.save(update_fields=["language"])
    assert "45秒間読むと完了します。" in client.get(_url("portal-document", five_minutes)).content.decode()
    with scope(tenant=portal["tenant"].pk):
        Asset.objects.filter(pk=five_minutes.pk).update(completion_min_seconds=300)
    user.language = "en"
    user.save(update_fields=["language"])
    page = client.get(_url("portal-document", five_minutes)).content.decode()
    assert "Read for 5 minutes to complete." in page and 'data-unit="60">5<' in page


def test_home_shows_my_reading_progress(client, login, portal, five_minutes, clock, settings):
    """The portal home shows how far I have read a document completed by reading time: 2 of 5
    minutes is 40 %, never 100 % before ``document.read``, and 100 % (done) after."""
    settings.PORTAL_LOG_RATE = "off"
    login(portal["member"])
    home = reverse("portal-home", kwargs={"tenant_slug": "acme"})
    assert next(r for r in client.get(home).context["rows"] if r.asset.pk == five_minutes.pk).my_progress == 0
    token = open_document(client, five_minutes)
    for _ in range(4):
        clock.advance(seconds=30)
        beat(client, five_minutes, token, 30)
    response = client.get(home)
    row = next(r for r in response.context["rows"] if r.asset.pk == five_minutes.pk)
    assert row.my_progress == pytest.approx(40.0) and row.percent == 40 and not row.done
    assert row in response.context["next_steps"]
    for _ in range(5):  # 270 s of 300: 90 %
        clock.advance(seconds=30)
        beat(client, five_minutes, token, 30)
    row = next(r for r in client.get(home).context["rows"] if r.asset.pk == five_minutes.pk)
    assert row.my_progress == pytest.approx(90.0) and not row.my_done
    clock.advance(seconds=30)
    assert beat(client, five_minutes, token, 30).json()["completed"] is True
    row = next(r for r in client.get(home).context["rows"] if r.asset.pk == five_minutes.pk)
    assert row.my_done and row.my_progress == 100.0 and row.percent == 100
