"""A manager assigns an asset in the browser; the partner user sees one notification (bell count 1)
and one mail is in the outbox — still one after the mail task is run again (a retry).
Screenshot of the notification centre in Japanese: artifacts/screenshots/notifications_centre_ja.png."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone
from django_scopes import scope

from enablement.models import AssetStatus
from partners.notifications.models import Notification
from partners.notifications.tasks import notification_emails_send
from tests import factories as f
from tests.e2e.conftest import SHOTS, open_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _login(page, base_url, member):
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=login]", member.user.email)
    page.fill("input[name=password]", f.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def test_assignment_notification_appears_once_after_mail_retry(live_server, tenant_a, manager_a, partner_user_a):
    tenant, partner = tenant_a, partner_user_a.partner
    with scope(tenant=tenant.pk):
        asset = f.AssetFactory(tenant=tenant, title="セキュリティ基礎トレーニング", status=AssetStatus.PUBLISHED)
        older = f.AssetFactory(tenant=tenant, title="提案書テンプレート", status=AssetStatus.PUBLISHED)
    due = (timezone.localdate() + dt.timedelta(days=10)).isoformat()
    with open_page(locale="ja-JP") as (page, errors, external):
        _login(page, live_server.url, manager_a)
        page.goto(f"{live_server.url}/t/{tenant.slug}/manage/assignments/new/")
        page.select_option("select[name=asset]", str(asset.pk))
        page.select_option("select[name=target]", "partner")
        page.select_option("select[name=partner]", str(partner.pk))
        page.fill("input[name=due_on]", due)
        page.locator("main form button[type=submit]").last.click()
        page.wait_for_load_state("networkidle")
    with scope(tenant=tenant.pk):
        ids = list(Notification.objects.filter(tenant=tenant).values_list("pk", flat=True))
        # An older, read notice from an earlier assignment, so the centre shows read and unread rows.
        f.AssignmentFactory(tenant=tenant, asset=older, partner=partner)
        Notification.objects.create(tenant=tenant, recipient=partner_user_a.user, kind="deal.decision",
                                    title="案件が承認されました：東都銀行", body="Shien Cloud · 1,000,000 JPY",
                                    dedupe_key="deal.decision:demo", email_state="sent",
                                    created_at=timezone.now() - dt.timedelta(days=1), read_at=timezone.now())
    assert len(ids) == 1
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [partner_user_a.user.email]
    assert notification_emails_send(tenant.pk, ids) == 0  # the retried task sends nothing
    assert len(mail.outbox) == 1

    with open_page(locale="ja-JP") as (page, errors, external):
        _login(page, live_server.url, partner_user_a)
        page.goto(f"{live_server.url}/t/{tenant.slug}/portal/")
        assert page.locator("[data-testid=bell-count]").inner_text() == "1"
        page.click("#notification-bell")
        page.wait_for_load_state("networkidle")
        rows = page.locator("[data-testid=notification]")
        assert rows.count() == 2
        assert page.locator(".notification.unread").count() == 1
        assert "新しい割り当て：セキュリティ基礎トレーニング" in page.locator(".notification.unread").inner_text()
        page.screenshot(path=str(SHOTS / "notifications_centre_ja.png"), full_page=True)
        # Opening it marks it read and goes to the asset.
        page.locator(".notification.unread button").click()
        page.wait_for_load_state("networkidle")
        assert f"/portal/assets/{asset.pk}/" in page.url or f"/portal/trainings/{asset.pk}/" in page.url
        assert page.locator("[data-testid=bell-count]").count() == 0
        page.goto(f"{live_server.url}/t/{tenant.slug}/notifications/settings/")
        page.screenshot(path=str(SHOTS / "notifications_settings_ja.png"), full_page=True)
        assert errors == [] and external == []
