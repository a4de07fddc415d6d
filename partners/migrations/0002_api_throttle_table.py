"""The table of the API throttle counters (a Django DatabaseCache: no Redis in the request path)."""

from django.core.management.commands.createcachetable import Command as CreateCacheTable
from django.db import migrations

TABLE = "shien_api_throttle"


def create(apps, schema_editor):
    cmd = CreateCacheTable()
    cmd.verbosity = 0
    cmd.create_table(schema_editor.connection.alias, TABLE, False)


def drop(apps, schema_editor):
    schema_editor.execute(f"DROP TABLE IF EXISTS {schema_editor.quote_name(TABLE)}")


class Migration(migrations.Migration):
    dependencies = [("partners", "0001_initial")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
