# XapiStatement moves from the enablement app to lrs: the table (enablement_xapistatement) stays,
# only Django's model state moves (the enablement migration 0011 deletes it from that app's state).

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('enablement', '0010_xapi_statement'),
        ('partners', '0002_api_throttle_table'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='XapiStatement',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('statement_id', models.UUIDField()),
                        ('payload', models.JSONField(help_text="The statement as received, plus the LRS-set 'stored' and 'authority'.")),
                        ('verb_id', models.CharField(max_length=500)),
                        ('actor_key', models.CharField(help_text='mbox, mbox_sha1sum, openid or account homePage|name.', max_length=500)),
                        ('activity_id', models.CharField(blank=True, default='', max_length=1000)),
                        ('registration', models.UUIDField(blank=True, null=True)),
                        ('timestamp', models.DateTimeField()),
                        ('stored', models.DateTimeField(default=django.utils.timezone.now)),
                        ('voided', models.BooleanField(default=False)),
                        ('voids_statement_id', models.UUIDField(blank=True, help_text='Set on a voiding statement.', null=True)),
                        ('unmapped', models.BooleanField(default=False)),
                        ('unmapped_reason', models.CharField(blank=True, default='', max_length=200)),
                        ('mapped_event', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='enablement.activityevent')),
                        ('tenant', models.ForeignKey(editable=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='partners.tenant')),
                    ],
                    options={
                        'verbose_name': 'xAPI statement',
                        'verbose_name_plural': 'xAPI statements',
                        'db_table': 'enablement_xapistatement',
                        'indexes': [models.Index(fields=['tenant', 'stored', 'id'], name='xapi_tenant_stored'), models.Index(fields=['tenant', 'verb_id'], name='xapi_tenant_verb'), models.Index(fields=['tenant', 'actor_key'], name='xapi_tenant_actor'), models.Index(fields=['tenant', 'activity_id'], name='xapi_tenant_activity'), models.Index(fields=['tenant', 'unmapped'], name='xapi_tenant_unmapped')],
                        'constraints': [models.UniqueConstraint(fields=('tenant', 'statement_id'), name='uniq_xapi_statement_id')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
