"""App names are unique per organization regardless of case in the database (migration 0004):
existing clashes stop the migration with a message naming them, and nothing changes."""

import pytest
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from oauthapps.models import OAuthApp

AFTER = [("oauthapps", "0004_app_names_unique_ignoring_case")]


def before(executor: MigrationExecutor) -> list[tuple[str, str]]:
    """oauthapps just before the migration, orgs as it is now (its rows need every column)."""
    orgs = [node for node in executor.loader.graph.leaf_nodes() if node[0] == "orgs"]
    return [("oauthapps", "0003_secret_generations"), *orgs]


def test_the_database_refuses_a_name_differing_only_in_case(org, owner, make_app):
    make_app(org, name="Billing", scopes=["org:member"])
    with pytest.raises(IntegrityError), transaction.atomic():
        # Past the service (whose check would say so first): what a concurrent create meets.
        OAuthApp.objects.create(
            organization=org,
            name="bILLING",
            client_type=OAuthApp.CLIENT_CONFIDENTIAL,
            authorization_grant_type=OAuthApp.GRANT_CLIENT_CREDENTIALS,
        )


@pytest.mark.django_db(transaction=True)
def test_the_migration_names_existing_clashes_and_changes_nothing():
    executor = MigrationExecutor(connection)
    target = before(executor)
    executor.migrate(target)
    try:
        old = executor.loader.project_state(target).apps
        Organization = old.get_model("orgs", "Organization")
        App = old.get_model("oauthapps", "OAuthApp")
        acme = Organization.objects.create(name="Acme Corp")
        other = Organization.objects.create(name="Other Inc")
        made = {
            (org.name, name): App.objects.create(
                organization=org, name=name, client_id=f"client-{org.name[0]}-{name}"
            )
            for org, name in [
                (acme, "Billing"),
                (acme, "billing"),
                (acme, "Deploy"),
                (other, "BILLING"),  # another org: no clash
            ]
        }

        executor = MigrationExecutor(connection)
        with pytest.raises(CommandError) as refused:
            executor.migrate(AFTER)

        message = str(refused.value)
        assert "differ only in case" in message
        billing, lower = made["Acme Corp", "Billing"], made["Acme Corp", "billing"]
        assert (
            f"  Acme Corp ({acme.pk}): “Billing” (id {billing.pk}, client id "
            f"client-A-Billing), “billing” (id {lower.pk}, client id client-A-billing)"
        ) in message.splitlines()
        assert "Deploy" not in message and "Other Inc" not in message
        assert "Rename all but one" in message
        # Nothing was applied: the migration can run once the names are fixed.
        executor.loader.build_graph()
        assert AFTER[0] not in executor.loader.applied_migrations
        assert App.objects.count() == 4
        lower.name = "Billing (old)"
        lower.save()
        executor.migrate(AFTER)
    finally:
        App.objects.all().delete()
        Organization.objects.all().delete()
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
