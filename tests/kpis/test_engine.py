"""KPI engine: time zones, no-data results, status bands, admin validation, the beat schedule,
tasks, the management command and the Refresh-now partial (incl. two tenants, no leak)."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from celery.schedules import crontab
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope

from kpis.metrics import compute_kpis, kpi_status
from kpis.models import DailyActivityFact, KpiDefinition, KpiResult, KpiStatus, RollupState
from kpis.periods import recent_periods
from kpis.rollup import rollup_tenant
from tests import factories as f


@pytest.fixture
def eager():
    """Run tasks in-process even when CI configures a broker (CELERY_BROKER_URL)."""
    from prm.celery import app

    old = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = old


def _event(tenant, **kw):
    kw.setdefault("received_at", timezone.now() - dt.timedelta(minutes=5))
    return f.ActivityEventFactory(tenant=tenant, **kw)


# --- time zones ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_event_at_2330_utc_counts_for_the_next_day_in_tokyo(scope_a):
    partner = f.PartnerFactory(tenant=scope_a)
    _event(scope_a, partner=partner, occurred_at=dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.UTC))
    _event(scope_a, partner=partner, occurred_at=dt.datetime(2026, 3, 1, 14, 59, tzinfo=dt.UTC))
    rollup_tenant(scope_a)
    days = dict(DailyActivityFact.objects.filter(tenant=scope_a).values_list("day", "event_count"))
    assert days == {dt.date(2026, 3, 2): 1, dt.date(2026, 3, 1): 1}


@pytest.mark.django_db
def test_the_same_instant_is_bucketed_by_each_tenants_own_zone(tenant_a, tenant_b):
    tenant_b.time_zone = "America/Los_Angeles"
    tenant_b.save()
    at = dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.UTC)
    for tenant in (tenant_a, tenant_b):
        with scope(tenant=tenant.pk):
            _event(tenant, partner=f.PartnerFactory(tenant=tenant), occurred_at=at)
            rollup_tenant(tenant)
    with scope(tenant=tenant_a.pk):
        assert list(DailyActivityFact.objects.values_list("day", flat=True)) == [dt.date(2026, 3, 2)]
    with scope(tenant=tenant_b.pk):
        assert list(DailyActivityFact.objects.values_list("day", flat=True)) == [dt.date(2026, 3, 1)]


@pytest.mark.django_db
def test_rollup_outside_a_scope_raises(tenant_a):
    from django_scopes import ScopeError

    with pytest.raises(ScopeError):
        rollup_tenant(tenant_a)


# --- periods and status ----------------------------------------------------------------------------


def test_recent_periods_are_calendar_periods():
    today = dt.date(2026, 3, 3)
    assert recent_periods("week", today, 1) == [
        (dt.date(2026, 2, 23), dt.date(2026, 3, 1)),
        (dt.date(2026, 3, 2), dt.date(2026, 3, 8)),
    ]
    assert recent_periods("month", today, 2)[0] == (dt.date(2026, 1, 1), dt.date(2026, 1, 31))
    assert recent_periods("quarter", today, 1) == [
        (dt.date(2025, 10, 1), dt.date(2025, 12, 31)),
        (dt.date(2026, 1, 1), dt.date(2026, 3, 31)),
    ]


@pytest.mark.parametrize(
    ("value", "direction", "expected"),
    [
        (Decimal("80"), "higher", KpiStatus.ON_TRACK),
        (Decimal("72"), "higher", KpiStatus.AT_RISK),
        (Decimal("69.9"), "higher", KpiStatus.OFF_TRACK),
        (Decimal("80"), "lower", KpiStatus.ON_TRACK),
        (Decimal("90"), "lower", KpiStatus.AT_RISK),
        (Decimal("90.1"), "lower", KpiStatus.OFF_TRACK),
        (None, "higher", KpiStatus.NO_DATA),
    ],
)
def test_status_honours_direction_and_warning_band(value, direction, expected):
    assert kpi_status(value, target=Decimal("80"), direction=direction, band=Decimal("10")) == expected


@pytest.mark.django_db
def test_no_assignments_gives_no_data_not_zero(scope_a):
    partner = f.PartnerFactory(tenant=scope_a)
    d = KpiDefinition.objects.create(
        tenant=scope_a, name_ja="支援消化率", name_en="Completion", metric="enablement_completion_rate", target=80
    )
    compute_kpis(scope_a, periods_back=0)
    overall = KpiResult.objects.get(definition=d, partner=None)
    assert overall.value is None and overall.status == KpiStatus.NO_DATA and overall.denominator == 0
    mine = KpiResult.objects.get(definition=d, partner=partner)
    assert mine.value is None and mine.status == KpiStatus.NO_DATA
    assert RollupState.objects.get(tenant=scope_a).kpis_computed_at is not None


@pytest.mark.django_db
def test_recomputing_replaces_results_instead_of_adding(scope_a):
    f.PartnerFactory(tenant=scope_a)
    KpiDefinition.objects.create(tenant=scope_a, name_ja="a", name_en="a", metric="document_downloads", target=5)
    compute_kpis(scope_a, periods_back=2)
    first = KpiResult.objects.count()
    compute_kpis(scope_a, periods_back=2)
    assert KpiResult.objects.count() == first == 3 * 2  # 3 periods × (overall + 1 partner)


# --- admin -----------------------------------------------------------------------------------------


def _add_definition(client, **data):
    payload = {
        "name_ja": "目標",
        "name_en": "Target",
        "metric": "enablement_completion_rate",
        "period": "month",
        "segment": "",
        "target": "80",
        "direction": "higher",
        "warning_band": "10",
        "is_active": "on",
    }
    payload.update(data)
    return client.post(reverse("admin:kpis_kpidefinition_add"), payload, HTTP_ACCEPT_LANGUAGE="en")


@pytest.mark.django_db
def test_admin_rejects_a_rate_target_above_100(admin_a, login):
    response = _add_definition(login(admin_a), target="120")
    assert response.status_code == 200
    assert "the target must be between 0 and 100" in response.content.decode()
    with scope(tenant=admin_a.tenant_id):
        assert not KpiDefinition.objects.exists()


@pytest.mark.django_db
def test_admin_rejects_a_negative_target_for_any_metric(admin_a, login):
    response = _add_definition(login(admin_a), metric="document_downloads", target="-5")
    assert response.status_code == 200
    assert "A target cannot be negative." in response.content.decode()


@pytest.mark.django_db
def test_admin_accepts_a_count_target_above_100_and_sets_the_tenant(admin_a, login):
    response = _add_definition(login(admin_a), metric="document_downloads", target="150")
    assert response.status_code == 302
    with scope(tenant=admin_a.tenant_id):
        assert KpiDefinition.objects.get().tenant_id == admin_a.tenant_id


@pytest.mark.django_db
def test_admin_tier_choices_are_the_tenants_own(admin_a, tenant_b, login):
    with scope(tenant=admin_a.tenant_id):
        mine = f.PartnerTierFactory(tenant=admin_a.tenant, name="Gold A")
    with scope(tenant=tenant_b.pk):
        f.PartnerTierFactory(tenant=tenant_b, name="Gold B")
    html = login(admin_a).get(reverse("admin:kpis_kpidefinition_add")).content.decode()
    assert f'value="{mine.pk}"' in html and "Gold A" in html and "Gold B" not in html
    response = _add_definition(Client(), target="50")  # anonymous: no access
    assert response.status_code == 302 and "/login" in response.url


# --- the beat schedule and the tasks ----------------------------------------------------------------


def test_the_beat_schedule_loads_with_registered_tasks_crontabs_and_expiry(settings):
    import kpis.tasks  # noqa: F401  (what the worker's autodiscovery imports)
    from prm.celery import app

    app.loader.import_default_modules()  # autodiscovery, as a worker does at start (also when run alone)
    assert settings.CELERY_BEAT_SCHEDULE
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["task"] in app.tasks, name
        assert isinstance(entry["schedule"], crontab), name
        assert entry["options"]["expires"] > 0, name
        task = app.tasks[entry["task"]]
        assert task.acks_late and task.reject_on_worker_lost, name


@pytest.mark.django_db
def test_the_fan_out_runs_every_active_tenant_eagerly(tenant_a, tenant_b, eager):
    from kpis.tasks import rollup_all_tenants

    for tenant in (tenant_a, tenant_b):
        with scope(tenant=tenant.pk):
            _event(tenant, partner=f.PartnerFactory(tenant=tenant), occurred_at=timezone.now() - dt.timedelta(hours=1))
            KpiDefinition.objects.create(tenant=tenant, name_ja="a", name_en="a", metric="active_partner_rate", target=50)
    assert rollup_all_tenants.delay().get() == 2
    for tenant in (tenant_a, tenant_b):
        with scope(tenant=tenant.pk):
            state = RollupState.objects.get(tenant=tenant)
            assert state.status == "idle" and state.kpis_computed_at is not None
            assert DailyActivityFact.objects.filter(tenant=tenant).count() == 1
            current = KpiResult.objects.filter(partner=None).latest("period_start")
            assert current.value == 100 and current.status == "on_track"


@pytest.mark.django_db
def test_a_failed_rollup_is_recorded_and_simply_rerun(scope_a, monkeypatch):
    from kpis import rollup

    _event(scope_a, partner=f.PartnerFactory(tenant=scope_a), occurred_at=timezone.now() - dt.timedelta(hours=1))

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(rollup, "_daily", boom)
    with pytest.raises(RuntimeError):
        rollup_tenant(scope_a)
    state = RollupState.objects.get(tenant=scope_a)
    assert state.status == "failed" and "disk on fire" in state.last_error and state.watermark is None
    monkeypatch.undo()
    rollup_tenant(scope_a)
    state.refresh_from_db()
    assert state.status == "idle" and state.last_error == "" and state.watermark is not None
    assert DailyActivityFact.objects.count() == 1


@pytest.mark.django_db
def test_rollup_kpis_command_with_since(tenant_a):
    with scope(tenant=tenant_a.pk):
        partner = f.PartnerFactory(tenant=tenant_a)
        _event(tenant_a, partner=partner, occurred_at=dt.datetime(2026, 3, 1, 3, tzinfo=dt.UTC))
    out = io.StringIO()
    call_command("rollup_kpis", "--tenant", "acme", stdout=out)
    assert "acme: full" in out.getvalue() and "daily facts" in out.getvalue()
    out = io.StringIO()
    call_command("rollup_kpis", "--tenant", "acme", "--since", "2026-02-01", stdout=out)
    assert "since 2026-02-01" in out.getvalue()
    with scope(tenant=tenant_a.pk):
        assert DailyActivityFact.objects.count() == 1


# --- Refresh now ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_refresh_now_enqueues_on_commit_and_returns_the_partial(manager_a, login, django_capture_on_commit_callbacks, eager):
    tenant = manager_a.tenant
    with scope(tenant=tenant.pk):
        _event(tenant, partner=f.PartnerFactory(tenant=tenant), occurred_at=timezone.now() - dt.timedelta(hours=2))
    client = login(manager_a)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(reverse("manage-refresh", kwargs={"tenant_slug": tenant.slug}), HTTP_HX_REQUEST="true")
    assert len(callbacks) == 1
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="kpi-freshness"' in html and "hx-post" in html
    with scope(tenant=tenant.pk):
        state = RollupState.objects.get(tenant=tenant)
        assert state.status == "idle" and state.kpis_computed_at is not None
        assert DailyActivityFact.objects.count() == 1
    # done: a poll is answered with 286 so htmx stops polling
    poll = client.get(reverse("manage-freshness", kwargs={"tenant_slug": tenant.slug}), HTTP_HX_REQUEST="true")
    assert poll.status_code == 286 and "every 2s" not in poll.content.decode()


@pytest.mark.django_db
def test_freshness_polls_while_a_run_is_pending(manager_a, login):
    tenant = manager_a.tenant
    with scope(tenant=tenant.pk):
        RollupState.objects.create(tenant=tenant, status="running", started_at=timezone.now(),
                                   lease_until=timezone.now() + dt.timedelta(minutes=2))
    response = login(manager_a).get(
        reverse("manage-freshness", kwargs={"tenant_slug": tenant.slug}), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert 'hx-trigger="every 2s"' in response.content.decode()


@pytest.mark.django_db
def test_refresh_is_post_only_csrf_protected_and_for_managers(manager_a, partner_user_a, login):
    url = reverse("manage-refresh", kwargs={"tenant_slug": manager_a.tenant.slug})
    assert login(manager_a).get(url).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(manager_a.user)
    assert strict.post(url).status_code == 403
    assert login(partner_user_a, Client()).post(url).status_code == 403
    fresh = reverse("manage-freshness", kwargs={"tenant_slug": manager_a.tenant.slug})
    assert login(partner_user_a, Client()).get(fresh).status_code == 403


@pytest.mark.django_db
def test_two_tenants_no_leak(manager_a, manager_b, login, django_capture_on_commit_callbacks):
    client = login(manager_b)
    for name in ("manage-refresh", "manage-freshness"):
        url = reverse(name, kwargs={"tenant_slug": manager_a.tenant.slug})
        response = client.post(url) if name == "manage-refresh" else client.get(url)
        assert response.status_code == 404
    with scope(tenant=manager_a.tenant_id):
        RollupState.objects.create(tenant=manager_a.tenant, kpis_computed_at=dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC))
    html = client.get(reverse("manage-freshness", kwargs={"tenant_slug": manager_b.tenant.slug})).content.decode()
    assert "2026/03/01" not in html and "—" in html
    own = login(manager_a, Client()).get(reverse("manage-freshness", kwargs={"tenant_slug": manager_a.tenant.slug}))
    assert "2026/03/01 21:00" in own.content.decode()  # the tenant's zone (Tokyo), the Japanese format
