"""Deal moved to the deals context (partners.deals): state only, the table partners_deal stays."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('partners', '0002_api_throttle_table'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(
                    model_name='deal',
                    name='partners_de_tenant__2d9b48_idx',
                ),
                migrations.RemoveIndex(
                    model_name='deal',
                    name='partners_de_tenant__adf8cd_idx',
                ),
                migrations.RemoveConstraint(
                    model_name='deal',
                    name='uniq_deal_external_id',
                ),
                migrations.RemoveConstraint(
                    model_name='deal',
                    name='deal_amount_non_negative',
                ),
                migrations.DeleteModel(
                    name='Deal',
                ),
            ],
            database_operations=[],
        ),
    ]
