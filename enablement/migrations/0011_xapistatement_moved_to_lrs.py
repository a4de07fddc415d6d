# XapiStatement now belongs to the lrs app (enablement/lrs, migration lrs.0001 takes over the
# state); the table enablement_xapistatement and its rows stay where they are.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('enablement', '0010_xapi_statement'),
        ('lrs', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='XapiStatement')],
            database_operations=[],
        ),
    ]
