"""PostgreSQL: the activity log becomes a table partitioned by month of ``occurred_at``.

What changes in the database (Django's model is the same):

* ``enablement_activityevent`` is ``PARTITION BY RANGE (occurred_at)``: one partition per calendar
  month (UTC bounds, ``enablement_activityevent_pYYYYMM``) plus ``enablement_activityevent_default``
  for anything outside them. The existing rows are copied (rename → create partitioned → copy →
  drop the old table). Indexes are declared on the parent, so every partition has them.
* The primary key is ``(id, occurred_at)`` (a partitioned table's unique keys must contain the
  partition key); ``id`` still comes from one sequence and stays unique.
* The idempotency key ``(tenant, source, event_id)`` moves to ``enablement_activityeventkey``
  (global, not partitioned): ingest writes keys and events in one statement; a row trigger writes
  the key for every other insert, so a duplicate is refused whichever path inserts it.
* The append-only trigger now lets two sanctioned paths through, each a SECURITY DEFINER function
  that sets a transaction-local flag the trigger checks: ``shien_activity_archive_delete``
  (retention: DELETE of archived rows) and ``shien_activity_rewrite_identity`` (erasure: UPDATE
  of ``actor_ref``/``extra`` only). The application role keeps no UPDATE/DELETE privilege.
* ``shien_activity_partitions_ensure(months)`` creates the coming months' partitions (beat task
  and every ``migrate``), ``shien_activity_partitions_prune()`` drops past partitions left empty
  by retention. Both run as the owner (SECURITY DEFINER), so the application role may call them.
* The foreign key from ``enablement_xapistatement.mapped_event_id`` cannot point at a partitioned
  table's ``id`` alone; it is dropped in the database (Django still treats it as a relation).

SQLite keeps one table; its append-only triggers learn the same sanctioned paths through a
function the connection registers (``enablement.logstore``).
"""

import datetime

from django.db import migrations
from django_scopes import scopes_disabled

T = "enablement_activityevent"
OLD = "enablement_activityevent_unpartitioned"
KEYS = "enablement_activityeventkey"
UNIQUE = "uniq_event_id_per_source"
SEQ = "enablement_activityevent_id_seq"

REFUSE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION enablement_activityevent_refuse() RETURNS trigger AS $$
DECLARE
  unlock text := COALESCE(current_setting('shien.log_unlock', true), '');
BEGIN
  IF TG_OP = 'DELETE' AND unlock = 'archive' THEN
    RETURN OLD;
  END IF;
  IF TG_OP = 'UPDATE' AND unlock = 'erase'
     AND (to_jsonb(NEW) - 'actor_ref' - 'extra') = (to_jsonb(OLD) - 'actor_ref' - 'extra') THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION USING MESSAGE = 'activity log is append-only: ' || TG_OP || ' refused',
                        ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;"""

OLD_REFUSE_FUNCTION = """
CREATE OR REPLACE FUNCTION enablement_activityevent_refuse() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION USING MESSAGE = 'activity log is append-only: ' || TG_OP || ' refused',
                        ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;"""

KEY_FUNCTION = f"""
CREATE OR REPLACE FUNCTION enablement_activityevent_key() RETURNS trigger AS $$
BEGIN
  -- ingest writes the keys itself in the same statement and says so for that statement only
  IF COALESCE(current_setting('shien.keys_written', true), '') = 'on' THEN
    RETURN NEW;
  END IF;
  INSERT INTO {KEYS} (tenant_id, source, event_id) VALUES (NEW.tenant_id, NEW.source, NEW.event_id);
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;"""

# Set up one partition like its parent: the parent's tenant policy (forced), the TRUNCATE guard,
# and no UPDATE/DELETE/TRUNCATE for any role but the owner (default privileges may have granted
# them to the application role). The row triggers and indexes come from the parent by themselves.
SETUP_FUNCTION = f"""
CREATE OR REPLACE FUNCTION shien_activity_partition_setup(p_child regclass) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  pol record;
  grantee text;
