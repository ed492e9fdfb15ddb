"""Secret expiry and the IP allowlist (oauthapps/policies.py): the current secret's expiry, the
networks the app may authenticate from, the latest addresses the allowlist refused, and the
expiry notices sent to Owners (one row each, so the daily command sends each once).

Existing secrets keep no expiry and existing apps allow every address, so nothing changes for
them until an organization sets a policy or someone edits an app's allowlist.

On SQLite, adding the NOT NULL allowlist column rebuilds the app table, which drops its token state
triggers (tokens/migrations/0001_initial.py): they are installed again here, as in 0003.
"""

from importlib import import_module

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import oauthapps.policies

# Installs the token state triggers again on SQLite, after a table rebuild (see 0003).
reinstall_sqlite_triggers = import_module(
    "oauthapps.migrations.0003_secret_generations"
).reinstall_sqlite_triggers


class Migration(migrations.Migration):
    dependencies = [
        ("oauthapps", "0005_token_models_move_to_tokens"),
        ("tokens", "0003_one_schema_and_signing_algorithms"),
    ]

    operations = [
        # Unmigrating rebuilds the table after this: the triggers are installed again then.
        migrations.RunPython(migrations.RunPython.noop, reinstall_sqlite_triggers),
        migrations.AddField(
            model_name="oauthapp",
            name="allowed_networks",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="CIDR blocks (IPv4 or IPv6) the app may authenticate from. Empty: "
                "any address.",
                validators=[oauthapps.policies.validate_networks],
                verbose_name="IP allowlist",
            ),
        ),
        migrations.AddField(
            model_name="oauthapp",
            name="secret_expires_at",
            field=models.DateTimeField(
                blank=True,
                db_index=True,
                help_text="When the current client secret stops working (the owning "
                "organization's expiry policy when it was made). Empty: it does not expire.",
                null=True,
            ),
        ),
        migrations.RunPython(reinstall_sqlite_triggers, migrations.RunPython.noop),
        migrations.CreateModel(
            name="RefusedAddress",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True,
                        primary_key=True,
                        serialize=False,
                        verbose_name="ID",
                    ),
                ),
                ("address", models.CharField(max_length=64)),
                ("first_refused_at", models.DateTimeField()),
                ("last_refused_at", models.DateTimeField()),
                ("refusals", models.PositiveIntegerField(default=1)),
                (
                    "app",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="refused_addresses",
                        to=settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "refused address",
                "ordering": ["-last_refused_at", "-pk"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("app", "address"), name="unique_refused_address"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="SecretExpiryNotice",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True,
                        primary_key=True,
                        serialize=False,
                        verbose_name="ID",
                    ),
                ),
                ("secret_generation", models.PositiveIntegerField()),
                ("days_before", models.PositiveSmallIntegerField()),
                ("sent_at", models.DateTimeField()),
                (
                    "app",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="secret_expiry_notices",
                        to=settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "secret expiry notice",
                "ordering": ["-sent_at", "-pk"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("app", "secret_generation", "days_before"),
                        name="unique_secret_expiry_notice",
                    )
                ],
            },
        ),
    ]
