"""PatternRun and PatternItem moved to the patterns context (kpis.patterns): state only, the tables stay."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('kpis', '0012_daily_fact_negative_count'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(
                    model_name='patternitem',
                    name='pattern_item_run_rank',
                ),
                migrations.RemoveIndex(
                    model_name='patternrun',
                    name='pattern_run_latest',
                ),
                migrations.RemoveField(
                    model_name='patternrun',
                    name='playbook',
                ),
                migrations.RemoveField(
                    model_name='patternrun',
                    name='tenant',
                ),
                migrations.DeleteModel(
                    name='PatternItem',
                ),
                migrations.DeleteModel(
                    name='PatternRun',
                ),
            ],
            database_operations=[],
        ),
    ]
