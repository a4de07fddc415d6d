"""The activity log is append-only: UPDATE and DELETE are refused by the database itself.

One set of triggers per vendor (SQLite and PostgreSQL); other vendors are refused loudly.
"""

from django.db import migrations

SQLITE_FORWARD = [
    """CREATE TRIGGER enablement_activityevent_no_update BEFORE UPDATE ON enablement_activityevent
       BEGIN SELECT RAISE(ABORT, 'activity log is append-only: UPDATE refused'); END;""",
    """CREATE TRIGGER enablement_activityevent_no_delete BEFORE DELETE ON enablement_activityevent
       BEGIN SELECT RAISE(ABORT, 'activity log is append-only: DELETE refused'); END;""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS enablement_activityevent_no_update;",
    "DROP TRIGGER IF EXISTS enablement_activityevent_no_delete;",
]
POSTGRES_FORWARD = [
    """CREATE OR REPLACE FUNCTION enablement_activityevent_refuse() RETURNS trigger AS $$
       BEGIN
         RAISE EXCEPTION USING MESSAGE = 'activity log is append-only: ' || TG_OP || ' refused',
                               ERRCODE = 'integrity_constraint_violation';
       END;
       $$ LANGUAGE plpgsql;""",
    """CREATE TRIGGER enablement_activityevent_append_only BEFORE UPDATE OR DELETE ON enablement_activityevent
       FOR EACH ROW EXECUTE FUNCTION enablement_activityevent_refuse();""",
]
POSTGRES_BACKWARD = [
    "DROP TRIGGER IF EXISTS enablement_activityevent_append_only ON enablement_activityevent;",
    "DROP FUNCTION IF EXISTS enablement_activityevent_refuse();",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        if vendor not in statements_by_vendor:
            raise RuntimeError(f"No append-only trigger for database vendor {vendor!r}")
        for sql in statements_by_vendor[vendor]:
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("enablement", "0002_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD}),
            _run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD}),
        ),
    ]
