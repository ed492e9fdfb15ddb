"""IssuedToken's foreign keys without database constraints, and without the app's own index.

Checking the constraints locked the app's and the organization's rows on every token INSERT (the
token endpoint's hot path); the (app, issued_at) index already serves lookups by app. See the
model's comment.

On PostgreSQL only: on SQLite, altering a foreign key rebuilds the table, which would drop the
token state triggers (tokens/migrations/0001_initial.py) with it, and SQLite's constraint checks
cost little. Its schema keeps the constraints; the model state is the same on both.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class AlterFieldOnPostgreSQL(migrations.AlterField):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    dependencies = [
        ("oauthapps", "0001_initial"),
        ("orgs", "0002_service_catalog"),
    ]

    operations = [
        AlterFieldOnPostgreSQL(
            model_name="issuedtoken",
            name="app",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="issued_tokens",
                to=settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
            ),
        ),
        AlterFieldOnPostgreSQL(
            model_name="issuedtoken",
            name="organization",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="orgs.organization",
            ),
        ),
    ]
