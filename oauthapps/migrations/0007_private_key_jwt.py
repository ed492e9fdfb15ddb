"""private_key_jwt client authentication (RFC 7523 §2.2): an app's client authentication method,
its public keys or JWKS URL, and the client assertions already used (single-use `jti`).

Existing apps keep their client secret (`client_secret`, the default).

On SQLite, adding these columns rebuilds the app table, which drops its token state triggers
(tokens/migrations/0001_initial.py): they are installed again here, as in 0003. The new table of
used assertions has no trigger: recording one must not move the token state version.
"""

from importlib import import_module

from django.db import migrations, models

# Installs the token state triggers again on SQLite, after a table rebuild (see 0003).
reinstall_sqlite_triggers = import_module(
    "oauthapps.migrations.0003_secret_generations"
).reinstall_sqlite_triggers


class Migration(migrations.Migration):
    dependencies = [
        ("oauthapps", "0006_secret_expiry_and_ip_allowlist"),
        ("tokens", "0003_one_schema_and_signing_algorithms"),
    ]

    operations = [
        # Unmigrating removes the columns after this: the triggers are installed again then.
        migrations.RunPython(migrations.RunPython.noop, reinstall_sqlite_triggers),
        migrations.CreateModel(
            name="UsedClientAssertion",
            fields=[
                ("key", models.CharField(max_length=64, primary_key=True, serialize=False)),
                ("expires_at", models.DateTimeField(db_index=True)),
            ],
            options={"verbose_name": "used client assertion"},
        ),
        migrations.AddField(
            model_name="oauthapp",
            name="client_auth",
            field=models.CharField(
                choices=[
                    ("client_secret", "Client secret"),
                    ("private_key_jwt", "Private key JWT"),
                ],
                default="client_secret",
                max_length=32,
                verbose_name="client authentication",
            ),
        ),
        migrations.AddField(
            model_name="oauthapp",
            name="jwks_uri",
            field=models.URLField(
                blank=True,
                help_text="Where the app publishes its public keys (private_key_jwt), instead of "
                "registering them here.",
                max_length=500,
                verbose_name="JWKS URL",
            ),
        ),
        migrations.AddField(
            model_name="oauthapp",
            name="public_keys",
            field=models.JSONField(
                blank=True,
                default=list,
                editable=False,
                help_text="Public keys that verify the app's client assertions (private_key_jwt).",
            ),
        ),
        migrations.RunPython(reinstall_sqlite_triggers, migrations.RunPython.noop),
    ]
