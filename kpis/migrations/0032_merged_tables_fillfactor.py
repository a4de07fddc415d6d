"""Leave room on each page of the tables the rollup merges into, so an update can stay on its page.

The incremental rollup updates rows of these five tables in place (``ON CONFLICT DO UPDATE`` of
counts, sums, first/last times); none of the columns it updates is indexed. With free space on the
row's page PostgreSQL writes the new version there as a heap-only tuple and touches none of the
table's indexes; on a full page (the default fillfactor of 100) every update inserts into every
index. At vendor scale nearly every touched state row already exists (bench/vendor.py, 10M events:
12,031 of 13,339 user pairs), so this is most of the merge's writes. The setting applies to pages
written from now on; a ``VACUUM FULL`` or ``pg_repack`` of a table applies it to the rows already
there (docs/operations.md). SQLite has no such setting.
"""

from django.db import migrations

TABLES = (
    "kpis_dailyactivityfact",
    "kpis_dailysourcefact",
    "kpis_faqsearchfact",
    "kpis_userassetstate",
    "kpis_partnerassetstate",
)
FILLFACTOR = 85


def _set(schema_editor, clause):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"ALTER TABLE {schema_editor.quote_name(table)} {clause}")


def forward(apps, schema_editor):
    _set(schema_editor, f"SET (fillfactor = {FILLFACTOR})")


def backward(apps, schema_editor):
    _set(schema_editor, "RESET (fillfactor)")


class Migration(migrations.Migration):

    dependencies = [("kpis", "0031_kpi_result_asset_uses")]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
