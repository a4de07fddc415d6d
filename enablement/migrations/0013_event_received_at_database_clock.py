"""``ActivityEvent.received_at`` is written by the database's clock (``DEFAULT now()``), not by
the clock of whichever web node handled the request.

SQLite cannot change a column default in place: Django rebuilds the table, which drops its
triggers, so the append-only triggers are created again right after.
"""

import importlib

import django.db.models.functions.datetime
from django.db import migrations, models

append_only = importlib.import_module("enablement.migrations.0003_activity_log_append_only")


def _sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for sql in (*append_only.SQLITE_BACKWARD, *append_only.SQLITE_FORWARD):
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [
        ("enablement", "0012_audience_rules"),
    ]

    operations = [
        migrations.AlterField(
            model_name="activityevent",
            name="received_at",
            field=models.DateTimeField(db_default=django.db.models.functions.datetime.Now()),
        ),
        migrations.RunPython(_sqlite_triggers, _sqlite_triggers),
    ]
