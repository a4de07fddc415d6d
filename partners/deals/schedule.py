"""The deals context's Celery beat entries (imported by prm.settings; no Django imports)."""

from celery.schedules import crontab

CELERY_BEAT_SCHEDULE = {
    # Daily: expire deal registrations past their date, announce the ones expiring soon.
    "deals-expire-registrations": {
        "task": "partners.deals.tasks.expire_deals_all_tenants",
        "schedule": crontab(hour=0, minute=23),
        "options": {"expires": 60 * 60},
    },
}
