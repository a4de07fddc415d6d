"""The audit log's one sanctioned UPDATE: erasure of a person (``enablement.services.erasure``)
replaces the person's identity in ``actor_label``, ``target_label``, ``before`` and ``after`` —
nothing else may change, and nothing else may UPDATE or DELETE (0009 stays the rule).

* PostgreSQL: the append-only trigger lets an UPDATE through only while the transaction-local
  setting ``shien.audit_unlock`` is ``erase`` and every other column is unchanged; the setting is
  made only inside ``shien_audit_rewrite_identity``, run as the table owner (SECURITY DEFINER), which
  ``enablement.logstore`` makes callable by the owner and the application role only.
* SQLite: the UPDATE trigger asks ``shien_log_unlock()`` (``enablement.logstore.log_unlocked``),
  like the activity log's, and compares every other column.
"""

from django.db import migrations

T = "partners_auditevent"

PG_REFUSE = f"""
CREATE OR REPLACE FUNCTION {T}_refuse() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND COALESCE(current_setting('shien.audit_unlock', true), '') = 'erase'
     AND (to_jsonb(NEW) - 'actor_label' - 'target_label' - 'before' - 'after')
       = (to_jsonb(OLD) - 'actor_label' - 'target_label' - 'before' - 'after') THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION USING MESSAGE = 'audit log is append-only: ' || TG_OP || ' refused',
                        ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;"""

PG_OLD_REFUSE = f"""
CREATE OR REPLACE FUNCTION {T}_refuse() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION USING MESSAGE = 'audit log is append-only: ' || TG_OP || ' refused',
                        ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;"""

PG_REWRITE = f"""
CREATE OR REPLACE FUNCTION shien_audit_rewrite_identity(p_ids bigint[], p_actor_labels text[], p_target_labels text[],
                                                        p_befores jsonb[], p_afters jsonb[]) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  n bigint;
BEGIN
  PERFORM set_config('shien.audit_unlock', 'erase', true);
  UPDATE {T} a SET actor_label = r.actor_label, target_label = r.target_label, before = r.before, after = r.after
    FROM unnest(p_ids, p_actor_labels, p_target_labels, p_befores, p_afters)
         AS r(id, actor_label, target_label, before, after)
   WHERE a.id = r.id;
  GET DIAGNOSTICS n = ROW_COUNT;
  PERFORM set_config('shien.audit_unlock', '', true);
  RETURN n;
END $$;"""  # noqa: S608 (constant SQL: the table name is this module's)

SQLITE_TRIGGER = f"""
CREATE TRIGGER {T}_no_update BEFORE UPDATE ON {T}
   WHEN shien_log_unlock() IS NOT 'erase'
     OR new.id IS NOT old.id OR new.tenant_id IS NOT old.tenant_id OR new.actor_id IS NOT old.actor_id
     OR new.action IS NOT old.action OR new.target_type IS NOT old.target_type OR new.target_id IS NOT old.target_id
     OR new.ip IS NOT old.ip OR new.created_at IS NOT old.created_at
   BEGIN SELECT RAISE(ABORT, 'audit log is append-only: UPDATE refused'); END;"""
SQLITE_OLD_TRIGGER = f"""
CREATE TRIGGER {T}_no_update BEFORE UPDATE ON {T}
   BEGIN SELECT RAISE(ABORT, 'audit log is append-only: UPDATE refused'); END;"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_REFUSE)
        schema_editor.execute(PG_REWRITE)
    elif schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {T}_no_update")
        schema_editor.execute(SQLITE_TRIGGER)
    else:
        raise RuntimeError(f"No append-only trigger for database vendor {schema_editor.connection.vendor!r}")


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS shien_audit_rewrite_identity(bigint[], text[], text[], jsonb[], jsonb[])")
        schema_editor.execute(PG_OLD_REFUSE)
    else:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {T}_no_update")
        schema_editor.execute(SQLITE_OLD_TRIGGER)


class Migration(migrations.Migration):
    dependencies = [("partners", "0012_log_retention")]

    operations = [migrations.RunPython(forward, backward)]
