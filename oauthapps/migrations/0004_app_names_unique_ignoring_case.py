"""App names are unique in their organization regardless of case, in the database: "Billing" and
"billing" could both be created by two requests at once while only the service compared them
ignoring case.

Existing apps whose names differ only in case would make the new unique index fail with a bare
database error, so they are looked for first: the migration stops and names them (rename all but
one of each group, in Django admin or on the app's Edit page, and migrate again).

On SQLite, dropping the old constraint rebuilds the table, which drops the token state triggers
(tokens/migrations/0001_initial.py) of the app table: they are installed again here, as in 0003.
"""

from importlib import import_module

from django.core.management.base import CommandError
from django.db import migrations, models
from django.db.models import Count
from django.db.models.functions import Lower

# Installs the token state triggers again on SQLite, after a table rebuild (see 0003).
reinstall_sqlite_triggers = import_module(
    "oauthapps.migrations.0003_secret_generations"
).reinstall_sqlite_triggers


def name_clashes(apps) -> list[str]:
    """One line per group of apps of one organization whose names differ only in case."""
    OAuthApp = apps.get_model("oauthapps", "OAuthApp")
    groups = (
        OAuthApp.objects.annotate(lower_name=Lower("name"))
        .values("organization_id", "lower_name")
        .annotate(apps=Count("id"))
        .filter(apps__gt=1)
        .order_by("organization_id", "lower_name")
    )
    lines = []
    for group in groups:
        clashing = (
            OAuthApp.objects.annotate(lower_name=Lower("name"))
            .filter(
                organization_id=group["organization_id"],
                lower_name=group["lower_name"],
            )
            .select_related("organization")
            .order_by("id")
        )
        org = clashing[0].organization
        names = ", ".join(
            f"“{app.name}” (id {app.pk}, client id {app.client_id})" for app in clashing
        )
        lines.append(f"  {org.name} ({org.pk}): {names}")
    return lines


def refuse_name_clashes(apps, schema_editor) -> None:
    lines = name_clashes(apps)
    if lines:
        raise CommandError(
            "App names must be unique in their organization regardless of case, but these "
            "apps' names differ only in case:\n"
            + "\n".join(lines)
            + "\nRename all but one app of each line (Django admin › OAuth apps, or the app's "
            "Edit page in the console), then run migrate again. Nothing was changed."
        )


class Migration(migrations.Migration):
    dependencies = [
        ("oauthapps", "0003_secret_generations"),
        ("tokens", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(refuse_name_clashes, migrations.RunPython.noop),
        # Unmigrating rebuilds the table after this: the triggers are installed again then.
        migrations.RunPython(migrations.RunPython.noop, reinstall_sqlite_triggers),
        migrations.RemoveConstraint(
            model_name="oauthapp",
            name="unique_app_name_per_org",
        ),
        migrations.AddConstraint(
            model_name="oauthapp",
            constraint=models.UniqueConstraint(
                models.F("organization"),
                Lower("name"),
                name="unique_app_name_per_org_ignoring_case",
                violation_error_message="An app with this name already exists in this "
                "organization. Choose another name.",
            ),
        ),
        migrations.RunPython(reinstall_sqlite_triggers, migrations.RunPython.noop),
    ]
