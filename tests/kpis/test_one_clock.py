"""One clock: ``received_at`` comes from the database's clock, the rollup watermark is capped at
the database's own now, and the nightly job recomputes recent days of facts and states, so an
event dated ahead of the clock (a web node whose clock runs ahead, old rows) loses nothing."""

from __future__ import annotations

import datetime as dt
import time
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone

from enablement.api.ingest import ingest_events
from enablement.services.log import activity_record
from kpis import tasks
from kpis.models import DailyActivityFact, PartnerAssetState, RollupState, UserAssetState
from kpis.rollup import rollup_tenant
from partners.models import User
from tests import factories as f


def _db_now() -> dt.datetime:
    sql = "SELECT statement_timestamp()" if connection.vendor == "postgresql" else "SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')"
    with connection.cursor() as cursor:
        cursor.execute(sql)
        value = cursor.fetchone()[0]
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
    return value


def _snapshot(tenant) -> dict:
    return {
        "daily": sorted(
            DailyActivityFact.objects.filter(tenant=tenant).values_list(
                "day", "partner_id", "asset_id", "verb", "event_count", "user_count", "max_progress"
            ),
            key=repr,
        ),
        "partner": sorted(
            PartnerAssetState.objects.filter(tenant=tenant).values_list(
                "partner_id", "asset_id", "first_activity_at", "last_activity_at", "first_completed_at",
                "completed_users", "active_users",
            ),
            key=repr,
        ),
        "user": sorted(
            UserAssetState.objects.filter(tenant=tenant).values_list(
                "user_id", "asset_id", "first_activity_at", "last_activity_at", "first_completed_at", "seconds"
            ),
            key=repr,
        ),
    }


def _node_clock_ahead(hours: float = 1.0):
    """The web node's clock runs ahead: Python's now() is wrong, the database's is right."""
    real = timezone.now
    return mock.patch("django.utils.timezone.now", lambda: real() + dt.timedelta(hours=hours))


@pytest.mark.django_db
def test_received_at_is_written_by_the_database_clock_not_the_web_nodes(scope_a):
    partner = f.PartnerFactory(tenant=scope_a)
    asset = f.AssetFactory(tenant=scope_a, kind="document", created_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    with _node_clock_ahead():
        event, created = activity_record(tenant=scope_a, partner=partner, asset=asset, verb="document.viewed")
        partner.external_id = "P-1"
        partner.save(update_fields=["external_id"])
        results = ingest_events(
            tenant=scope_a,
            items=[{"event_id": "e1", "verb": "document.viewed", "partner": "P-1", "asset": asset.pk,
                    "occurred_at": "2026-03-01T09:00:00+09:00"}],
        )
    assert created and results[0]["status"] == "accepted"
    db_now = _db_now()
    event.refresh_from_db()
    for stored in (event, type(event).objects.get(tenant=scope_a, event_id="e1")):
        assert abs(stored.received_at - db_now) < dt.timedelta(minutes=1)


@pytest.mark.django_db(transaction=True)
def test_an_event_received_ahead_of_the_clock_does_not_hide_later_events(scope_a, settings):
    settings.KPIS_ROLLUP_OVERLAP_SECONDS = 1
    partner = f.PartnerFactory(tenant=scope_a)
    user = User.objects.create(email="skew@kpis.test")
    training, document = f.AssetFactory(tenant=scope_a), f.AssetFactory(tenant=scope_a, kind="document")
    ahead = _db_now() + dt.timedelta(seconds=3)
    # Written by a node whose clock ran 3 s ahead (as every row was before the database's clock).
    f.ActivityEventFactory(tenant=scope_a, partner=partner, user=user, asset=training, verb="training.completed",
                           occurred_at=timezone.now() - dt.timedelta(days=2), received_at=ahead)
    first = rollup_tenant(scope_a)
    assert RollupState.objects.get(tenant=scope_a).watermark <= _db_now()
    assert first.mode == "full"
    # Received after that rollup by the database's clock, for another day and asset.
    activity_record(tenant=scope_a, partner=partner, user=user, asset=document, verb="document.downloaded",
                    occurred_at=timezone.now() - dt.timedelta(days=5))
    rollup_tenant(scope_a)
    assert DailyActivityFact.objects.filter(tenant=scope_a, asset=document).exists()
    while _db_now() <= ahead + dt.timedelta(seconds=0.2):
        time.sleep(0.2)
    rollup_tenant(scope_a)
    incremental = _snapshot(scope_a)
    rollup_tenant(scope_a, full=True)
    assert incremental == _snapshot(scope_a)
    assert {row[2] for row in incremental["daily"]} == {training.pk, document.pk}


@pytest.mark.django_db
def test_a_watermark_ahead_of_the_database_clock_triggers_a_full_recompute(scope_a):
    partner = f.PartnerFactory(tenant=scope_a)
    past = timezone.now() - dt.timedelta(hours=2)
    f.ActivityEventFactory(tenant=scope_a, partner=partner, occurred_at=past, received_at=past)
    RollupState.objects.create(tenant=scope_a, watermark=timezone.now() + dt.timedelta(hours=1))
    stats = rollup_tenant(scope_a)
    assert stats.mode == "full"
    assert DailyActivityFact.objects.filter(tenant=scope_a).count() == 1
    assert RollupState.objects.get(tenant=scope_a).watermark <= _db_now()


@pytest.mark.django_db
def test_the_nightly_job_recomputes_recent_days_of_facts_and_states(scope_a, settings):
    settings.KPIS_NIGHTLY_RECOMPUTE_DAYS = 3
    partner = f.PartnerFactory(tenant=scope_a)
    user = User.objects.create(email="nightly@kpis.test")
    asset = f.AssetFactory(tenant=scope_a, kind="document")
    now = timezone.now()
    f.ActivityEventFactory(tenant=scope_a, partner=partner, user=user, asset=asset, verb="document.viewed",
                           occurred_at=now - dt.timedelta(hours=1), received_at=now - dt.timedelta(hours=1))
    rollup_tenant(scope_a)
    # An event that slipped below the watermark (committed long after it was stamped): the
    # incremental run cannot see it, the nightly recompute of recent days must.
    lost = f.ActivityEventFactory(tenant=scope_a, partner=partner, user=user, asset=asset, verb="document.downloaded",
                                  occurred_at=now - dt.timedelta(days=2), received_at=now - dt.timedelta(hours=3))
    old = f.ActivityEventFactory(tenant=scope_a, partner=partner, user=user, asset=asset, verb="document.downloaded",
                                 occurred_at=now - dt.timedelta(days=30), received_at=now - dt.timedelta(hours=3))
    rollup_tenant(scope_a)
    assert not DailyActivityFact.objects.filter(tenant=scope_a, verb="document.downloaded").exists()
    assert tasks.recompute_recent_all_tenants.delay().get() >= 1
    local_day = timezone.localtime(lost.occurred_at, scope_a.zoneinfo).date()
    assert DailyActivityFact.objects.filter(tenant=scope_a, verb="document.downloaded").get().day == local_day
    state = PartnerAssetState.objects.get(tenant=scope_a, partner=partner, asset=asset)
    # The pair is recomputed whole from the log: the old event (outside the days) counts too.
    assert state.first_activity_at == old.occurred_at
