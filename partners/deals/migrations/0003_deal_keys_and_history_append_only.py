"""Fill the customer keys of existing deals, give every existing deal its first history row, set the
expiry of open registrations, and make the stage history append-only (UPDATE and DELETE refused by
the database, like the activity log)."""

import datetime as dt

from django.db import migrations

TABLE = "deals_dealevent"
SQLITE_FORWARD = [
    f"""CREATE TRIGGER {TABLE}_no_update BEFORE UPDATE ON {TABLE}
       BEGIN SELECT RAISE(ABORT, 'deal history is append-only: UPDATE refused'); END;""",
    f"""CREATE TRIGGER {TABLE}_no_delete BEFORE DELETE ON {TABLE}
       BEGIN SELECT RAISE(ABORT, 'deal history is append-only: DELETE refused'); END;""",
]
SQLITE_BACKWARD = [f"DROP TRIGGER IF EXISTS {TABLE}_no_update;", f"DROP TRIGGER IF EXISTS {TABLE}_no_delete;"]
POSTGRES_FORWARD = [
    f"""CREATE OR REPLACE FUNCTION {TABLE}_refuse() RETURNS trigger AS $$
       BEGIN
         RAISE EXCEPTION USING MESSAGE = 'deal history is append-only: ' || TG_OP || ' refused',
                               ERRCODE = 'integrity_constraint_violation';
       END;
       $$ LANGUAGE plpgsql;""",
    f"""CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE}
       FOR EACH ROW EXECUTE FUNCTION {TABLE}_refuse();""",
]
POSTGRES_BACKWARD = [f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE};", f"DROP FUNCTION IF EXISTS {TABLE}_refuse();"]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        if vendor not in statements_by_vendor:
            raise RuntimeError(f"No append-only trigger for database vendor {vendor!r}")
        for sql in statements_by_vendor[vendor]:
            schema_editor.execute(sql)

    return run


def fill(apps, schema_editor):
    from partners.deals.normalize import customer_key

    Deal = apps.get_model("deals", "Deal")
    DealEvent = apps.get_model("deals", "DealEvent")
    Tenant = apps.get_model("partners", "Tenant")
    days = dict(Tenant.objects.values_list("pk", "deal_registration_days"))
    for deal in Deal.objects.all().iterator():
        deal.customer_key = customer_key(deal.customer)
        if deal.stage in ("registered", "approved") and deal.expires_on is None:
            deal.expires_on = deal.created_at.date() + dt.timedelta(days=days.get(deal.tenant_id, 90))
        deal.save(update_fields=["customer_key", "expires_on"])
        DealEvent.objects.create(
            tenant_id=deal.tenant_id, deal=deal, from_stage="", to_stage=deal.stage, actor_id=deal.registered_by_id,
            reason="", at=deal.created_at,
        )


class Migration(migrations.Migration):
    dependencies = [("deals", "0002_deal_conflicts_expiry_history"), ("partners", "0006_tenant_currency_deal_days")]

    operations = [
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD}),
            _run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD}),
        ),
    ]
