"""FAQ full-text search that works for Japanese (no spaces) as well as English.

* SQLite: an FTS5 table with the trigram tokenizer (rowid = asset id), kept in sync with FAQ
  assets by triggers, and back-filled here.
* PostgreSQL: the pg_trgm extension and trigram GIN indexes on FAQ question and answer, so
  ILIKE '%…%' is index-assisted and results can be ranked by similarity.

Queries shorter than three characters cannot be matched by trigrams: enablement.search uses a
plain icontains fallback for those.
"""

from django.db import migrations

SQLITE_FORWARD = [
    """CREATE VIRTUAL TABLE IF NOT EXISTS enablement_faq_fts
       USING fts5(title, body, tokenize='trigram');""",
    """CREATE TRIGGER enablement_faq_fts_ai AFTER INSERT ON enablement_asset WHEN new.kind = 'faq'
       BEGIN INSERT INTO enablement_faq_fts(rowid, title, body) VALUES (new.id, new.title, new.body); END;""",
    """CREATE TRIGGER enablement_faq_fts_ad AFTER DELETE ON enablement_asset WHEN old.kind = 'faq'
       BEGIN DELETE FROM enablement_faq_fts WHERE rowid = old.id; END;""",
    """CREATE TRIGGER enablement_faq_fts_au AFTER UPDATE OF kind, title, body ON enablement_asset
       BEGIN
         DELETE FROM enablement_faq_fts WHERE rowid = old.id;
         INSERT INTO enablement_faq_fts(rowid, title, body) SELECT new.id, new.title, new.body WHERE new.kind = 'faq';
       END;""",
    """INSERT INTO enablement_faq_fts(rowid, title, body)
       SELECT id, title, body FROM enablement_asset WHERE kind = 'faq';""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS enablement_faq_fts_ai;",
    "DROP TRIGGER IF EXISTS enablement_faq_fts_ad;",
    "DROP TRIGGER IF EXISTS enablement_faq_fts_au;",
    "DROP TABLE IF EXISTS enablement_faq_fts;",
]
POSTGRES_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm;",
    """CREATE INDEX IF NOT EXISTS enablement_faq_title_trgm ON enablement_asset
       USING gin (title gin_trgm_ops) WHERE kind = 'faq';""",
    """CREATE INDEX IF NOT EXISTS enablement_faq_body_trgm ON enablement_asset
       USING gin (body gin_trgm_ops) WHERE kind = 'faq';""",
]
POSTGRES_BACKWARD = [
    "DROP INDEX IF EXISTS enablement_faq_title_trgm;",
    "DROP INDEX IF EXISTS enablement_faq_body_trgm;",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        if vendor not in statements_by_vendor:
            raise RuntimeError(f"No FAQ search index for database vendor {vendor!r}")
        for sql in statements_by_vendor[vendor]:
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("enablement", "0003_activity_log_append_only")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD}),
            _run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD}),
        ),
    ]
