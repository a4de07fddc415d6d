"""The static Celery beat entries of enablement's activity log (imported by prm.settings; no Django imports)."""

from celery.schedules import crontab

CELERY_BEAT_SCHEDULE = {
    # Partitions of the activity log for this month and the next three (PostgreSQL; idempotent).
    "enablement-log-partitions": {
        "task": "enablement.tasks.log_partitions_ensure",
        "schedule": crontab(hour=2, minute=7),
        "options": {"expires": 60 * 60},
    },
    # Retention: archive each tenant's months older than its policy, then drop empty partitions.
    "enablement-log-archive": {
        "task": "enablement.tasks.log_archive_all_tenants",
        "schedule": crontab(hour=2, minute=37),
        "options": {"expires": 60 * 60},
    },
}
