"""Existing people keep logging in under mandatory e-mail verification: their addresses were set by
an operator or an admin before allauth, so they are recorded as verified primary addresses."""

from django.db import migrations


def forwards(apps, schema_editor):
    User = apps.get_model("partners", "User")
    EmailAddress = apps.get_model("account", "EmailAddress")
    known = set(EmailAddress.objects.values_list("user_id", flat=True))
    EmailAddress.objects.bulk_create(
        [
            EmailAddress(user_id=pk, email=email.lower(), verified=True, primary=True)
            for pk, email in User.objects.values_list("pk", "email")
            if pk not in known and email
        ]
    )


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0004_accounts_invitations_mfa_sso"),
        ("account", "0009_emailaddress_unique_primary_email"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
