"""Deal, moved here from partners: state only, the table partners_deal was created by partners 0001."""

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def move_content_type(apps, schema_editor):
    """Existing databases: the content types (and so permissions, admin history) follow the models."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in ['deal']:
        if not ContentType.objects.filter(app_label="deals", model=model).exists():
            ContentType.objects.filter(app_label="partners", model=model).update(app_label="deals")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('partners', '0003_deal_moved_to_deals'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Deal',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('external_id', models.CharField(blank=True, default='', max_length=100, verbose_name='external id')),
                        ('customer', models.CharField(max_length=200, verbose_name='customer')),
                        ('product', models.CharField(blank=True, default='', max_length=200, verbose_name='product')),
                        ('amount', models.DecimalField(decimal_places=2, max_digits=14, validators=[django.core.validators.MinValueValidator(0)], verbose_name='amount')),
                        ('currency', models.CharField(default='JPY', max_length=3, verbose_name='currency')),
                        ('expected_close_on', models.DateField(blank=True, null=True, verbose_name='expected close date')),
                        ('stage', models.CharField(choices=[('registered', 'Registered'), ('approved', 'Approved'), ('rejected', 'Rejected'), ('won', 'Won'), ('lost', 'Lost')], default='registered', max_length=16, verbose_name='stage')),
                        ('closed_on', models.DateField(blank=True, help_text='Date won or lost.', null=True, verbose_name='closed on')),
                        ('source', models.CharField(choices=[('portal', 'Portal'), ('import', 'CSV import'), ('api', 'API')], default='portal', max_length=16, verbose_name='source')),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name='created')),
                        ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated')),
                        ('decided_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='decided by')),
                        ('partner', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deals', to='partners.partner', verbose_name='partner')),
                        ('registered_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='registered by')),
                        ('tenant', models.ForeignKey(editable=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='partners.tenant')),
                    ],
                    options={
                        'verbose_name': 'deal',
                        'verbose_name_plural': 'deals',
                        'db_table': 'partners_deal',
                        'ordering': ['-created_at'],
                        'indexes': [models.Index(fields=['tenant', 'partner', 'stage'], name='partners_de_tenant__2d9b48_idx'), models.Index(fields=['tenant', 'stage', 'closed_on'], name='partners_de_tenant__adf8cd_idx')],
                        'constraints': [models.UniqueConstraint(condition=models.Q(('external_id', ''), _negated=True), fields=('tenant', 'external_id'), name='uniq_deal_external_id'), models.CheckConstraint(condition=models.Q(('amount__gte', 0)), name='deal_amount_non_negative')],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_type, migrations.RunPython.noop),
    ]
