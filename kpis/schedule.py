"""The static Celery beat schedule (imported by prm.settings).

Kept free of Django imports so settings can load it.
"""

from celery.schedules import crontab

CELERY_BEAT_SCHEDULE = {
    # Fan out one incremental rollup per tenant every five minutes.
    "kpis-rollup-all-tenants": {
        "task": "kpis.tasks.rollup_all_tenants",
        "schedule": crontab(minute="*/5"),
        "options": {"expires": 4 * 60},
    },
    # Nightly recompute of the recent periods (late events, changed assignments).
    "kpis-nightly-recompute": {
        "task": "kpis.tasks.recompute_recent_all_tenants",
        "schedule": crontab(hour=3, minute=17),
        "options": {"expires": 60 * 60},
    },
    # Nightly success-pattern mining, after the recompute (reads the fresh states).
    "kpis-nightly-success-patterns": {
        "task": "kpis.patterns.tasks.mine_patterns_all_tenants",
        "schedule": crontab(hour=3, minute=47),
        "options": {"expires": 60 * 60},
    },
    # Daily overdue-assignment notices (deduped per assignment, partner and user).
    "enablement-overdue-assignments": {
        "task": "enablement.tasks.overdue_assignments_notify_all_tenants",
        "schedule": crontab(hour=0, minute=30),
        "options": {"expires": 60 * 60},
    },
    # Monday mornings (Tokyo): the channel managers' weekly digest and the partners' next best actions.
    "kpis-weekly-digest": {
        "task": "kpis.tasks.weekly_digest_all_tenants",
        "schedule": crontab(day_of_week="sun", hour=23, minute=0),  # Sunday 23:00 UTC = Monday 08:00 JST
        "options": {"expires": 6 * 60 * 60},
    },
    "kpis-weekly-next-best-actions": {
        "task": "kpis.patterns.tasks.next_actions_weekly_all_tenants",
        "schedule": crontab(day_of_week="sun", hour=23, minute=15),
        "options": {"expires": 6 * 60 * 60},
    },
}