BEGIN
  FOR pol IN SELECT polname, pg_get_expr(polqual, polrelid) AS q, pg_get_expr(polwithcheck, polrelid) AS c
             FROM pg_policy WHERE polrelid = '{T}'::regclass LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = p_child AND polname = pol.polname) THEN
      EXECUTE format('CREATE POLICY %I ON %s USING (%s) WITH CHECK (%s)', pol.polname, p_child, pol.q,
                     COALESCE(pol.c, pol.q));
    END IF;
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', p_child);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', p_child);
  END LOOP;
  IF to_regprocedure('shien_refuse_truncate()') IS NOT NULL AND NOT EXISTS (
       SELECT 1 FROM pg_trigger WHERE tgrelid = p_child AND tgname = 'shien_refuse_truncate') THEN
    EXECUTE format('CREATE TRIGGER shien_refuse_truncate BEFORE TRUNCATE ON %s '
                   'FOR EACH STATEMENT EXECUTE FUNCTION shien_refuse_truncate()', p_child);
  END IF;
  EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON %s FROM PUBLIC', p_child);
  FOR grantee IN SELECT DISTINCT r.rolname FROM pg_class c, aclexplode(c.relacl) a
                 JOIN pg_roles r ON r.oid = a.grantee
                 WHERE c.oid = p_child AND a.grantee <> c.relowner LOOP
    EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON %s FROM %I', p_child, grantee);
  END LOOP;
END $$;"""

ENSURE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION shien_activity_partitions_ensure(p_first date, p_months int) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  m date := date_trunc('month', p_first)::date;
  name text;
  made int := 0;
BEGIN
  IF to_regclass('{T}_default') IS NULL THEN
    EXECUTE format('CREATE TABLE %I PARTITION OF {T} DEFAULT', '{T}_default');
    PERFORM shien_activity_partition_setup('{T}_default'::regclass);
  END IF;
  FOR i IN 0 .. GREATEST(p_months, 0) LOOP
    name := '{T}_p' || to_char(m, 'YYYYMM');
    IF to_regclass(name) IS NULL THEN
      BEGIN
        EXECUTE format('CREATE TABLE %I PARTITION OF {T} FOR VALUES FROM (%L) TO (%L)', name,
                       m::timestamp AT TIME ZONE 'UTC', (m + interval '1 month')::timestamp AT TIME ZONE 'UTC');
        PERFORM shien_activity_partition_setup(name::regclass);
        made := made + 1;
      EXCEPTION WHEN check_violation THEN
        -- the default partition already holds rows of that month: they stay there
        RAISE NOTICE 'partition % not created: the default partition holds rows of that month', name;
      END;
    END IF;
    m := (m + interval '1 month')::date;
  END LOOP;
  RETURN made;
END $$;"""

PRUNE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION shien_activity_partitions_prune(p_before date) RETURNS text[]
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  part record;
  dropped text[] := '{{}}';
  has_rows boolean;
  saved text := COALESCE(current_setting('app.all_tenants', true), '');
BEGIN
  PERFORM set_config('app.all_tenants', 'on', true);  -- emptiness is judged across all tenants
  FOR part IN SELECT c.oid::regclass AS rel, c.relname
              FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
              WHERE i.inhparent = '{T}'::regclass AND c.relname ~ '_p[0-9]{{6}}$'
                AND to_date(right(c.relname, 6), 'YYYYMM') + interval '1 month' <= p_before
              ORDER BY c.relname LOOP
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s)', part.rel) INTO has_rows;
    IF NOT has_rows THEN
      EXECUTE format('DROP TABLE %s', part.rel);
      dropped := dropped || part.relname::text;
    END IF;
  END LOOP;
  PERFORM set_config('app.all_tenants', saved, true);
  RETURN dropped;
END $$;"""

ARCHIVE_DELETE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION shien_activity_archive_delete(p_tenant bigint, p_from timestamptz, p_to timestamptz,
                                                         p_ids bigint[]) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  n bigint;
BEGIN
  PERFORM set_config('shien.log_unlock', 'archive', true);
  DELETE FROM {T} WHERE tenant_id = p_tenant AND occurred_at >= p_from AND occurred_at < p_to AND id = ANY (p_ids);
  GET DIAGNOSTICS n = ROW_COUNT;
  PERFORM set_config('shien.log_unlock', '', true);
  RETURN n;
END $$;"""

REWRITE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION shien_activity_rewrite_identity(p_tenant bigint, p_ids bigint[], p_actor_refs text[],
                                                           p_extras jsonb[]) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  n bigint;
