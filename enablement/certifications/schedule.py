"""The certifications' Celery beat entry (imported by prm.settings; no Django imports)."""

from celery.schedules import crontab

CELERY_BEAT_SCHEDULE = {
    # Nightly: the full issuing sweep (catches anything an on-commit evaluation missed), then the
    # reminders before expiry (30 and 7 days, each sent once).
    "certifications-nightly": {
        "task": "certifications.tasks.certifications_nightly_all_tenants",
        "schedule": crontab(hour=0, minute=40),
        "options": {"expires": 60 * 60},
    },
}
