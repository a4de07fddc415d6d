"""PatternRun and PatternItem, moved here from kpis: state only, the tables were created by kpis 0010."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def move_content_types(apps, schema_editor):
    """Existing databases: the content types (and so permissions, admin history) follow the models."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in ['patternrun', 'patternitem']:
        if not ContentType.objects.filter(app_label="patterns", model=model).exists():
            ContentType.objects.filter(app_label="kpis", model=model).update(app_label="patterns")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('kpis', '0013_patterns_moved_to_patterns'),
        ('enablement', '0010_xapi_statement'),
        ('partners', '0003_deal_moved_to_deals'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='PatternRun',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('window_start', models.DateField(verbose_name='window start')),
                        ('window_end', models.DateField(help_text='Inclusive.', verbose_name='window end')),
                        ('top_share', models.DecimalField(decimal_places=3, default=0.2, max_digits=4, verbose_name='top share')),
                        ('metric', models.CharField(choices=[('revenue', 'Won revenue'), ('deals', 'Won deals')], default='revenue', max_length=16, verbose_name='outcome metric')),
                        ('top_n', models.PositiveIntegerField(default=0, verbose_name='top partners')),
                        ('other_n', models.PositiveIntegerField(default=0, verbose_name='other partners')),
                        ('status', models.CharField(choices=[('running', 'Running'), ('ok', 'Done'), ('insufficient', 'Not enough data'), ('failed', 'Failed')], default='running', max_length=16, verbose_name='status')),
                        ('note', models.TextField(blank=True, default='', verbose_name='note')),
                        ('computed_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='computed')),
                        ('playbook', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='enablement.learningpath', verbose_name='playbook')),
                        ('tenant', models.ForeignKey(editable=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='partners.tenant')),
                    ],
                    options={
                        'verbose_name': 'success pattern run',
                        'verbose_name_plural': 'success pattern runs',
                        'db_table': 'kpis_patternrun',
                        'ordering': ['-computed_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='PatternItem',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('rank', models.PositiveIntegerField(default=0, verbose_name='rank')),
                        ('item_type', models.CharField(choices=[('asset', 'Asset'), ('learning_path', 'Learning path'), ('support_activity_kind', 'Support activity')], max_length=32, verbose_name='type')),
                        ('activity_kind', models.CharField(blank=True, choices=[('meeting', 'Meeting'), ('workshop', 'Workshop'), ('call', 'Call'), ('email', 'Email'), ('co_selling', 'Co-selling'), ('other', 'Other')], default='', max_length=16)),
                        ('top_count', models.PositiveIntegerField(default=0)),
                        ('top_n', models.PositiveIntegerField(default=0)),
                        ('other_count', models.PositiveIntegerField(default=0)),
                        ('other_n', models.PositiveIntegerField(default=0)),
                        ('share_top', models.FloatField(default=0)),
                        ('share_other', models.FloatField(default=0)),
                        ('lift', models.FloatField(blank=True, null=True)),
                        ('ci_low', models.FloatField(blank=True, null=True)),
                        ('ci_high', models.FloatField(blank=True, null=True)),
                        ('median_days_from_joining', models.FloatField(blank=True, null=True)),
                        ('typical_order', models.FloatField(blank=True, help_text='Median rank of first consumption among top partners.', null=True)),
                        ('asset', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='enablement.asset')),
                        ('path', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='enablement.learningpath')),
                        ('tenant', models.ForeignKey(editable=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='partners.tenant')),
                        ('run', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='items', to='patterns.patternrun')),
                    ],
                    options={
                        'verbose_name': 'success pattern item',
                        'verbose_name_plural': 'success pattern items',
                        'db_table': 'kpis_patternitem',
                        'ordering': ['run', 'rank'],
                    },
                ),
                migrations.AddIndex(
                    model_name='patternrun',
                    index=models.Index(fields=['tenant', 'status', 'computed_at'], name='pattern_run_latest'),
                ),
                migrations.AddIndex(
                    model_name='patternitem',
                    index=models.Index(fields=['tenant', 'run', 'rank'], name='pattern_item_run_rank'),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, migrations.RunPython.noop),
    ]
