# The agent/activity index and the canonical activities for statements stored before the index
# existed (set-based per batch of 2,000 statements; a re-run adds nothing twice).

from django.db import migrations


def backfill(apps, schema_editor):
    from enablement.lrs.shapes import activities_with_definitions, merge_definition, related

    Statement = apps.get_model("lrs", "XapiStatement")
    Agent = apps.get_model("lrs", "StatementAgent")
    Act = apps.get_model("lrs", "StatementActivity")
    Activity = apps.get_model("lrs", "Activity")
    last = 0
    while True:
        batch = list(Statement._base_manager.filter(pk__gt=last).order_by("pk").values_list("pk", "tenant_id", "payload")[:2000])
        if not batch:
            return
        last = batch[-1][0]
        agents, acts, definitions = [], [], {}
        for pk, tenant_id, payload in batch:
            stmt = {k: v for k, v in payload.items() if not k.startswith("_")}
            a, b = related(stmt)
            agents += [Agent(tenant_id=tenant_id, statement_id=pk, agent_key=k[:500], direct=d) for k, d in a]
            acts += [Act(tenant_id=tenant_id, statement_id=pk, activity_id=i[:1000], direct=d) for i, d in b]
            for activity in activities_with_definitions(stmt):
                key = (tenant_id, activity["id"][:1000])
                definitions[key] = merge_definition(definitions.get(key, {}), activity.get("definition") or {})
        Agent._base_manager.bulk_create(agents, ignore_conflicts=True)
        Act._base_manager.bulk_create(acts, ignore_conflicts=True)
        for (tenant_id, activity_id), definition in definitions.items():
            row = Activity._base_manager.filter(tenant_id=tenant_id, activity_id=activity_id).first()
            if row is None:
                Activity._base_manager.create(tenant_id=tenant_id, activity_id=activity_id, definition=definition)
            else:
                row.definition = merge_definition(row.definition or {}, definition)
                row.save(update_fields=["definition"])
        refs = [(pk, p["object"]["id"]) for pk, _t, p in batch if p["object"].get("objectType") == "StatementRef"]
        for pk, ref in refs:
            Statement._base_manager.filter(pk=pk).update(ref_statement_id=ref)


class Migration(migrations.Migration):

    dependencies = [
        ('lrs', '0002_index_tables_and_documents'),
    ]

    operations = [
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
