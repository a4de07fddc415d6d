"""Ingest benchmark: events/s through POST /api/v1/events/ vs raw psycopg executemany.

On PostgreSQL (``BENCH_DATABASE_URL``, default postgres://postgres@127.0.0.1:5432/shien_bench_ingest,
dropped and re-created), gunicorn with 2 workers on a free local port receives ``--batches``
batches of 500 events from ``--clients`` concurrent clients; then the same rows (fresh event
ids) go into the same table with psycopg ``executemany``, one transaction per 500 rows.
Prints both rates and their ratio (goal ≥ 0.25). ``--record`` writes the "Ingest" section of
docs/benchmarks.md. Stops gunicorn and drops the database at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/shien_bench_ingest"
BATCH = 500
VERBS = ["training.progressed", "training.started", "document.viewed", "document.downloaded", "faq.searched"]


def sh(*args: str, env: dict) -> None:
    subprocess.run(args, cwd=ROOT, env=env, check=True)


def recreate_database(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def setup_tenant(partners: int, assets: int):
    """Tenant, partners with external ids, one partner user each, assets, an API key."""
    import django

    django.setup()
    from django_scopes import scope

    from enablement.models import Asset
    from partners.models import Membership, Partner, Role, Tenant, User
    from partners.services import api_key_create

    tenant = Tenant.objects.create(name="Bench", slug="bench")
    with scope(tenant=tenant.pk):
        ps = Partner.objects.bulk_create(
            [Partner(tenant=tenant, name=f"Partner {i}", external_id=f"P{i}", status="active") for i in range(partners)]
        )
        users = User.objects.bulk_create([User(email=f"user{i}@bench.example", password="!") for i in range(partners)])
        Membership.objects.bulk_create(
            [Membership(tenant=tenant, user=u, role=Role.PARTNER_USER, partner=p) for u, p in zip(users, ps, strict=True)]
        )
        kinds = ["training", "document"]
        assets_ = Asset.objects.bulk_create(
            [Asset(tenant=tenant, kind=kinds[i % 2], title=f"Asset {i}", external_id=f"A{i}", status="published") for i in range(assets)]
        )
        _key, raw = api_key_create(tenant=tenant, name="bench", scopes=["events:write", "read"], actor=None)
    return tenant, ps, users, assets_, raw


def make_events(n: int, prefix: str, partners, users, assets, rng: random.Random) -> list[dict]:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    trainings = [a for a in assets if a.kind == "training"]
    documents = [a for a in assets if a.kind == "document"]
    out = []
    for i in range(n):
        j = rng.randrange(len(partners))
        verb = VERBS[i % len(VERBS)]
        e = {
            "event_id": f"{prefix}-{i}",
            "verb": verb,
            "occurred_at": (start + dt.timedelta(seconds=i * 7)).isoformat(),
            "partner": partners[j].external_id,
            "user": users[j].email,
        }
        if verb.startswith("training"):
            a = rng.choice(trainings)
            e.update(asset=a.external_id, progress=round(rng.uniform(0, 100), 1), seconds=rng.randint(0, 600), played_segments=[[0, rng.randint(1, 600)]])
        elif verb.startswith("document"):
            e["asset"] = rng.choice(documents).external_id
        else:
            e.update(query=f"keyword {rng.randrange(200)}", result_count=rng.randrange(5), resolved=rng.random() < 0.7)
        out.append(e)
    return out


def post_batch(url: str, key: str, body: bytes) -> dict:
    req = urllib.request.Request(url, data=body, method="POST", headers={"Authorization": f"Api-Key {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as resp:  # noqa: S310 (local bench server)
        return json.loads(resp.read())


def raw_rows(events: list[dict], tenant_id: int, ids: dict) -> list[tuple]:
    now = dt.datetime.now(dt.UTC)
    rows = []
    for e in events:
        rows.append(
            (
                tenant_id,
                ids["partner"][e["partner"]],
                ids["user"][e["user"]],
                "",
                ids["asset"].get(e.get("asset")),
                e["verb"],
                dt.datetime.fromisoformat(e["occurred_at"]),
                now,
                e.get("progress"),
                e.get("seconds"),
                None,
                json.dumps(e["played_segments"]) if "played_segments" in e else None,
                e.get("query", ""),
                e.get("result_count"),
                e.get("resolved"),
                "import",
                "raw-" + e["event_id"],
                "",
                "{}",
            )
        )
    return rows


RAW_SQL = """INSERT INTO enablement_activityevent
 (tenant_id, partner_id, user_id, actor_ref, asset_id, verb, occurred_at, received_at, progress, seconds, position,
  played_segments, query, result_count, resolved, source, event_id, session_key, extra)
 VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"""


def record(md: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    begin, end = "<!-- ingest:begin -->", "<!-- ingest:end -->"
    block = f"{begin}\n{md.rstrip()}\n{end}"
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=40)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--record", action="store_true", help="write the Ingest section of docs/benchmarks.md")
    ap.add_argument("--keep-db", action="store_true")
    args = ap.parse_args()

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "false", "API_THROTTLE_RATE": "off", "DJANGO_SETTINGS_MODULE": "prm.settings"}
    env.pop("CELERY_BROKER_URL", None)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "DEBUG", "API_THROTTLE_RATE", "DJANGO_SETTINGS_MODULE")})
    os.environ.pop("CELERY_BROKER_URL", None)

    print(f"==> database {url.rsplit('/', 1)[1]} (re-created), migrating")
    recreate_database(url)
    py = str(ROOT / ".venv" / "bin" / "python")
    sh(py, "manage.py", "migrate", "--no-input", "-v", "0", env=env)
    tenant, partners, users, assets, key = setup_tenant(partners=50, assets=20)
    rng = random.Random(20260401)
    total = args.batches * BATCH
    events = make_events(total, "api", partners, users, assets, rng)
    bodies = [json.dumps({"events": events[i : i + BATCH]}).encode() for i in range(0, total, BATCH)]
    warm = json.dumps({"events": make_events(BATCH, "warm", partners, users, assets, rng)}).encode()

    port = free_port()
    gunicorn = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "prm.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(args.workers), "--log-level", "warning", "--timeout", "120"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        endpoint = f"http://127.0.0.1:{port}/api/v1/events/"
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/xapi/about", timeout=2)  # noqa: S310
                break
            except OSError:
                time.sleep(0.2)
        for _ in range(args.workers * 2):  # warm every worker (imports, connections)
            post_batch(endpoint, key, warm)
        print(f"==> API: {args.batches} batches × {BATCH} events, {args.clients} clients, gunicorn {args.workers} workers")
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            results = list(pool.map(lambda b: post_batch(endpoint, key, b), bodies))
        api_seconds = time.perf_counter() - t0
        accepted = sum(r["accepted"] for r in results)
        assert accepted == total, f"only {accepted} of {total} accepted"
    finally:
        gunicorn.send_signal(signal.SIGTERM)
        gunicorn.wait(timeout=30)

    import psycopg

    ids = {
        "partner": {p.external_id: p.pk for p in partners},
        "user": {u.email: u.pk for u in users},
        "asset": {a.external_id: a.pk for a in assets},
    }
    rows = raw_rows(events, tenant.pk, ids)
    print(f"==> raw psycopg executemany: {total} rows, one transaction per {BATCH}")
    dsn = url.replace("postgres://", "postgresql://", 1)
    with psycopg.connect(dsn) as conn:
        t0 = time.perf_counter()
        for i in range(0, total, BATCH):
            with conn.cursor() as cur:
                cur.executemany(RAW_SQL, rows[i : i + BATCH])
            conn.commit()
        raw_seconds = time.perf_counter() - t0
        count = conn.execute("SELECT COUNT(*) FROM enablement_activityevent WHERE tenant_id = %s", (tenant.pk,)).fetchone()[0]
    api_rate = total / api_seconds
    raw_rate = total / raw_seconds
    ratio = api_rate / raw_rate
    print(f"API   {total} events in {api_seconds:.2f} s = {api_rate:,.0f} events/s")
    print(f"raw   {total} rows   in {raw_seconds:.2f} s = {raw_rate:,.0f} rows/s")
    print(f"ratio API/raw = {ratio:.2f} (goal ≥ 0.25) {'OK' if ratio >= 0.25 else 'BELOW GOAL'}; rows in table: {count}")
    if args.record:
        import platform

        md = f"""## Ingest

`make bench` → `bench/ingest.py`: `POST /api/v1/events/` through gunicorn ({args.workers} workers, {args.clients}
concurrent clients, {args.batches} batches × {BATCH} events = {total} events, API key auth, validation,
name resolution, idempotency check, one multi-row INSERT per batch) vs raw psycopg `executemany` of the same
rows into the same table (`enablement_activityevent`, one transaction per {BATCH} rows), PostgreSQL, same run.

| path | seconds | events/s |
|---|---:|---:|
| API (`POST /api/v1/events/`) | {api_seconds:.2f} | {api_rate:,.0f} |
| raw psycopg `executemany` | {raw_seconds:.2f} | {raw_rate:,.0f} |
| **ratio API / raw** | | **{ratio:.2f}** (goal ≥ 0.25) |

Measured {dt.date.today().isoformat()} on {platform.machine()} / Python {platform.python_version()} / {os.cpu_count()} CPUs.
"""
        record(md)
        print("==> recorded in docs/benchmarks.md")
    if not args.keep_db:
        drop_database(url)
    return 0 if ratio >= 0.25 else 1


if __name__ == "__main__":
    sys.exit(main())
