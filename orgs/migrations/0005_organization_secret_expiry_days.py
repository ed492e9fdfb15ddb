"""The organization's "Client secrets expire after N days" policy (off by default: empty).

Also installs the token state triggers again on SQLite (tokens/migrations/0001_initial.py):
adding `require_mfa` in 0004 rebuilt the organization table on SQLite, which dropped its
triggers, so a change of an organization did not move the token state version there. Adding this
nullable column rebuilds nothing; the reinstall repairs what 0004 left.
"""

from importlib import import_module

import django.core.validators
from django.db import migrations, models

# Installs the token state triggers again on SQLite, after a table rebuild (see oauthapps 0003).
reinstall_sqlite_triggers = import_module(
    "oauthapps.migrations.0003_secret_generations"
).reinstall_sqlite_triggers

RANGE_MESSAGE = (
    "Client secrets must expire after 30 to 730 days (2 years). Leave it empty so they never "
    "expire."
)


class Migration(migrations.Migration):
    dependencies = [
        ("orgs", "0004_organization_require_mfa"),
        ("tokens", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="organization",
            name="secret_expiry_days",
            field=models.PositiveSmallIntegerField(
                blank=True,
                help_text="New and regenerated client secrets of the organization's apps "
                "expire this many days after they are made (30 to 730). Empty: they never "
                "expire.",
                null=True,
                validators=[
                    django.core.validators.MinValueValidator(30, RANGE_MESSAGE),
                    django.core.validators.MaxValueValidator(730, RANGE_MESSAGE),
                ],
                verbose_name="client secrets expire after (days)",
            ),
        ),
        migrations.RunPython(reinstall_sqlite_triggers, reinstall_sqlite_triggers),
    ]
