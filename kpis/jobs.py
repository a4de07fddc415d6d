"""Enqueue a Celery task by its registered name, bounded in time and never raising.

Services enqueue through here inside ``transaction.on_commit``; they name the task instead of
importing ``kpis.tasks`` (the tasks call the services, not the other way round). The broker's
connect and socket timeouts (settings: ``CELERY_BROKER_*``) bound the wait to about a second; a
broker that is down or hung makes ``enqueue`` return False and the caller records the request
for the next scheduled run. With no broker configured the task runs eagerly, here.
"""

from __future__ import annotations

import logging

from celery import current_app

log = logging.getLogger(__name__)


def enqueue(name: str, *args, **kwargs) -> bool:
    """Send the task ``name``; True when it was handed to the broker (or ran eagerly)."""
    try:
        task = current_app.tasks[name]
    except KeyError:
        log.error("Unknown task %s", name)
        return False
    try:
        task.apply_async(args=args, kwargs=kwargs)
    except Exception as exc:  # kombu OperationalError, timeouts, refused connections; eager: the task's error
        log.warning("Could not run or enqueue %s%r: %s: %s", name, args, type(exc).__name__, exc)
        return False
    return True
