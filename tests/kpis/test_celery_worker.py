"""A REAL Redis broker and a REAL Celery worker process: the beat task's fan-out produces the same
facts and KPI results as the eager path. Runs when CELERY_BROKER_URL is set on PostgreSQL (the
second pass of .ci/run); otherwise tests/conftest.py deselects it and says why."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from kpis.models import (
    DailyActivityFact,
    FaqSearchFact,
    KpiDefinition,
    KpiResult,
    PartnerAssetState,
    RollupState,
    UserAssetState,
)
from partners.models import User
from tests import factories as f

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.celery_worker


def _database_url() -> str:
    s = connection.settings_dict
    auth = quote(s["USER"] or "")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"])
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _world(tenant):
    with scope(tenant=tenant.pk):
        partners = [f.PartnerFactory(tenant=tenant) for _ in range(3)]
        users = [User.objects.create(email=f"w{tenant.pk}-{i}@kpis.test") for i, _ in enumerate(partners)]
        training = f.AssetFactory(tenant=tenant, kind="training")
        document = f.AssetFactory(tenant=tenant, kind="document")
        f.AssignmentFactory(tenant=tenant, partner=partners[0], asset=training, due_on=timezone.localdate())
        base = timezone.now() - dt.timedelta(days=3)
        for i, (partner, user) in enumerate(zip(partners, users, strict=True)):
            for k in range(5):
                at = base + dt.timedelta(hours=7 * k + i)
                f.ActivityEventFactory(tenant=tenant, partner=partner, user=user, asset=training,
                                       verb="training.completed" if k == 4 else "training.progressed",
                                       progress=20.0 * (k + 1), occurred_at=at, received_at=at)
                f.ActivityEventFactory(tenant=tenant, partner=partner, user=user, asset=document,
                                       verb="document.downloaded", occurred_at=at, received_at=at)
            f.ActivityEventFactory(tenant=tenant, partner=partner, user=user, verb="faq.searched", query="VPN",
                                   result_count=i, occurred_at=base, received_at=base)
        for metric in ("enablement_completion_rate", "training_completion_rate", "document_downloads", "faq_unresolved_rate"):
            KpiDefinition.objects.create(tenant=tenant, name_ja=metric, name_en=metric, metric=metric, target=50)


def _snapshot(tenants) -> dict:
    out = {}
    with scopes_disabled():
        for model, fields in (
            (DailyActivityFact, ["tenant_id", "day", "partner_id", "asset_id", "verb", "event_count", "user_count", "max_progress"]),
            (FaqSearchFact, ["tenant_id", "day", "partner_id", "query", "searches", "zero_result_searches", "unresolved_searches"]),
            (PartnerAssetState, ["tenant_id", "partner_id", "asset_id", "first_completed_at", "completed_users", "active_users"]),
            (UserAssetState, ["tenant_id", "user_id", "partner_id", "asset_id", "first_completed_at", "watched_share", "seconds"]),
            (KpiResult, ["tenant_id", "definition_id", "period_start", "partner_id", "numerator", "denominator", "value", "status"]),
        ):
            rows = model.objects.filter(tenant__in=tenants).values_list(*fields)
            out[model.__name__] = sorted(rows, key=repr)
    return out


def test_beat_fan_out_on_a_real_worker_matches_the_eager_path(transactional_db, tenant_a, tenant_b, settings):
    from kpis import tasks
    from prm.celery import app

    for tenant in (tenant_a, tenant_b):
        _world(tenant)
    app.control.purge()  # nothing left over from an earlier run
    env = {**os.environ, "DATABASE_URL": _database_url(), "CELERY_BROKER_URL": os.environ["CELERY_BROKER_URL"]}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "prm", "worker", "--pool=solo", "-Q", "celery", "--loglevel=INFO",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert not settings.CELERY_TASK_ALWAYS_EAGER
        tasks.rollup_all_tenants.delay()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with scopes_disabled():
                done = RollupState.objects.filter(
                    tenant__in=[tenant_a, tenant_b], status="idle", kpis_computed_at__isnull=False
                ).count()
            if done == 2:
                break
            assert worker.poll() is None, worker.stdout.read()
            time.sleep(0.5)
        else:
            worker.terminate()
            pytest.fail("the worker did not finish the rollups in time:\n" + worker.communicate(timeout=10)[0][-4000:])
        by_worker = _snapshot([tenant_a, tenant_b])
    finally:
        if worker.poll() is None:
            worker.terminate()
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(timeout=5)
    assert by_worker["DailyActivityFact"] and by_worker["KpiResult"]

    # The eager path on the same data, from scratch.
    with scopes_disabled():
        for model in (DailyActivityFact, FaqSearchFact, PartnerAssetState, UserAssetState, KpiResult, RollupState):
            model.objects.filter(tenant__in=[tenant_a, tenant_b]).delete()
    for tenant in (tenant_a, tenant_b):
        tasks.rollup_tenant.apply(args=(tenant.pk,)).get()
    assert _snapshot([tenant_a, tenant_b]) == by_worker