BEGIN
  PERFORM set_config('shien.log_unlock', 'erase', true);
  UPDATE {T} e SET actor_ref = r.actor_ref, extra = r.extra
    FROM unnest(p_ids, p_actor_refs, p_extras) AS r(id, actor_ref, extra)
   WHERE e.tenant_id = p_tenant AND e.id = r.id;
  GET DIAGNOSTICS n = ROW_COUNT;
  PERFORM set_config('shien.log_unlock', '', true);
  RETURN n;
END $$;"""

FUNCTIONS = [
    "shien_activity_partition_setup(regclass)",
    "shien_activity_partitions_ensure(date, integer)",
    "shien_activity_partitions_prune(date)",
    "shien_activity_archive_delete(bigint, timestamp with time zone, timestamp with time zone, bigint[])",
    "shien_activity_rewrite_identity(bigint, bigint[], text[], jsonb[])",
]

# SQLite: the same two sanctioned paths, through a function each connection registers
# (enablement.logstore.register_sqlite_functions); without it the statement fails (still refused).
SQLITE_FORWARD = [
    """CREATE TRIGGER enablement_activityevent_no_update BEFORE UPDATE ON enablement_activityevent
       WHEN shien_log_unlock() IS NOT 'erase'
         OR new.id IS NOT old.id OR new.tenant_id IS NOT old.tenant_id OR new.partner_id IS NOT old.partner_id
         OR new.user_id IS NOT old.user_id OR new.asset_id IS NOT old.asset_id OR new.verb IS NOT old.verb
         OR new.occurred_at IS NOT old.occurred_at OR new.received_at IS NOT old.received_at
         OR new.progress IS NOT old.progress OR new.seconds IS NOT old.seconds OR new.position IS NOT old.position
         OR new.played_segments IS NOT old.played_segments OR new.query IS NOT old.query
         OR new.result_count IS NOT old.result_count OR new.resolved IS NOT old.resolved
         OR new.source IS NOT old.source OR new.event_id IS NOT old.event_id
         OR new.session_key IS NOT old.session_key OR new.trusted IS NOT old.trusted
       BEGIN SELECT RAISE(ABORT, 'activity log is append-only: UPDATE refused'); END;""",
    """CREATE TRIGGER enablement_activityevent_no_delete BEFORE DELETE ON enablement_activityevent
       WHEN shien_log_unlock() IS NOT 'archive'
       BEGIN SELECT RAISE(ABORT, 'activity log is append-only: DELETE refused'); END;""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS enablement_activityevent_no_update;",
    "DROP TRIGGER IF EXISTS enablement_activityevent_no_delete;",
]


def _definitions(cursor, table):
    """Indexes (not those behind constraints) and foreign-key/check constraints of ``table``."""
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
        "AND contype IN ('f', 'c') ORDER BY conname",
        [table],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() AND i.tablename = %s "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname AND c.conrelid = %s::regclass) "
        "ORDER BY i.indexname",
        [table, table],
    )
    indexes = cursor.fetchall()
    return constraints, indexes


def _recreate(cursor, table, constraints, indexes, *, only=False):
    for name, definition in indexes:
        # "CREATE INDEX name ON [ONLY] public.table USING …": re-aim it at the new table
        head, _, tail = definition.partition(" USING ")
        cursor.execute(f'CREATE INDEX "{name}" ON "{table}" USING {tail}')
    for name, definition in constraints:
        cursor.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')


def _drop_incoming_fks(cursor):
    cursor.execute(
        "SELECT conrelid::regclass::text, conname FROM pg_constraint WHERE confrelid = %s::regclass AND contype = 'f'", [T]
    )
    for table, name in cursor.fetchall():
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')


def _policy(cursor, table):
    cursor.execute(
        "SELECT polname, pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid) FROM pg_policy "
        "WHERE polrelid = %s::regclass",
        [table],
    )
    return cursor.fetchall()


