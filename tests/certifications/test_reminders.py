"""Reminders before expiry: 30 and 7 days, in the holder's language, each sent once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django_scopes import scope

from enablement.certifications import services
from enablement.certifications.models import CertificateReminder
from enablement.certifications.tasks import certifications_nightly_all_tenants
from tests.certifications.conftest import T0, complete, evaluate

pytestmark = pytest.mark.django_db


@pytest.fixture
def certificate(cert_setup, tenant_a, partner_user_a):
    cert, t1, t2 = cert_setup
    complete(partner_user_a, t1, T0)
    complete(partner_user_a, t2, T0)
    [c] = evaluate(tenant_a)
    return c


def send(tenant, at):
    with scope(tenant=tenant.pk):
        return services.certificate_reminders_send(tenant=tenant, now=at)


def test_30_and_7_day_reminders_each_once(certificate, tenant_a, partner_user_a):
    assert send(tenant_a, certificate.expires_at - dt.timedelta(days=31)) == 0
    assert send(tenant_a, certificate.expires_at - dt.timedelta(days=29)) == 1
    assert send(tenant_a, certificate.expires_at - dt.timedelta(days=28)) == 0  # not again
    assert send(tenant_a, certificate.expires_at - dt.timedelta(days=6)) == 1
    assert send(tenant_a, certificate.expires_at - dt.timedelta(days=5)) == 0
    assert send(tenant_a, certificate.expires_at + dt.timedelta(days=1)) == 0  # expired: no mail
    assert len(mail.outbox) == 2 and mail.outbox[0].to == [partner_user_a.user.email]
    with scope(tenant=tenant_a.pk):
        assert sorted(CertificateReminder.objects.values_list("days_before", flat=True)) == [7, 30]


def test_first_seen_inside_7_days_sends_one_mail(certificate, tenant_a):
    assert send(tenant_a, certificate.expires_at - dt.timedelta(days=3)) == 1
    assert send(tenant_a, certificate.expires_at - dt.timedelta(days=2)) == 0
    assert len(mail.outbox) == 1


def test_in_the_holders_language(certificate, tenant_a, partner_user_a):
    partner_user_a.user.language = "ja"
    partner_user_a.user.save(update_fields=["language"])
    send(tenant_a, certificate.expires_at - dt.timedelta(days=10))
    message = mail.outbox[0]
    assert "まもなく" in message.subject and "Certified Seller" in message.subject
    assert "有効期限" in message.body
    partner_user_a.user.language = "en"
    partner_user_a.user.save(update_fields=["language"])
    send(tenant_a, certificate.expires_at - dt.timedelta(days=5))
    assert "expires soon" in mail.outbox[1].subject


def test_renewed_certificate_gets_no_reminder(certificate, tenant_a, partner_user_a, cert_setup):
    _cert, t1, t2 = cert_setup
    at = certificate.expires_at - dt.timedelta(days=40)
    complete(partner_user_a, t1, at)
    complete(partner_user_a, t2, at)
    evaluate(tenant_a, now=at)
    assert send(tenant_a, certificate.expires_at - dt.timedelta(days=20)) == 0


def test_failed_send_is_not_recorded(certificate, tenant_a, monkeypatch):
    def boom(**kwargs):
        raise OSError("mail server down")

    monkeypatch.setattr(services, "_remind", boom)
    assert send(tenant_a, certificate.expires_at - dt.timedelta(days=20)) == 0
    with scope(tenant=tenant_a.pk):
        assert not CertificateReminder.objects.exists()


def test_nightly_beat_entry_fans_out(certificate, tenant_a):
    assert certifications_nightly_all_tenants.apply().get() >= 1


def test_beat_schedule_has_the_nightly_entry(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["certifications-nightly"]
    assert entry["task"] == "certifications.tasks.certifications_nightly_all_tenants"
    assert entry["options"]["expires"] > 0
