from django.db import migrations, models


def forget_summaries(apps, schema_editor):
    """The stored counts are per tenant; the per-partner ones are written by the next KPI run (until
    then the page computes live: no summary is current)."""
    apps.get_model("kpis", "OverviewPairCount").objects.all().delete()
    apps.get_model("kpis", "OverviewAtRisk").objects.all().delete()
    apps.get_model("kpis", "OverviewSummary").objects.all().delete()


class Migration(migrations.Migration):

    dependencies = [
        ('kpis', '0029_derived_tables_no_tenant_index'),
    ]

    operations = [
        migrations.RunPython(forget_summaries, migrations.RunPython.noop),
        migrations.AddField(
            model_name='overviewpaircount',
            name='partner_id',
            field=models.BigIntegerField(default=0),
            preserve_default=False,
        ),
        migrations.AddIndex(
            model_name='overviewpaircount',
            index=models.Index(fields=['tenant', 'partner_id'], name='overview_pairs_partner'),
        ),
    ]
