"""What it means: the period calendar, the set-based rollup of the log into daily facts and
completion states, the KPI metrics, definitions, targets and results, the Celery tasks that run
them, and the channel managers' dashboards (``dashboards/``). Dashboards read facts and results,
never the raw log. ``kpis.patterns`` (success patterns) sits on top; nothing here imports it."""
