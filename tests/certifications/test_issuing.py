"""Certificates are earned exactly when the requirements are met, expire, renew and can be revoked."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django_scopes import scope

from enablement.certifications import services
from enablement.certifications.models import Certificate, CertificateStatus
from enablement.certifications.selectors import partner_coverage
from enablement.models import AssetKind, Verb
from enablement.services.log import activity_record
from partners.models import AuditEvent
from tests import factories as f
from tests.certifications.conftest import T0, complete, evaluate

pytestmark = pytest.mark.django_db


def certs(tenant, **filters):
    with scope(tenant=tenant.pk):
        return list(Certificate.objects.filter(tenant=tenant, **filters).order_by("sequence"))


def test_not_before_every_requirement_is_met(cert_setup, tenant_a, partner_user_a):
    cert, t1, t2 = cert_setup
    complete(partner_user_a, t1, T0)
    assert evaluate(tenant_a) == []
    assert certs(tenant_a) == []
    complete(partner_user_a, t2, T0 + dt.timedelta(days=3, hours=2))
    issued = evaluate(tenant_a)
    assert len(issued) == 1
    c = issued[0]
    assert c.holder_id == partner_user_a.user_id and c.partner_id == partner_user_a.partner_id
    # issued at the instant the last requirement was met — not before, not at evaluation time
    assert c.issued_at == T0 + dt.timedelta(days=3, hours=2)
    assert c.expires_at == dt.datetime(2027, 3, 5, 11, 0, tzinfo=dt.UTC)
    assert c.sequence == 1 and c.previous is None and len(c.code) >= 24


def test_evaluating_as_of_an_earlier_instant_does_not_issue(cert_setup, tenant_a, partner_user_a):
    cert, t1, t2 = cert_setup
    complete(partner_user_a, t1, T0)
    complete(partner_user_a, t2, T0 + dt.timedelta(days=1))
    assert evaluate(tenant_a, now=T0 + dt.timedelta(hours=23)) == []
    assert len(evaluate(tenant_a, now=T0 + dt.timedelta(days=1))) == 1


def test_idempotent_and_another_persons_completions_do_not_count(cert_setup, tenant_a, partner_user_a, make_member):
    cert, t1, t2 = cert_setup
    colleague = make_member(tenant_a, "partner_user", partner=partner_user_a.partner)
    complete(partner_user_a, t1, T0)
    complete(colleague, t2, T0)  # the partner did both, but no single person did
    assert evaluate(tenant_a) == []
    complete(partner_user_a, t2, T0 + dt.timedelta(hours=1))
    assert len(evaluate(tenant_a)) == 1
    assert evaluate(tenant_a) == []  # a second run issues nothing
    assert len(certs(tenant_a)) == 1


def test_completion_rule_is_generic_over_asset_kinds(tenant_a, partner_user_a, admin_a):
    """A document counts through its own completion rule (viewed/downloaded), like a training."""
    with scope(tenant=tenant_a.pk):
        doc = f.AssetFactory(tenant=tenant_a, kind=AssetKind.DOCUMENT, title="Price list")
        services.certification_create(tenant=tenant_a, actor=admin_a.user, name="Docs", required_assets=[doc])
    complete(partner_user_a, doc, T0, verb=Verb.DOCUMENT_VIEWED)
    assert len(evaluate(tenant_a)) == 1


def test_starting_a_training_is_not_completing_it(cert_setup, tenant_a, partner_user_a):
    cert, t1, t2 = cert_setup
    complete(partner_user_a, t1, T0)
    complete(partner_user_a, t2, T0, verb=Verb.TRAINING_STARTED)
    assert evaluate(tenant_a) == []


def test_untrusted_completion_does_not_count(cert_setup, tenant_a, partner_user_a):
    cert, t1, t2 = cert_setup
    complete(partner_user_a, t1, T0)
    with scope(tenant=tenant_a.pk):
        f.ActivityEventFactory(
            tenant=tenant_a, partner=partner_user_a.partner, user=partner_user_a.user, asset=t2,
            verb=Verb.TRAINING_COMPLETED, occurred_at=T0, trusted=False,
        )
    assert evaluate(tenant_a) == []


def test_logged_completion_issues_on_commit(cert_setup, tenant_a, partner_user_a, django_capture_on_commit_callbacks):
    cert, t1, t2 = cert_setup
    complete(partner_user_a, t1, T0)
    with django_capture_on_commit_callbacks(execute=True) as callbacks, scope(tenant=tenant_a.pk):
        activity_record(tenant=tenant_a, partner=partner_user_a.partner, user=partner_user_a.user, asset=t2,
                        verb=Verb.TRAINING_COMPLETED, occurred_at=T0 + dt.timedelta(minutes=5))
    assert len(callbacks) == 1
    [c] = certs(tenant_a)
    assert c.issued_at == T0 + dt.timedelta(minutes=5)


def test_expired_certificate_stops_counting(cert_setup, tenant_a, partner_user_a):
    cert, t1, t2 = cert_setup
    complete(partner_user_a, t1, T0)
    complete(partner_user_a, t2, T0)
    [c] = evaluate(tenant_a)
    pid, tier = partner_user_a.partner_id, partner_user_a.partner.tier_id
    with scope(tenant=tenant_a.pk):
        before = partner_coverage(tenant=tenant_a, partners=[(pid, tier)], at=c.expires_at - dt.timedelta(seconds=1))
        after = partner_coverage(tenant=tenant_a, partners=[(pid, tier)], at=c.expires_at)
    assert before[pid].certified_people == 1 and before[pid].meets
    assert after[pid].certified_people == 0 and not after[pid].meets
    assert c.status(c.expires_at) == CertificateStatus.EXPIRED


def test_old_completions_do_not_renew_new_ones_do(cert_setup, tenant_a, partner_user_a):
    cert, t1, t2 = cert_setup
    complete(partner_user_a, t1, T0)
    complete(partner_user_a, t2, T0)
    [first] = evaluate(tenant_a)
    # Completing again before the renewal window opens (60 days before expiry) does not renew.
    complete(partner_user_a, t1, first.expires_at - dt.timedelta(days=90))
    complete(partner_user_a, t2, first.expires_at - dt.timedelta(days=90))
    assert evaluate(tenant_a, now=first.expires_at - dt.timedelta(days=50)) == []
    # Inside the window: only t1 again → not yet; then t2 → renewed, continuing the chain.
    complete(partner_user_a, t1, first.expires_at - dt.timedelta(days=30))
    assert evaluate(tenant_a, now=first.expires_at - dt.timedelta(days=29)) == []
    renewed_at = first.expires_at - dt.timedelta(days=20)
    complete(partner_user_a, t2, renewed_at)
    [second] = evaluate(tenant_a, now=renewed_at)
    assert second.sequence == 2 and second.previous_id == first.pk
    assert second.issued_at == renewed_at
    assert second.expires_at == services.add_months(first.expires_at, 12)  # no time lost by renewing early
    assert evaluate(tenant_a) == []


def test_renewal_after_expiry_starts_from_the_new_issue(cert_setup, tenant_a, partner_user_a):
    cert, t1, t2 = cert_setup
    complete(partner_user_a, t1, T0)
    complete(partner_user_a, t2, T0)
    [first] = evaluate(tenant_a)
    late = first.expires_at + dt.timedelta(days=10)
    complete(partner_user_a, t1, late)
    complete(partner_user_a, t2, late)
    [second] = evaluate(tenant_a, now=late)
    assert second.expires_at == services.add_months(late, 12)


def test_revocation_is_audited_and_needs_new_completions(cert_setup, tenant_a, partner_user_a, admin_a):
    cert, t1, t2 = cert_setup
    complete(partner_user_a, t1, T0)
    complete(partner_user_a, t2, T0)
    [c] = evaluate(tenant_a)
    with scope(tenant=tenant_a.pk):
        with pytest.raises(ValidationError):
            services.certificate_revoke(tenant=tenant_a, certificate=c, reason="  ", actor=admin_a.user)
        services.certificate_revoke(tenant=tenant_a, certificate=c, reason="Shared account", actor=admin_a.user)
        c.refresh_from_db()
        audit = AuditEvent.objects.get(tenant=tenant_a, action="certificate.revoked")
    assert c.status() == CertificateStatus.REVOKED and c.revoked_by == admin_a.user
    assert audit.after["reason"] == "Shared account" and audit.actor == admin_a.user
    assert evaluate(tenant_a) == []  # the old completions do not earn it back
    now = c.revoked_at + dt.timedelta(hours=1)
    complete(partner_user_a, t1, now)
    complete(partner_user_a, t2, now)
    [again] = evaluate(tenant_a, now=now)
    assert again.sequence == 2 and again.expires_at == services.add_months(now, 12)


def test_only_one_certificate_per_chain_position(cert_setup, tenant_a, partner_user_a):
    cert, t1, t2 = cert_setup
    complete(partner_user_a, t1, T0)
    complete(partner_user_a, t2, T0)
    [c] = evaluate(tenant_a)
    with scope(tenant=tenant_a.pk), pytest.raises(IntegrityError), transaction.atomic():
        Certificate.objects.create(
            tenant=tenant_a, certification=cert, holder=c.holder, partner=c.partner, sequence=1,
            issued_at=c.issued_at, expires_at=c.expires_at, renewable_from=c.renewable_from,
        )


def test_inactive_certification_issues_nothing(cert_setup, tenant_a, partner_user_a, admin_a):
    cert, t1, t2 = cert_setup
    with scope(tenant=tenant_a.pk):
        services.certification_update(tenant=tenant_a, actor=admin_a.user, certification=cert,
                                      required_assets=[t1, t2], is_active=False)
    complete(partner_user_a, t1, T0)
    complete(partner_user_a, t2, T0)
    assert evaluate(tenant_a) == []


def test_requirements_must_have_a_completion_rule_and_be_the_tenants(tenant_a, tenant_b, admin_a, no_scope):
    other = f.AssetFactory(tenant=tenant_b)
    with scope(tenant=tenant_a.pk), pytest.raises(ValidationError):
        services.certification_create(tenant=tenant_a, actor=admin_a.user, name="X", required_assets=[other])
    with scope(tenant=tenant_a.pk), pytest.raises(ValidationError):
        services.certification_create(tenant=tenant_a, actor=admin_a.user, name="X", required_assets=[])


def test_evaluation_is_per_tenant(cert_setup, tenant_a, tenant_b, partner_user_a, partner_user_b):
    cert, t1, t2 = cert_setup
    complete(partner_user_a, t1, T0)
    complete(partner_user_a, t2, T0)
    assert evaluate(tenant_b) == []
    with scope(tenant=tenant_b.pk):
        assert not Certificate.objects.filter(tenant=tenant_b).exists()