def _swap_prologue(cursor):
    """Rename the current table out of the way (with its sequence); returns what to carry over."""
    constraints, indexes = _definitions(cursor, T)
    policies = _policy(cursor, T)
    _drop_incoming_fks(cursor)
    cursor.execute(f"SELECT pg_get_serial_sequence('{T}', 'id')")
    (seq,) = cursor.fetchone()
    for name, _q, _c in policies:
        cursor.execute(f'DROP POLICY "{name}" ON "{T}"')
    cursor.execute(f'ALTER TABLE "{T}" DISABLE ROW LEVEL SECURITY')  # forced RLS without a policy shows no row
    cursor.execute(f'ALTER TABLE "{T}" RENAME TO "{OLD}"')
    for name, _definition in indexes:
        cursor.execute(f'ALTER INDEX "{name}" RENAME TO "{name}_old"')
    for name, _definition in constraints:
        cursor.execute(f'ALTER TABLE "{OLD}" RENAME CONSTRAINT "{name}" TO "{name}_old"')
    cursor.execute(f'ALTER TABLE "{OLD}" RENAME CONSTRAINT "{T}_pkey" TO "{T}_pkey_old"')
    return constraints, indexes, policies, seq


def _swap_epilogue(cursor, policies):
    for name, qual, check in policies:
        cursor.execute(f'CREATE POLICY "{name}" ON "{T}" USING ({qual}) WITH CHECK ({check or qual})')
    if policies:
        cursor.execute(f'ALTER TABLE "{T}" ENABLE ROW LEVEL SECURITY')
        cursor.execute(f'ALTER TABLE "{T}" FORCE ROW LEVEL SECURITY')
    cursor.execute(f"SELECT grantee, string_agg(privilege_type, ', ') FROM information_schema.role_table_grants "
                   f"WHERE table_name = %s AND grantee <> current_user GROUP BY grantee", [OLD])
    for grantee, privileges in cursor.fetchall():
        cursor.execute(f'GRANT {privileges} ON "{T}" TO "{grantee}"')
    cursor.execute(f'DROP TABLE "{OLD}"')


def forward(apps, schema_editor):
    with scopes_disabled():  # row-level security: the copy reads and writes every tenant's rows
        _forward(apps, schema_editor)


def backward(apps, schema_editor):
    with scopes_disabled():
        _backward(apps, schema_editor)


def _forward(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "sqlite":
        for sql in [*SQLITE_BACKWARD, *SQLITE_FORWARD]:
            schema_editor.execute(sql)
        return
    if connection.vendor != "postgresql":
        raise RuntimeError(f"No activity log layout for database vendor {connection.vendor!r}")
    with connection.cursor() as cursor:
        constraints, indexes, policies, seq = _swap_prologue(cursor)
        cursor.execute(f'ALTER TABLE "{OLD}" DROP CONSTRAINT "{UNIQUE}"')
        constraints = [(n, d) for n, d in constraints if n != UNIQUE]
        cursor.execute(f"DROP TRIGGER IF EXISTS enablement_activityevent_append_only ON \"{OLD}\"")
        cursor.execute(f"DROP TRIGGER IF EXISTS shien_refuse_truncate ON \"{OLD}\"")
        cursor.execute(f'ALTER SEQUENCE {seq} RENAME TO "{OLD}_id_seq"')
        cursor.execute(
            f'CREATE TABLE "{T}" (LIKE "{OLD}" INCLUDING DEFAULTS INCLUDING STORAGE) PARTITION BY RANGE (occurred_at)'
        )
        cursor.execute(f'CREATE SEQUENCE "{SEQ}" OWNED BY "{T}".id')
        cursor.execute(f"ALTER TABLE \"{T}\" ALTER COLUMN id SET DEFAULT nextval('\"{SEQ}\"')")
        cursor.execute(f"SELECT setval('\"{SEQ}\"', COALESCE((SELECT MAX(id) FROM \"{OLD}\"), 0) + 1, false)")
        cursor.execute(f'ALTER TABLE "{T}" ADD CONSTRAINT "{T}_pkey" PRIMARY KEY (id, occurred_at)')
        for sql in (REFUSE_FUNCTION, KEY_FUNCTION, SETUP_FUNCTION, ENSURE_FUNCTION, PRUNE_FUNCTION,
                    ARCHIVE_DELETE_FUNCTION, REWRITE_FUNCTION):
            cursor.execute(sql)
        # partitions for every month the data spans (from 2000 on) up to three months ahead
        cursor.execute(f'SELECT MIN(occurred_at), now() FROM "{OLD}"')
        oldest, now = cursor.fetchone()
        first = max(min(oldest or now, now), datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)).astimezone(datetime.UTC)
        months = (now.year - first.year) * 12 + now.month - first.month
        cursor.execute("SELECT shien_activity_partitions_ensure(%s, %s)", [first.date(), months + 3])
        cursor.execute(f'INSERT INTO "{T}" SELECT * FROM "{OLD}"')
        cursor.execute(
            f'INSERT INTO "{KEYS}" (tenant_id, source, event_id) SELECT tenant_id, source, event_id FROM "{OLD}" '
            "ON CONFLICT DO NOTHING"
        )
        _recreate(cursor, T, constraints, indexes)
        cursor.execute(
            f'CREATE TRIGGER enablement_activityevent_append_only BEFORE UPDATE OR DELETE ON "{T}" '
            "FOR EACH ROW EXECUTE FUNCTION enablement_activityevent_refuse()"
        )
        cursor.execute(
            f'CREATE TRIGGER enablement_activityevent_key BEFORE INSERT ON "{T}" '
            "FOR EACH ROW EXECUTE FUNCTION enablement_activityevent_key()"
        )
        _swap_epilogue(cursor, policies)
        cursor.execute(
            f"SELECT shien_activity_partition_setup(i.inhrelid::regclass) FROM pg_inherits i "
            f"WHERE i.inhparent = '{T}'::regclass"
        )


