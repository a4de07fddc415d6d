"""Fixtures for certifications: a tenant with two trainings required by one certification."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_scopes import scope

from enablement.certifications import services
from enablement.models import Verb
from enablement.services.log import activity_record
from tests import factories as f

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def cert_setup(tenant_a, partner_user_a, admin_a):
    """``(certification, training 1, training 2)`` in tenant A, 12 months' validity, 60-day window."""
    with scope(tenant=tenant_a.pk):
        t1 = f.AssetFactory(tenant=tenant_a, title="Product basics")
        t2 = f.AssetFactory(tenant=tenant_a, title="Pricing")
        cert = services.certification_create(
            tenant=tenant_a, actor=admin_a.user, name="Certified Seller", required_assets=[t1, t2],
            validity_months=12, renewal_window_days=60,
        )
    return cert, t1, t2


def complete(membership, asset, at, *, verb=Verb.TRAINING_COMPLETED):
    """Log a completion the way the portal does (through the log writer)."""
    with scope(tenant=membership.tenant_id):
        event, _ = activity_record(
            tenant=membership.tenant, partner=membership.partner, user=membership.user, asset=asset,
            verb=verb, occurred_at=at,
        )
    return event


def evaluate(tenant, *, now=None):
    with scope(tenant=tenant.pk):
        return services.certificates_evaluate(tenant=tenant, now=now or timezone.now())
