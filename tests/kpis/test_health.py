"""The measurement-health page: what is not measured or looks wrong, from facts and counters."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope

from enablement.models import AssetKind, AssetStatus, EventSource, RefusalReason
from enablement.validation import refusals_record
from kpis.health import measurement_health
from kpis.models import DailySourceFact
from kpis.rollup import rollup_tenant
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def build(tenant, prefix: str) -> dict:
    """A tenant with one active and one quiet partner, a used, an unused and an untimed asset,
    portal and API events (one completion from an untrusted key) and refusals."""
    now = timezone.now()
    with scope(tenant=tenant.pk):
        active = f.PartnerFactory(tenant=tenant, name=f"{prefix} active")
        quiet = f.PartnerFactory(tenant=tenant, name=f"{prefix} quiet")
        nobody = f.PartnerFactory(tenant=tenant, name=f"{prefix} no accounts")
        member = f.PartnerUserMembershipFactory(tenant=tenant, partner=active)
        f.PartnerUserMembershipFactory(tenant=tenant, partner=quiet)
        used = f.AssetFactory(tenant=tenant, kind=AssetKind.TRAINING, title=f"{prefix} used", duration_seconds=60)
        unused = f.AssetFactory(tenant=tenant, kind=AssetKind.DOCUMENT, title=f"{prefix} unused")
        untimed = f.AssetFactory(tenant=tenant, kind=AssetKind.TRAINING, title=f"{prefix} untimed", duration_seconds=0)
        f.AssetFactory(tenant=tenant, kind=AssetKind.TRAINING, title=f"{prefix} archived", duration_seconds=0, status=AssetStatus.ARCHIVED)
        ev = {"tenant": tenant, "partner": active, "user": member.user, "occurred_at": now - dt.timedelta(hours=2)}
        f.ActivityEventFactory(**ev, asset=used, verb="training.started")
        f.ActivityEventFactory(**ev, asset=used, verb="training.completed")
        f.ActivityEventFactory(**ev, asset=used, verb="training.completed", source=EventSource.API, trusted=False)
        f.ActivityEventFactory(**ev, asset=untimed, verb="training.started", source=EventSource.XAPI, trusted=True)
        f.ActivityEventFactory(**ev, asset=untimed, verb="training.completed", source=EventSource.XAPI, trusted=True)
        refusals_record(tenant=tenant, source=EventSource.API, reasons=Counter({RefusalReason.FUTURE: 2, RefusalReason.VERB_KIND: 1}))
        refusals_record(tenant=tenant, source=EventSource.XAPI, reasons=Counter({RefusalReason.BEFORE_ASSET: 4}))
        rollup_tenant(tenant)
    return {"active": active, "quiet": quiet, "nobody": nobody, "used": used, "unused": unused, "untimed": untimed}


def test_health_figures(tenant_a):
    data = build(tenant_a, "A")
    with scope(tenant=tenant_a.pk):
        h = measurement_health(tenant=tenant_a)
    assert [a.title for a in h.untimed_trainings] == ["A untimed"]  # archived ones are not listed
    assert [a.title for a in h.unused_assets] == ["A unused"]
    assert h.partner_count == 3 and h.quiet_count == 2
    assert [(p.name, p.accounts) for p in h.quiet_partners] == [("A no accounts", 0), ("A quiet", 1)]
    assert {(r.source, r.reason): r.count for r in h.refusals} == {
        ("api", "future"): 2,
        ("api", "verb_kind"): 1,
        ("xapi", "before_asset"): 4,
    }
    assert h.refused_total == 7
    volumes = {v.source: (v.events, v.completions, v.untrusted) for v in h.volumes}
    assert volumes == {"portal": (2, 1, 0), "api": (1, 1, 1), "xapi": (2, 1, 0), "import": (0, 0, 0)}
    assert h.lag == dt.timedelta(0) and h.rollup_status == "idle"
    assert data["used"].pk not in {a.pk for a in h.unused_assets}


def test_rollup_lag_shows_events_not_yet_rolled_up(tenant_a):
    build(tenant_a, "A")
    with scope(tenant=tenant_a.pk):
        partner = f.PartnerFactory(tenant=tenant_a)
        f.ActivityEventFactory(tenant=tenant_a, partner=partner, received_at=timezone.now() + dt.timedelta(minutes=45))
        h = measurement_health(tenant=tenant_a)
    assert h.lag_minutes >= 44


def test_source_facts_incremental_equal_full(tenant_a):
    build(tenant_a, "A")
    with scope(tenant=tenant_a.pk):
        partner = f.PartnerFactory(tenant=tenant_a)
        # Same local day as build()'s events, whatever the time of day (the day is recomputed whole).
        f.ActivityEventFactory(tenant=tenant_a, partner=partner, source=EventSource.API, trusted=False,
                               occurred_at=timezone.now() - dt.timedelta(hours=2),
                               received_at=timezone.now())  # (one ahead of the database's clock waits for it)
        rollup_tenant(tenant_a)
        incremental = sorted(DailySourceFact.objects.filter(tenant=tenant_a).values_list("day", "source", "verb", "event_count", "untrusted_count"))
        rollup_tenant(tenant_a, full=True)
        full = sorted(DailySourceFact.objects.filter(tenant=tenant_a).values_list("day", "source", "verb", "event_count", "untrusted_count"))
    assert incremental == full
    assert sum(r[3] for r in full) == 6


def test_page_two_tenants_no_leak_and_bounded_queries(client, login, tenant_a, tenant_b, manager_a, django_assert_max_num_queries):
    build(tenant_a, "A")
    build(tenant_b, "B")
    with scope(tenant=tenant_b.pk):
        for i in range(30):  # more of everything in B changes nothing in A's page or its cost
            f.AssetFactory(tenant=tenant_b, kind=AssetKind.TRAINING, title=f"B extra {i}", duration_seconds=0)
    login(manager_a)
    url = reverse("manage-health", kwargs={"tenant_slug": tenant_a.slug})
    client.get(url)
    with django_assert_max_num_queries(16):  # session, user, tenant, membership, sidebar + the health queries
        response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "A untimed" in html and "A unused" in html and "A quiet" in html
    assert "B " not in html.replace("B</", "")  # no name of tenant B anywhere
    assert response.context["health"].refused_total == 7


def test_page_is_for_managers_and_linked_from_the_sidebar(client, login, tenant_a, manager_a, make_member):
    url = reverse("manage-health", kwargs={"tenant_slug": tenant_a.slug})
    login(make_member(tenant_a, "partner_user"))
    assert client.get(url).status_code in {302, 403, 404}
    login(manager_a)
    overview = client.get(reverse("manage-overview", kwargs={"tenant_slug": tenant_a.slug})).content.decode()
    assert f'href="{url}"' in overview


@pytest.mark.parametrize(("language", "heading", "reason"), [("ja", "計測の健全性", "サーバーの時計より先の日時です"), ("en", "Measurement health", "Lies ahead of the server clock")])
def test_page_in_japanese_and_english(client, login, tenant_a, manager_a, language, heading, reason):
    build(tenant_a, "A")
    manager_a.user.language = language  # the user's own language wins over the tenant's default
    manager_a.user.save(update_fields=["language"])
    login(manager_a)
    html = client.get(reverse("manage-health", kwargs={"tenant_slug": tenant_a.slug})).content.decode()
    assert heading in html and reason in html