def _backward(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "sqlite":
        from importlib import import_module

        old = import_module("enablement.migrations.0003_activity_log_append_only")
        for sql in [*SQLITE_BACKWARD, *old.SQLITE_FORWARD]:
            schema_editor.execute(sql)
        return
    with connection.cursor() as cursor:
        constraints, indexes, policies, seq = _swap_prologue(cursor)
        cursor.execute(f'ALTER SEQUENCE {seq} OWNED BY NONE')
        cursor.execute(f'ALTER SEQUENCE {seq} RENAME TO "{OLD}_id_seq"')
        cursor.execute(f'CREATE TABLE "{T}" (LIKE "{OLD}" INCLUDING STORAGE)')
        cursor.execute(f"SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a ON "
                       f"a.attrelid = d.adrelid AND a.attnum = d.adnum WHERE d.adrelid = '{OLD}'::regclass "
                       f"AND a.attname = 'received_at'")
        row = cursor.fetchone()
        if row:
            cursor.execute(f'ALTER TABLE "{T}" ALTER COLUMN received_at SET DEFAULT {row[0]}')
        cursor.execute(f'ALTER TABLE "{T}" ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY')
        cursor.execute(f'ALTER TABLE "{T}" ADD CONSTRAINT "{T}_pkey" PRIMARY KEY (id)')
        cursor.execute(f'INSERT INTO "{T}" OVERRIDING SYSTEM VALUE SELECT * FROM "{OLD}"')
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('{T}', 'id'), COALESCE((SELECT MAX(id) FROM \"{T}\"), 0) + 1, false)")
        cursor.execute(f'ALTER TABLE "{T}" ADD CONSTRAINT "{UNIQUE}" UNIQUE (tenant_id, source, event_id)')
        _recreate(cursor, T, constraints, indexes)
        cursor.execute(OLD_REFUSE_FUNCTION)
        cursor.execute(
            f'CREATE TRIGGER enablement_activityevent_append_only BEFORE UPDATE OR DELETE ON "{T}" '
            "FOR EACH ROW EXECUTE FUNCTION enablement_activityevent_refuse()"
        )
        _swap_epilogue(cursor, policies)
        cursor.execute(f"DROP SEQUENCE IF EXISTS \"{OLD}_id_seq\"")
        for function in FUNCTIONS:
            cursor.execute(f"DROP FUNCTION IF EXISTS {function}")
        cursor.execute("DROP FUNCTION IF EXISTS enablement_activityevent_key()")
        statement = apps.get_model("lrs", "XapiStatement")
        field = statement._meta.get_field("mapped_event")
        schema_editor.execute(schema_editor._create_fk_sql(statement, field, "_fk_%(to_table)s_%(to_column)s"))


class Migration(migrations.Migration):
    dependencies = [
        ("enablement", "0018_log_retention"),
        ("lrs", "0001_initial"),
    ]

    operations = [migrations.RunPython(forward, backward)]
