"""Secret generations: which secret a token was obtained with, so that a regeneration revokes the
tokens obtained with an older secret, even one whose row is written after it (see the models).

Existing apps and tokens start at generation 1, so every token active before stays active.

On SQLite, adding a NOT NULL column rebuilds the table, which drops the token state triggers
(tokens/migrations/0001_initial.py) of the app and token tables: they are installed again here.
"""

from importlib import import_module

from django.db import migrations, models

token_state = import_module("oauthapps.tokens.migrations.0001_initial")


def reinstall_sqlite_triggers(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "sqlite":
        token_state.uninstall(apps, schema_editor)
        token_state.install(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("oauthapps", "0002_issuedtoken_hot_path_without_db_constraints"),
        ("tokens", "0001_initial"),
    ]

    operations = [
        # Unmigrating removes the columns after this: the triggers are installed again then.
        migrations.RunPython(migrations.RunPython.noop, reinstall_sqlite_triggers),
        migrations.AddField(
            model_name="issuedtoken",
            name="secret_generation",
            field=models.PositiveIntegerField(
                default=1,
                editable=False,
                help_text="The generation of the client secret the token was obtained with.",
            ),
        ),
        migrations.AddField(
            model_name="oauthapp",
            name="secret_generation",
            field=models.PositiveIntegerField(
                default=1,
                editable=False,
                help_text="The current secret's number: 1 for the first, one more for each new secret.",
            ),
        ),
        migrations.AddField(
            model_name="oauthapp",
            name="tokens_valid_from_generation",
            field=models.PositiveIntegerField(
                default=1,
                editable=False,
                help_text="Tokens obtained with a secret of an older generation are revoked "
                "(a regeneration sets it to the new secret's).",
            ),
        ),
        migrations.RunPython(reinstall_sqlite_triggers, migrations.RunPython.noop),
    ]
