"""Retention of the activity log: archive a tenant's old months to files, then remove them.

``Tenant.log_retention_months`` = N keeps the current tenant-local month and the N whole months
before it; every older month is, one month per transaction:

1. written to the media storage as ``activity-archive/t<tenant id>/<YYYY-MM>.jsonl.gz`` — one JSON
   object per event (every column, ``id`` order), gzip-compressed — with a manifest next to it
   (``<YYYY-MM>.manifest.json``: tenant, month, rows, first/last id, SHA-256 of the file, columns);
2. read back from the storage and verified (checksum, row count, the very ids);
3. removed from the log through the sanctioned path only: ``shien_activity_archive_delete`` on
   PostgreSQL (a function run as the table owner that sets the flag the append-only trigger
   checks; the application role has no DELETE right), ``log_unlocked("archive")`` on SQLite —
   exactly the archived ids, so an event that arrived meanwhile stays for the next run;
4. recorded as an ``ActivityArchive`` row and in the audit log.

Then past monthly partitions that no tenant has a row in any more are dropped (PostgreSQL).

Facts, states and KPI results are not touched: they were rolled up from these events before and
stay. The rollup never recomputes a day before the archive boundary (``archived_before``): a full
recompute starts there and keeps the older facts, and states merge new events instead of being
recomputed from a log that no longer holds their history (``kpis.rollup``).
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import tempfile
from dataclasses import dataclass, field

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction

from enablement.logstore import log_unlocked, partitions_prune
from enablement.lrs.models import XapiStatement
from enablement.models import ActivityArchive, ActivityEvent
from partners.audit import audit_record
from partners.models import Tenant

ARCHIVE_DIR = "activity-archive"
_CHUNK = 5000


@dataclass
class RetentionStats:
    tenant: str
    cutoff: dt.date | None = None
    months: list[str] = field(default_factory=list)
    rows: int = 0
    dropped_partitions: list[str] = field(default_factory=list)


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def retention_cutoff(tenant: Tenant, *, today: dt.date | None = None) -> dt.date | None:
    """The first tenant-local day kept in the log, or None when the tenant keeps everything."""
    if not tenant.log_retention_months:
        return None
    today = today or dt.datetime.now(tenant.zoneinfo).date()
    return _add_months(today.replace(day=1), -tenant.log_retention_months)


def _local_midnight(day: dt.date, tenant: Tenant) -> dt.datetime:
    try:
        return dt.datetime.combine(day, dt.time.min, tzinfo=tenant.zoneinfo).astimezone(dt.UTC)
    except OverflowError:  # the first day of year 1 east of UTC
        return dt.datetime.min.replace(tzinfo=dt.UTC)


def _local_month(at: dt.datetime, tenant: Tenant) -> dt.date:
    try:
        return at.astimezone(tenant.zoneinfo).date().replace(day=1)
    except OverflowError:  # year 1 west of UTC (a zero time sent by a client)
        return dt.date(1, 1, 1)


def _columns() -> list[str]:
    return [f.attname for f in ActivityEvent._meta.concrete_fields]


def archive_read(path: str, *, storage: Storage | None = None) -> list[dict]:
    """The events of one archive file, as written (one dict per event, ``id`` order)."""
    with (storage or default_storage).open(path, "rb") as fh, gzip.open(fh, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def _write(tenant: Tenant, start: dt.datetime, end: dt.datetime, tmp) -> tuple[list[int], str]:
    """Stream the month's events into ``tmp`` (gzip JSON lines); returns the ids and the file's SHA-256."""
    ids: list[int] = []
    columns = _columns()
    with gzip.GzipFile(fileobj=tmp, mode="wb", mtime=0) as gz:
        rows = (
            ActivityEvent.objects.filter(tenant=tenant, occurred_at__gte=start, occurred_at__lt=end)
            .order_by("id")
            .values_list(*columns)
        )
        for row in rows.iterator(chunk_size=_CHUNK):
            record = dict(zip(columns, row, strict=True))
            ids.append(record["id"])
            gz.write((json.dumps(record, cls=DjangoJSONEncoder, ensure_ascii=False) + "\n").encode())
    tmp.seek(0)
    digest = hashlib.sha256()
    for block in iter(lambda: tmp.read(1 << 20), b""):
        digest.update(block)
    tmp.seek(0)
    return ids, digest.hexdigest()


def _verify(storage: Storage, path: str, sha256: str, ids: list[int]) -> None:
    digest = hashlib.sha256()
    with storage.open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != sha256:
        raise RuntimeError(f"archive {path}: checksum differs after writing")
    read_ids = [row["id"] for row in archive_read(path, storage=storage)]
    if read_ids != ids:
        raise RuntimeError(f"archive {path}: {len(read_ids)} rows read back, {len(ids)} written")


def _delete(tenant: Tenant, start: dt.datetime, end: dt.datetime, ids: list[int]) -> int:
    """Remove exactly these events through the sanctioned path (see the module docstring)."""
    # An xAPI statement keeps its verbatim payload; only its link to the archived event goes.
    XapiStatement.objects.filter(tenant=tenant, mapped_event_id__in=ids).update(mapped_event=None)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT shien_activity_archive_delete(%s, %s, %s, %s)", [tenant.pk, start, end, ids])
            return cursor.fetchone()[0]
    deleted = 0
    with log_unlocked("archive"):
        for at in range(0, len(ids), 500):
            deleted += ActivityEvent.objects.filter(tenant=tenant, id__in=ids[at : at + 500])._raw_delete(connection.alias)
    return deleted


def _archive_month(tenant: Tenant, month: dt.date, end_day: dt.date, storage: Storage) -> tuple[int, str]:
    start, end = _local_midnight(month, tenant), _local_midnight(end_day, tenant)
    base = f"{ARCHIVE_DIR}/t{tenant.pk}/{month:%Y-%m}"
    earlier = ActivityArchive.objects.filter(tenant=tenant, month=month).count()
    stem = base if not earlier else f"{base}-{earlier + 1}"  # late events of an archived month: a second part
    with transaction.atomic(), tempfile.TemporaryFile() as tmp:
        ids, sha256 = _write(tenant, start, end, tmp)
        if not ids:
            return 0, ""
        path = storage.save(f"{stem}.jsonl.gz", File(tmp))
        try:
            _verify(storage, path, sha256, ids)
            manifest = {
                "format": "jsonl.gz",
                "tenant": tenant.slug,
                "tenant_id": tenant.pk,
                "month": f"{month:%Y-%m}",
                "time_zone": tenant.time_zone,
                "occurred_from": start.isoformat(),
                "occurred_before": end.isoformat(),
                "file": path.rsplit("/", 1)[-1],
                "rows": len(ids),
                "first_id": ids[0],
                "last_id": ids[-1],
                "sha256": sha256,
                "columns": _columns(),
                "created_at": dt.datetime.now(dt.UTC).isoformat(),
            }
            manifest_path = storage.save(
                f"{stem}.manifest.json", ContentFile(json.dumps(manifest, ensure_ascii=False, indent=2).encode())
            )
            deleted = _delete(tenant, start, end, ids)
            if deleted != len(ids):
                raise RuntimeError(f"archive {path}: {deleted} rows removed from the log, {len(ids)} archived")
            archive = ActivityArchive.objects.create(
                tenant=tenant, month=month, path=path, manifest_path=manifest_path, rows=len(ids), sha256=sha256
            )
            audit_record(
                tenant=tenant, actor=None, action="log.archived", target=archive,
                after={"month": f"{month:%Y-%m}", "rows": len(ids), "file": path, "sha256": sha256},
            )
        except BaseException:
            storage.delete(path)
            raise
    return len(ids), path


def log_archive_tenant(*, tenant: Tenant, today: dt.date | None = None, storage: Storage | None = None) -> RetentionStats:
    """Archive and remove the tenant's events older than its retention policy (idempotent: a
    second run finds nothing to do). Must run inside the tenant's scope."""
    stats = RetentionStats(tenant=tenant.slug, cutoff=retention_cutoff(tenant, today=today))
    if stats.cutoff is None:
        return stats
    storage = storage or default_storage
    oldest = (
        ActivityEvent.objects.filter(tenant=tenant, occurred_at__lt=_local_midnight(stats.cutoff, tenant))
        .order_by("occurred_at")
        .values_list("occurred_at", flat=True)
        .first()
    )
    if oldest is not None:
        month = _local_month(oldest, tenant)
        while month < stats.cutoff:
            end_day = min(_add_months(month, 1), stats.cutoff)
            rows, _path = _archive_month(tenant, month, end_day, storage)
            if rows:
                stats.months.append(f"{month:%Y-%m}")
                stats.rows += rows
            month = end_day
            if month < stats.cutoff:  # skip empty stretches in one step
                nxt = (
                    ActivityEvent.objects.filter(
                        tenant=tenant,
                        occurred_at__gte=_local_midnight(month, tenant),
                        occurred_at__lt=_local_midnight(stats.cutoff, tenant),
                    )
                    .order_by("occurred_at")
                    .values_list("occurred_at", flat=True)
                    .first()
                )
                if nxt is None:
                    break
                month = max(month, _local_month(nxt, tenant))
    # A monthly partition (UTC bounds) ending before the cutoff may now be empty for every tenant.
    stats.dropped_partitions = partitions_prune(before=_local_midnight(stats.cutoff, tenant).date().replace(day=1))
    return stats
