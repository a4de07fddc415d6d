"""Notifications: one in-app notice and one mail per event, also when the mail task is retried;
preferences; the login-free unsubscribe link (only its kind); no leak between tenants."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope

from enablement.models import AssetKind, AssetStatus, FaqQuestion, Verb
from enablement.services.catalog import asset_publish, assignment_create
from enablement.services.faq import faq_question_create, faq_question_link_answer
from enablement.tasks import overdue_assignments_notify_tenant
from partners.deals.models import DealStage
from partners.deals.services import deal_transition
from partners.notifications.models import EmailState, Notification, NotificationKind, NotificationPreference
from partners.notifications.services import notification_preferences_set, notify
from partners.notifications.tasks import notification_emails_send
from tests import factories as f

pytestmark = pytest.mark.django_db


def _retry_all(tenant):
    """Run the mail task again over every notification, as a redelivered task would."""
    with scope(tenant=tenant.pk):
        ids = list(Notification.objects.filter(tenant=tenant).values_list("pk", flat=True))
    return notification_emails_send(tenant.pk, ids)


def _assign(tenant, partner, manager, capture, **kwargs):
    with scope(tenant=tenant.pk), capture(execute=True):
        asset = f.AssetFactory(tenant=tenant, title="Security basics", status=AssetStatus.PUBLISHED)
        return assignment_create(
            tenant=tenant, actor=manager.user, target="partner", partner=partner, asset=asset,
            due_on=timezone.localdate() + dt.timedelta(days=7), **kwargs,
        )


def test_new_assignment_one_notice_one_mail_even_after_retry(tenant_a, partner_user_a, manager_a,
                                                              django_capture_on_commit_callbacks):
    assignment = _assign(tenant_a, partner_user_a.partner, manager_a, django_capture_on_commit_callbacks)
    with scope(tenant=tenant_a.pk):
        notes = list(Notification.objects.filter(tenant=tenant_a))
    assert len(notes) == 1
    note = notes[0]
    assert note.recipient_id == partner_user_a.user_id
    assert note.kind == NotificationKind.ASSIGNMENT_NEW
    assert note.dedupe_key == f"assignment.new:{assignment.pk}"
    assert note.email_state == EmailState.SENT
    assert "Security basics" in note.title
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [partner_user_a.user.email]

    assert _retry_all(tenant_a) == 0  # the retried task sends nothing
    with scope(tenant=tenant_a.pk), django_capture_on_commit_callbacks(execute=True):
        from enablement.notices import assignments_notify

        assignments_notify(tenant=tenant_a, assignment_ids=[assignment.pk])  # the event notified twice
        assert Notification.objects.filter(tenant=tenant_a).count() == 1
    assert len(mail.outbox) == 1


def test_mail_in_recipients_language_with_unsubscribe_link(tenant_a, partner_user_a, manager_a,
                                                           django_capture_on_commit_callbacks):
    # tenant_a's default language is Japanese; the user has no language of their own.
    _assign(tenant_a, partner_user_a.partner, manager_a, django_capture_on_commit_callbacks)
    message = mail.outbox[0]
    assert "新しい割り当て" in message.subject
    assert "Security basics" in message.subject
    assert "/notifications/unsubscribe/" in message.body
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    user = partner_user_a.user
    user.language = "en"
    user.save(update_fields=["language"])
    _assign(tenant_a, partner_user_a.partner, manager_a, django_capture_on_commit_callbacks)
    assert "New assignment" in mail.outbox[1].subject


def test_tier_assignment_reaches_every_partner_user_of_the_tier(tenant_a, manager_a, make_member,
                                                                django_capture_on_commit_callbacks):
    with scope(tenant=tenant_a.pk):
        tier = f.PartnerTierFactory(tenant=tenant_a)
        p1, p2 = f.PartnerFactory(tenant=tenant_a, tier=tier), f.PartnerFactory(tenant=tenant_a, tier=tier)
        other = f.PartnerFactory(tenant=tenant_a)
    members = [make_member(tenant_a, "partner_user", partner=p) for p in (p1, p1, p2, other)]
    with scope(tenant=tenant_a.pk), django_capture_on_commit_callbacks(execute=True):
        asset = f.AssetFactory(tenant=tenant_a, status=AssetStatus.PUBLISHED)
        assignment_create(tenant=tenant_a, actor=manager_a.user, target="tier", tier=tier, asset=asset,
                          due_on=timezone.localdate() + dt.timedelta(days=3))
        got = set(Notification.objects.values_list("recipient_id", flat=True))
    assert got == {m.user_id for m in members[:3]}
    assert len(mail.outbox) == 3


def test_overdue_daily_task_is_deduped(tenant_a, partner_user_a, manager_a, make_member,
                                       django_capture_on_commit_callbacks):
    second = make_member(tenant_a, "partner_user", partner=partner_user_a.partner)
    with scope(tenant=tenant_a.pk):
        late = f.AssignmentFactory(tenant=tenant_a, partner=partner_user_a.partner,
                                   due_on=timezone.localdate() - dt.timedelta(days=2))
        done = f.AssignmentFactory(tenant=tenant_a, partner=partner_user_a.partner,
                                   asset__kind=AssetKind.DOCUMENT,
                                   due_on=timezone.localdate() - dt.timedelta(days=2))
        f.ActivityEventFactory(tenant=tenant_a, partner=partner_user_a.partner, user=partner_user_a.user,
                               asset=done.asset, verb=Verb.DOCUMENT_VIEWED)
        f.AssignmentFactory(tenant=tenant_a, partner=partner_user_a.partner)  # not due yet
    for _ in range(2):  # two daily runs (or a retry)
        with django_capture_on_commit_callbacks(execute=True):
            overdue_assignments_notify_tenant(tenant_a.pk)
    with scope(tenant=tenant_a.pk):
        notes = list(Notification.objects.filter(kind=NotificationKind.ASSIGNMENT_OVERDUE))
    assert {n.recipient_id for n in notes} == {partner_user_a.user_id, second.user_id}
    assert {n.dedupe_key for n in notes} == {f"assignment.overdue:{late.pk}:{partner_user_a.partner_id}"}
    assert len(mail.outbox) == 2
    assert _retry_all(tenant_a) == 0
    assert len(mail.outbox) == 2


@pytest.mark.parametrize(("stage", "title"), [
    (DealStage.APPROVED, "Deal approved"), (DealStage.REJECTED, "Deal rejected"),
    (DealStage.RETURNED, "Deal returned for changes"),
])
def test_deal_decision_notifies_the_registering_user(tenant_a, partner_user_a, manager_a, stage, title,
                                                     django_capture_on_commit_callbacks):
    user = partner_user_a.user
    user.language = "en"
    user.save(update_fields=["language"])
    with scope(tenant=tenant_a.pk), django_capture_on_commit_callbacks(execute=True):
        deal = f.DealFactory(tenant=tenant_a, partner=partner_user_a.partner, registered_by=user, customer="Tohto Bank")
        reason = "" if stage == DealStage.APPROVED else "Another partner registered it first"
        deal_transition(tenant=tenant_a, deal=deal, stage=stage, reason=reason, actor=manager_a.user)
        notes = list(Notification.objects.all())
    assert len(notes) == 1 and notes[0].recipient_id == user.pk
    assert notes[0].title == f"{title}: Tohto Bank"
    assert (reason in notes[0].body) if reason else ("Reason" not in notes[0].body)
    assert len(mail.outbox) == 1
    assert _retry_all(tenant_a) == 0
    assert len(mail.outbox) == 1


def test_won_deal_sends_nothing(tenant_a, partner_user_a, manager_a, django_capture_on_commit_callbacks):
    with scope(tenant=tenant_a.pk), django_capture_on_commit_callbacks(execute=True):
        deal = f.DealFactory(tenant=tenant_a, partner=partner_user_a.partner, registered_by=partner_user_a.user,
                             stage=DealStage.APPROVED)
        deal_transition(tenant=tenant_a, deal=deal, stage=DealStage.WON, actor=manager_a.user)
        assert not Notification.objects.exists()
    assert mail.outbox == []


def test_published_faq_answers_the_asker(tenant_a, partner_user_a, manager_a, django_capture_on_commit_callbacks):
    with scope(tenant=tenant_a.pk), django_capture_on_commit_callbacks(execute=True):
        question = faq_question_create(tenant=tenant_a, partner=partner_user_a.partner, user=partner_user_a.user,
                                       query="MDF 申請", message="MDFの申請方法は？")
        faq = f.AssetFactory(tenant=tenant_a, kind=AssetKind.FAQ, status=AssetStatus.DRAFT, title="MDFの申請方法")
        faq_question_link_answer(tenant=tenant_a, question=question, asset=faq, actor=manager_a.user)
        assert not Notification.objects.exists()
        asset_publish(tenant=tenant_a, actor=manager_a.user, asset=faq)
        asset_publish(tenant=tenant_a, actor=manager_a.user, asset=faq)  # published again: nothing new
        notes = list(Notification.objects.all())
        assert FaqQuestion.objects.get(pk=question.pk).status == "answered"
    assert len(notes) == 1
    assert notes[0].kind == NotificationKind.FAQ_ANSWERED and notes[0].recipient_id == partner_user_a.user_id
    assert "MDFの申請方法" in notes[0].title
    assert len(mail.outbox) == 1
    assert _retry_all(tenant_a) == 0
    assert len(mail.outbox) == 1


def test_preferences_are_respected(tenant_a, partner_user_a, manager_a, django_capture_on_commit_callbacks):
    with scope(tenant=tenant_a.pk):
        notification_preferences_set(tenant=tenant_a, user=partner_user_a.user, choices={
            NotificationKind.ASSIGNMENT_NEW: (True, False),
            NotificationKind.DEAL_DECISION: (False, True),
            NotificationKind.FAQ_ANSWERED: (False, False),
        })
    _assign(tenant_a, partner_user_a.partner, manager_a, django_capture_on_commit_callbacks)
    assert mail.outbox == []  # in-app only
    with scope(tenant=tenant_a.pk), django_capture_on_commit_callbacks(execute=True):
        deal = f.DealFactory(tenant=tenant_a, partner=partner_user_a.partner, registered_by=partner_user_a.user)
        deal_transition(tenant=tenant_a, deal=deal, stage=DealStage.APPROVED, actor=manager_a.user)
        notify(tenant=tenant_a, recipients=[partner_user_a.user], kind=NotificationKind.FAQ_ANSWERED,
               title="x", dedupe_key="faq.answered:test")
        rows = {n.kind: n for n in Notification.objects.all()}
    assert set(rows) == {NotificationKind.ASSIGNMENT_NEW, NotificationKind.DEAL_DECISION}  # both off: no row
    assert rows[NotificationKind.ASSIGNMENT_NEW].in_app and rows[NotificationKind.ASSIGNMENT_NEW].email_state == "skipped"
    assert not rows[NotificationKind.DEAL_DECISION].in_app  # e-mail only: not in the centre
    assert len(mail.outbox) == 1
    c = _login_client(partner_user_a)
    page = c.get(reverse("notification-centre", kwargs={"tenant_slug": tenant_a.slug})).content.decode()
    assert "Security basics" in page and "Tohto" not in page


def _login_client(membership):
    from django.test import Client

    c = Client()
    c.force_login(membership.user)
    return c


def test_preferences_page_saves(tenant_a, partner_user_a):
    c = _login_client(partner_user_a)
    url = reverse("notification-preferences", kwargs={"tenant_slug": tenant_a.slug})
    page = c.get(url)
    assert page.status_code == 200 and "通知設定" in page.content.decode()
    data = {f"{k}:in_app": "on" for k in NotificationKind.values}
    data[f"{NotificationKind.ASSIGNMENT_NEW}:email"] = "on"
    assert c.post(url, data).status_code == 302
    with scope(tenant=tenant_a.pk):
        prefs = {p.kind: (p.in_app, p.email) for p in NotificationPreference.objects.filter(user=partner_user_a.user)}
    assert prefs[NotificationKind.ASSIGNMENT_NEW] == (True, True)
    assert prefs[NotificationKind.DEAL_DECISION] == (True, False)


def test_unsubscribe_link_works_without_login_and_only_for_its_kind(tenant_a, partner_user_a, manager_a, client,
                                                                     django_capture_on_commit_callbacks):
    _assign(tenant_a, partner_user_a.partner, manager_a, django_capture_on_commit_callbacks)
    link = re.search(r"https?://\S+/notifications/unsubscribe/\S+/", mail.outbox[0].body).group(0)
    path = link.split("://", 1)[1].split("/", 1)[1]
    page = client.get("/" + path)  # anonymous
    assert page.status_code == 200 and "配信停止" in page.content.decode()
    with scope(tenant=tenant_a.pk):
        assert not NotificationPreference.objects.exists()  # GET changes nothing (link scanners)
    assert client.post("/" + path).status_code == 200  # one click (also what a mail client's POST does)
    assert client.get("/" + path[:-5] + "xxxx/").status_code == 404  # a forged token
    mail.outbox.clear()
    _assign(tenant_a, partner_user_a.partner, manager_a, django_capture_on_commit_callbacks)
    assert mail.outbox == []  # no more mail of that kind
    with scope(tenant=tenant_a.pk), django_capture_on_commit_callbacks(execute=True):
        deal = f.DealFactory(tenant=tenant_a, partner=partner_user_a.partner, registered_by=partner_user_a.user)
        deal_transition(tenant=tenant_a, deal=deal, stage=DealStage.APPROVED, actor=manager_a.user)
        assert Notification.objects.filter(kind=NotificationKind.ASSIGNMENT_NEW).count() == 2  # still in-app
    assert len(mail.outbox) == 1  # other kinds still mailed


def test_centre_two_tenants_no_leak(tenant_a, tenant_b, partner_user_a, partner_user_b, make_member):
    with scope(tenant=tenant_a.pk):
        mine = notify(tenant=tenant_a, recipients=[partner_user_a.user], kind=NotificationKind.FAQ_ANSWERED,
                      title="Acme notice", dedupe_key="a")[0]
    with scope(tenant=tenant_b.pk):
        theirs = notify(tenant=tenant_b, recipients=[partner_user_b.user], kind=NotificationKind.FAQ_ANSWERED,
                        title="Globex notice", dedupe_key="a")[0]
    # The same person in both tenants sees only the tenant's own notices in each.
    both = make_member(tenant_b, "partner_user", user=partner_user_a.user)
    with scope(tenant=tenant_b.pk):
        notify(tenant=tenant_b, recipients=[both.user], kind=NotificationKind.FAQ_ANSWERED,
               title="Globex for A", dedupe_key="a")
    c = _login_client(partner_user_a)
    page_a = c.get(reverse("notification-centre", kwargs={"tenant_slug": "acme"})).content.decode()
    assert "Acme notice" in page_a and "Globex" not in page_a
    page_b = c.get(reverse("notification-centre", kwargs={"tenant_slug": "globex"})).content.decode()
    assert "Globex for A" in page_b and "Acme notice" not in page_b and "Globex notice" not in page_b
    bell = c.get(reverse("notification-bell", kwargs={"tenant_slug": "acme"})).content.decode()
    assert 'data-testid="bell-count">1<' in bell
    # Marking another tenant's / person's notice read does nothing.
    c.post(reverse("notification-read", kwargs={"tenant_slug": "acme", "notification_id": theirs}))
    with scope(tenant=tenant_b.pk):
        assert Notification.objects.get(pk=theirs).read_at is None
    c.post(reverse("notification-read", kwargs={"tenant_slug": "acme", "notification_id": mine}))
    with scope(tenant=tenant_a.pk):
        assert Notification.objects.get(pk=mine).read_at is not None
    bell = c.get(reverse("notification-bell", kwargs={"tenant_slug": "acme"})).content.decode()
    assert "bell-count" not in bell


def test_header_bell_on_portal_and_manage(tenant_a, partner_user_a, manager_a):
    for member, url in ((partner_user_a, "portal-home"), (manager_a, "notification-centre")):
        with scope(tenant=tenant_a.pk):
            notify(tenant=tenant_a, recipients=[member.user], kind=NotificationKind.FAQ_ANSWERED,
                   title="Hello", dedupe_key="hello")
        page = _login_client(member).get(reverse(url, kwargs={"tenant_slug": "acme"})).content.decode()
        assert 'id="notification-bell"' in page and 'data-testid="bell-count">1<' in page


def test_mark_all_read_htmx_partial(tenant_a, partner_user_a):
    with scope(tenant=tenant_a.pk):
        for i in range(3):
            notify(tenant=tenant_a, recipients=[partner_user_a.user], kind=NotificationKind.FAQ_ANSWERED,
                   title=f"N{i}", dedupe_key=f"n{i}")
    c = _login_client(partner_user_a)
    r = c.post(reverse("notification-read-all", kwargs={"tenant_slug": "acme"}), HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and r["HX-Trigger"] == "notifications-changed"
    assert 'id="notification-list"' in r.content.decode() and "<html" not in r.content.decode()
    with scope(tenant=tenant_a.pk):
        assert not Notification.objects.filter(read_at__isnull=True).exists()


def test_expiring_registration_reminds_the_registering_user_once(tenant_a, partner_user_a,
                                                                 django_capture_on_commit_callbacks):
    from partners.deals.services import DEAL_EXPIRY_REMINDER_DAYS, deal_expire_due

    today = timezone.localdate()
    with scope(tenant=tenant_a.pk):
        deal = f.DealFactory(tenant=tenant_a, partner=partner_user_a.partner, registered_by=partner_user_a.user,
                             customer="東都銀行", expires_on=today + dt.timedelta(days=DEAL_EXPIRY_REMINDER_DAYS))
    for _ in range(2):  # the daily task run twice (a retry)
        with scope(tenant=tenant_a.pk), django_capture_on_commit_callbacks(execute=True):
            deal_expire_due(tenant=tenant_a, today=today)
    with scope(tenant=tenant_a.pk):
        notes = list(Notification.objects.filter(kind=NotificationKind.DEAL_EXPIRING))
    assert len(notes) == 1 and notes[0].recipient_id == partner_user_a.user_id
    assert notes[0].title == f"案件登録の期限まであと {DEAL_EXPIRY_REMINDER_DAYS} 日：東都銀行"
    assert notes[0].dedupe_key == f"deal.expiring:{deal.pk}:{deal.expires_on.isoformat()}"
    assert len(mail.outbox) == 1
