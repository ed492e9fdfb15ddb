"""One schema on SQLite and PostgreSQL, and the algorithm of each signing key.

- The issued tokens' foreign keys have no database constraints and the app's has no index of its
  own (see the model): oauthapps/0002 made it so on PostgreSQL only, because on SQLite altering
  a foreign key rebuilds the table and drops the token state triggers with it. Here SQLite's table
  is rebuilt the same way and its triggers installed again, so both databases have one schema.
- SigningKey.algorithm: RS256 for every existing key (they are all RSA keys).
"""

from importlib import import_module

from django.db import migrations, models

token_state = import_module("oauthapps.tokens.migrations.0001_initial")


def _with_constraint(field):
    """The field as SQLite's table has it until now: with its constraint and its own index."""
    name, _, args, kwargs = field.deconstruct()
    kwargs.update(db_constraint=True, db_index=True, to=field.remote_field.model)
    old = models.ForeignKey(*args, **kwargs)
    old.set_attributes_from_name(name)
    old.model = field.model
    return old


def drop_sqlite_constraints(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "sqlite":
        return
    model = apps.get_model("tokens", "IssuedToken")
    for name in ("app", "organization"):
        field = model._meta.get_field(name)
        schema_editor.alter_field(model, _with_constraint(field), field)
    # The rebuilds dropped the table's triggers: install them all again.
    token_state.uninstall(apps, schema_editor)
    token_state.install(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("tokens", "0002_token_models"),
    ]

    operations = [
        migrations.RunPython(drop_sqlite_constraints, migrations.RunPython.noop),
        migrations.AddField(
            model_name="signingkey",
            name="algorithm",
            field=models.CharField(
                choices=[("RS256", "RS256"), ("ES256", "ES256"), ("EdDSA", "EdDSA")],
                default="RS256",
                max_length=8,
            ),
        ),
    ]
