from django.db import migrations, models


class Migration(migrations.Migration):
    """UserAssetState.settled_seconds lets the incremental rollup merge states instead of
    recomputing them. Existing rows have no valid value yet, so every tenant's watermark is
    cleared: the next rollup of each tenant is a full one, which fills the column exactly."""

    dependencies = [
        ("kpis", "0010_success_patterns"),
    ]

    operations = [
        migrations.AddField(
            model_name="userassetstate",
            name="settled_seconds",
            field=models.FloatField(
                default=0,
                help_text="Part of seconds from events received up to the rollup's settled boundary "
                "(watermark - overlap): the base the incremental rollup adds new events' seconds to.",
            ),
        ),
        migrations.RunSQL("UPDATE kpis_rollupstate SET watermark = NULL", reverse_sql=migrations.RunSQL.noop),
    ]
