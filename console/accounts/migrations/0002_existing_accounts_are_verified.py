"""Accounts made before allauth count as verified: their address becomes a verified, primary
allauth EmailAddress (people signed up and were added by that address; no one could sign up
with an address already taken). An address another account already holds stays unrecorded."""

from django.db import migrations


def verify_existing_accounts(apps, schema_editor):
    User = apps.get_model("auth", "User")
    EmailAddress = apps.get_model("account", "EmailAddress")
    taken = {
        email.lower()
        for email in EmailAddress.objects.filter(verified=True).values_list(
            "email", flat=True
        )
    }
    with_address = set(EmailAddress.objects.values_list("user_id", flat=True))
    new = []
    for user_id, email in (
        User.objects.exclude(email="").order_by("id").values_list("id", "email")
    ):
        email = email.strip().lower()
        if user_id in with_address or not email or email in taken:
            continue
        taken.add(email)
        new.append(
            EmailAddress(user_id=user_id, email=email, verified=True, primary=True)
        )
    EmailAddress.objects.bulk_create(new, batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("account", "0009_emailaddress_unique_primary_email"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunPython(verify_existing_accounts, migrations.RunPython.noop),
    ]
