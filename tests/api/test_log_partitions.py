"""PostgreSQL: the activity log is partitioned by month of ``occurred_at``. Rows route to their
month's partition (the default one outside the created months); the idempotency key still holds
across partitions — for the ORM, for ``activity_record`` and for concurrent API batches, with exact
per-row answers; UPDATE/DELETE/TRUNCATE are still refused on the parent and on every partition,
and row-level security applies to the partitions too. Run as an ordinary role (CI does)."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django_scopes import scope, scopes_disabled

from enablement.logstore import partitions, partitions_ensure
from enablement.models import ActivityEvent, ActivityEventKey
from enablement.services.log import activity_record, activity_record_many
from tests import factories as f
from tests.api.concurrency import post_concurrently

pytestmark = [pytest.mark.postgres]
URL = "/api/v1/events/"


def _partition_of(event_id: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM enablement_activityevent WHERE event_id = %s", [event_id])
        return cursor.fetchone()[0]


def _month(at: dt.datetime) -> str:
    return f"enablement_activityevent_p{at:%Y%m}"


@pytest.mark.django_db
def test_the_log_is_partitioned_with_months_ahead_and_a_default():
    now = dt.datetime.now(dt.UTC)
    names = [name for name, _bound in partitions()]
    assert "enablement_activityevent_default" in names
    month = now.replace(day=1)
    for _ in range(4):  # this month and the next three (created at migrate time)
        assert _month(month) in names
        month = (month + dt.timedelta(days=32)).replace(day=1)
    assert partitions_ensure() == 0  # idempotent
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE relname = 'enablement_activityevent'")
        assert cursor.fetchone()[0] == "p"
        # indexes declared on the parent exist on every partition
        cursor.execute(
            "SELECT c.relname, count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_index x ON x.indrelid = c.oid WHERE i.inhparent = 'enablement_activityevent'::regclass GROUP BY 1"
        )
        counts = dict(cursor.fetchall())
    assert set(counts) == set(names) and len(set(counts.values())) == 1 and min(counts.values()) >= 5


@pytest.mark.django_db
def test_a_new_month_partition_is_set_up_like_the_parent():
    far = dt.date(2031, 5, 1)
    assert partitions_ensure(0, today=far) == 1
    name = "enablement_activityevent_p203105"
    with connection.cursor() as cursor:
        cursor.execute("SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = %s", [name])
        assert cursor.fetchone() == (True, True)
        cursor.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass ORDER BY 1", [name])
        triggers = {r[0] for r in cursor.fetchall()}
    assert {"enablement_activityevent_append_only", "enablement_activityevent_key", "shien_refuse_truncate"} <= triggers


@pytest.mark.django_db
def test_rows_route_to_their_month_and_far_dates_to_the_default(tenant_a):
    now = dt.datetime.now(dt.UTC)
    with scope(tenant=tenant_a.pk):
        partner = f.PartnerFactory(tenant=tenant_a)
        activity_record(tenant=tenant_a, partner=partner, verb="portal.login", occurred_at=now, event_id="now")
        activity_record(
            tenant=tenant_a, partner=partner, verb="portal.login", event_id="old",
            occurred_at=dt.datetime(1999, 3, 1, tzinfo=dt.UTC),
        )
        assert _partition_of("now") == _month(now)
        assert _partition_of("old") == "enablement_activityevent_default"
        assert ActivityEvent.objects.filter(tenant=tenant_a).count() == 2  # Django reads the parent as before


@pytest.mark.django_db
def test_a_duplicate_key_is_refused_across_partitions_on_every_path(tenant_a):
    now = dt.datetime.now(dt.UTC)
    earlier = now - dt.timedelta(days=70)  # another month's partition
    with scope(tenant=tenant_a.pk):
        partner = f.PartnerFactory(tenant=tenant_a)
        _, created = activity_record(tenant=tenant_a, partner=partner, verb="portal.login", occurred_at=now, event_id="k1")
        assert created
        stored, created = activity_record(
            tenant=tenant_a, partner=partner, verb="portal.login", occurred_at=earlier, event_id="k1"
        )
        assert not created and stored.occurred_at == now
        batch = [
            ActivityEvent(tenant=tenant_a, partner=partner, verb="portal.login", occurred_at=earlier, source="portal", event_id=e)
            for e in ("k1", "k2", "k2", "k3")
        ]
        assert activity_record_many(tenant=tenant_a, events=batch) == [False, True, False, True]
        with pytest.raises(IntegrityError), transaction.atomic():  # a direct insert meets the key trigger
            f.ActivityEventFactory(tenant=tenant_a, partner=partner, occurred_at=earlier, event_id="k3", source="portal")
        # the same event id from another source is another event
        assert activity_record_many(tenant=tenant_a, events=[
            ActivityEvent(tenant=tenant_a, partner=partner, verb="portal.login", occurred_at=earlier, source="api", event_id="k1")
        ]) == [True]
        assert ActivityEvent.objects.filter(tenant=tenant_a).count() == 4
        assert ActivityEventKey.objects.filter(tenant=tenant_a).count() == 4


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_spanning_partitions_get_exact_per_row_answers(world_a):
    """The same ids, dated in different months by different clients, sent at once: each id is
    stored once and reported accepted to exactly one client."""
    ids = list(range(90))
    months = ["2026-03-10T10:00:00+09:00", "2026-07-10T10:00:00+09:00", "2026-10-10T10:00:00+09:00"]
    batches = []
    for k in range(6):
        order = ids[:]
        random.Random(k).shuffle(order)
        batches.append({"events": [
            {"event_id": f"ev-{i}", "verb": "document.viewed", "occurred_at": months[(i + k) % 3],
             "partner": "acme-P1", "user": "taro@acme.example", "asset": "acme-doc"} for i in order
        ]})
    with scopes_disabled():
        partitions_ensure(0, today=dt.date(2026, 3, 1)), partitions_ensure(0, today=dt.date(2026, 7, 1))
    answers = post_concurrently(URL, world_a.raw, batches)
    assert [code for code, _ in answers] == [200] * len(batches)
    accepted = [r["event_id"] for _, body in answers for r in body["results"] if r["status"] == "accepted"]
    assert sorted(accepted) == sorted(f"ev-{i}" for i in ids)
    with scope(tenant=world_a.tenant.pk):
        assert ActivityEvent.objects.filter(tenant=world_a.tenant).count() == len(ids)
    with connection.cursor() as cursor, scope(tenant=world_a.tenant.pk):
        cursor.execute("SELECT count(DISTINCT tableoid) FROM enablement_activityevent")
        assert cursor.fetchone()[0] >= 2  # the rows really are spread over several partitions


@pytest.mark.django_db
def test_update_delete_truncate_are_refused_on_the_parent_and_on_a_partition(tenant_a):
    now = dt.datetime.now(dt.UTC)
    with scope(tenant=tenant_a.pk):
        partner = f.PartnerFactory(tenant=tenant_a)
        activity_record(tenant=tenant_a, partner=partner, verb="portal.login", occurred_at=now, event_id="x")
        with connection.cursor() as c:
            c.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending foreign-key checks in the way of TRUNCATE
        for table in ("enablement_activityevent", _month(now)):
            for sql in (f"UPDATE {table} SET verb = 'faq.viewed'", f"DELETE FROM {table}", f"TRUNCATE {table}"):
                with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as c:
                    c.execute(sql)
            # the flag the trigger checks is not enough: UPDATE may only touch actor_ref/extra
            with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as c:
                c.execute("SELECT set_config('shien.log_unlock', 'erase', true)")
                c.execute(f"UPDATE {table} SET verb = 'faq.viewed'")
        assert ActivityEvent.objects.filter(tenant=tenant_a, verb="portal.login").count() == 1


@pytest.mark.django_db
def test_partitions_grant_no_update_delete_truncate_and_the_owner_functions_are_not_public():
    """Default privileges may hand a new partition UPDATE/DELETE to the application role; the
    partition set-up (at creation and at every ``migrate``) takes them back from every grantee."""
    from enablement.logstore import DEFINER_FUNCTIONS, ensure_after_migrate

    names = [n for n, _ in partitions()]
    with connection.cursor() as cursor:
        for name in names:
            cursor.execute(f"GRANT ALL ON {name} TO PUBLIC")
    ensure_after_migrate(sender=None)
    with connection.cursor() as cursor:
        for name in names:
            cursor.execute(
                "SELECT has_table_privilege('public', %s, 'UPDATE'), has_table_privilege('public', %s, 'DELETE'), "
                "has_table_privilege('public', %s, 'TRUNCATE'), has_table_privilege('public', %s, 'INSERT')",
                [name] * 4,
            )
            assert cursor.fetchone() == (False, False, False, True), name
        for function in DEFINER_FUNCTIONS:
            cursor.execute("SELECT has_function_privilege('public', %s, 'EXECUTE')", [function])
            assert cursor.fetchone()[0] is False, function


@pytest.mark.django_db
def test_row_level_security_holds_on_partitions(tenant_a, tenant_b):
    now = dt.datetime.now(dt.UTC)
    for tenant in (tenant_a, tenant_b):
        with scope(tenant=tenant.pk):
            partner = f.PartnerFactory(tenant=tenant)
            activity_record(tenant=tenant, partner=partner, verb="portal.login", occurred_at=now, event_id=f"t{tenant.pk}")
    partition = _month(now)

    def tenants_seen(table):
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT DISTINCT tenant_id FROM {table}")  # no tenant filter on purpose
            return sorted(r[0] for r in cursor.fetchall())

    for table in ("enablement_activityevent", partition, "enablement_activityeventkey"):
        with scope(tenant=tenant_a.pk):
            assert tenants_seen(table) == [tenant_a.pk]
        assert tenants_seen(table) == []  # no scope: no rows
        with scopes_disabled():
            assert tenants_seen(table) == sorted([tenant_a.pk, tenant_b.pk])
