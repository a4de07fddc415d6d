"""The replica router (partners/replica.py): dashboard reads on the replica, writes and
read-your-writes on the primary.

The first tests check the routing decisions anywhere (no replica needed). The tests marked
``replica`` run against a REAL streaming replica (``.ci/replica-drill``: a second PostgreSQL cluster
made with pg_basebackup, DATABASE_REPLICA_URL pointing at it): they prove the dashboard's queries ran
on a server in recovery and that a write request's redirect still reads the primary."""

from __future__ import annotations

import time

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_scopes import scope

from partners.models import Partner
from partners.replica import PIN_COOKIE, REPLICA, ReplicaRouter, use_replica
from tests import factories as f


@pytest.fixture
def with_replica_alias(settings):
    """Routing as if a replica were configured (the alias is only looked up by name here)."""
    settings.DATABASES = {**settings.DATABASES, REPLICA: {**settings.DATABASES["default"], "TEST": {"MIRROR": "default"}}}


@pytest.fixture
def without_replica_alias(settings):
    settings.DATABASES = {alias: conf for alias, conf in settings.DATABASES.items() if alias != REPLICA}


def test_without_a_replica_everything_reads_the_primary(without_replica_alias):
    router = ReplicaRouter()
    with use_replica():
        assert router.db_for_read(Partner) == "default"
    assert router.db_for_read(Partner) == "default"


def test_reads_in_a_replica_context_go_to_the_replica_until_the_first_write(with_replica_alias):
    router = ReplicaRouter()
    assert router.db_for_read(Partner) == "default"  # outside a dashboard view
    with use_replica():
        assert router.db_for_read(Partner) == REPLICA
        assert router.db_for_write(Partner) == "default"
        assert router.db_for_read(Partner) == "default"  # read-your-writes for the rest of the request
    with use_replica(pinned=True):  # the browser wrote a moment ago
        assert router.db_for_read(Partner) == "default"
    assert router.allow_migrate("default", "partners") and not router.allow_migrate(REPLICA, "partners")


def test_a_write_request_pins_the_browser_to_the_primary(with_replica_alias, client, login, manager_a, settings):
    settings.DATABASE_REPLICA_PIN_SECONDS = 30
    login(manager_a)
    response = client.post(reverse("manage-patterns-run", kwargs={"tenant_slug": manager_a.tenant.slug}), {})
    until = float(response.cookies[PIN_COOKIE].value)
    assert time.time() + 25 < until <= time.time() + 31
    assert client.get(reverse("manage-overview", kwargs={"tenant_slug": manager_a.tenant.slug})).status_code == 200


def test_no_pin_cookie_without_a_replica(without_replica_alias, client, login, manager_a):
    login(manager_a)
    response = client.post(reverse("manage-patterns-run", kwargs={"tenant_slug": manager_a.tenant.slug}), {})
    assert PIN_COOKIE not in response.cookies


# --- against a real streaming replica ----------------------------------------------------------------


def _wait_until_replayed(predicate, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "the replica did not replay the primary's commit in time"
        time.sleep(0.1)
        connections[REPLICA].close()


@pytest.mark.replica
@pytest.mark.django_db(transaction=True, databases=["default", REPLICA])
def test_dashboard_reads_run_on_the_replica(client, login, tenant_a, manager_a, tenant_b):
    with connections[REPLICA].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        assert cursor.fetchone()[0] is True, "DATABASE_REPLICA_URL does not point at a standby"
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        assert cursor.fetchone()[0] is False
    with scope(tenant=tenant_a.pk):
        partner = f.PartnerFactory(tenant=tenant_a, name="レプリカ商事")
    with scope(tenant=tenant_b.pk):
        f.PartnerFactory(tenant=tenant_b, name="他社の販売店")

    def replayed() -> bool:
        with scope(tenant=tenant_a.pk):
            return Partner.objects.using(REPLICA).filter(pk=partner.pk).exists()

    _wait_until_replayed(replayed)
    login(manager_a)
    url = reverse("manage-partners", kwargs={"tenant_slug": tenant_a.slug})
    with CaptureQueriesContext(connections[REPLICA]) as on_replica, CaptureQueriesContext(connections["default"]) as on_primary:
        body = client.get(url).content.decode()
    assert "レプリカ商事" in body and "他社の販売店" not in body  # row-level security holds on the replica too
    replica_sql = " ".join(q["sql"] for q in on_replica.captured_queries)
    primary_sql = " ".join(q["sql"] for q in on_primary.captured_queries)
    assert 'FROM "partners_partner"' in replica_sql and 'FROM "partners_partner"' not in primary_sql
    assert "django_session" in primary_sql  # the session and the login: the primary


@pytest.mark.replica
@pytest.mark.django_db(transaction=True, databases=["default", REPLICA])
def test_after_a_write_the_browser_reads_the_primary(client, login, tenant_a, manager_a):
    login(manager_a)
    slug = tenant_a.slug
    client.post(reverse("manage-patterns-run", kwargs={"tenant_slug": slug}), {})
    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        assert client.get(reverse("manage-partners", kwargs={"tenant_slug": slug})).status_code == 200
    assert not on_replica.captured_queries
