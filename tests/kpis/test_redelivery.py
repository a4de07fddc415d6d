"""A worker killed mid-task with all its processes: its rollup is redelivered to a new worker and
completes with the same results as a clean run — measured. REAL Redis, REAL `celery worker`
processes (prefork: a parent and a child), on PostgreSQL.

The task is held mid-run deterministically: the test holds the tenant's advisory lock
(``kpis.runs.tenant_lock``), so the worker's rollup is inside its transaction, waiting, when the
whole worker process group gets SIGKILL. The workers run with short limits (hard 20 s, broker
visibility timeout 30 s); production uses the same rule with 30 / 35 minutes (prm/settings.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from django.db import connections
from django_scopes import scopes_disabled

from kpis.models import (
    DailyActivityFact,
    FaqSearchFact,
    KpiResult,
    PartnerAssetState,
    RollupState,
    UserAssetState,
)
from kpis.runs import LOCK_NAMESPACE
from tests.kpis.test_celery_worker import ROOT, _database_url, _snapshot, _world

pytestmark = pytest.mark.celery_worker

TIME_LIMIT, VISIBILITY = 20, 30


def _worker(log_path):
    env = {
        **os.environ, "DATABASE_URL": _database_url(), "CELERY_BROKER_URL": os.environ["CELERY_BROKER_URL"],
        "CELERY_TASK_TIME_LIMIT": str(TIME_LIMIT), "CELERY_TASK_SOFT_TIME_LIMIT": str(TIME_LIMIT - 5),
        "CELERY_BROKER_VISIBILITY_TIMEOUT": str(VISIBILITY),
    }
    log = open(log_path, "a")  # noqa: SIM115 - closed with the process by the caller
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "prm", "worker", "--pool=prefork", "--concurrency=1", "-Q", "celery",
         "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    return process, log


def _stop(process, log) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    log.close()


def _waiting_for_lock(cursor, tenant_id: int) -> bool:
    cursor.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid = %s AND objid = %s",
        [LOCK_NAMESPACE, tenant_id],
    )
    return cursor.fetchone()[0] > 0


def _done(tenant) -> bool:
    with scopes_disabled():
        return RollupState.objects.filter(tenant=tenant, status="idle", kpis_computed_at__isnull=False).exists()


def test_a_killed_workers_rollup_is_redelivered_and_completes_like_a_clean_run(
    transactional_db, tenant_a, tmp_path, capsys
):
    from kpis import tasks
    from prm.celery import app

    _world(tenant_a)
    app.control.purge()
    log_path = tmp_path / "workers.log"
    holder = connections.create_connection("default")  # a second session that holds the tenant's lock
    first, first_log = _worker(log_path)
    second = second_log = None
    try:
        with holder.cursor() as lock:
            lock.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_NAMESPACE, tenant_a.pk])
            tasks.rollup_tenant.delay(tenant_a.pk)
            sent_at = time.monotonic()
            deadline = time.monotonic() + 90
            while not _waiting_for_lock(lock, tenant_a.pk):
                assert time.monotonic() < deadline, log_path.read_text()[-4000:]
                assert first.poll() is None, log_path.read_text()[-4000:]
                time.sleep(0.2)
            with scopes_disabled():
                assert RollupState.objects.get(tenant=tenant_a).status == "running"  # mid-task
            os.killpg(first.pid, signal.SIGKILL)  # the parent and its pool child at once
            killed_at = time.monotonic()
            first.wait(timeout=10)
            lock.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, tenant_a.pk])
        holder.close()
        second, second_log = _worker(log_path)
        deadline = killed_at + VISIBILITY + 90
        while not _done(tenant_a):
            assert time.monotonic() < deadline, "not redelivered:\n" + log_path.read_text()[-4000:]
            assert second.poll() is None, log_path.read_text()[-4000:]
            time.sleep(0.5)
        done_at = time.monotonic()
        redelivered_after, since_sent = done_at - killed_at, done_at - sent_at
    finally:
        _stop(first, first_log)
        if second is not None:
            _stop(second, second_log)
    # Redis hands the unacknowledged task to the new worker once the visibility timeout has passed
    # since delivery (swept every 10 s) — never before, so a live task is never run twice.
    assert since_sent >= VISIBILITY
    after_kill = _snapshot([tenant_a])
    assert after_kill["DailyActivityFact"] and after_kill["KpiResult"]

    with scopes_disabled():
        for model in (DailyActivityFact, FaqSearchFact, PartnerAssetState, UserAssetState, KpiResult, RollupState):
            model.objects.filter(tenant=tenant_a).delete()
    started = time.monotonic()
    tasks.rollup_tenant.apply(args=(tenant_a.pk,)).get()
    clean_run = time.monotonic() - started
    assert _snapshot([tenant_a]) == after_kill
    with capsys.disabled():
        print(f"\nredelivery: killed → completed on a new worker in {redelivered_after:.1f} s, "
              f"{since_sent:.1f} s after it was sent (visibility timeout {VISIBILITY} s, hard limit {TIME_LIMIT} s); "
              f"the clean run itself {clean_run:.2f} s")
