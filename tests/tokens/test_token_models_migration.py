"""The tokens app takes over IssuedToken and SigningKey (tokens/0002, 0003): rows, content types
and permissions are kept, and the issued tokens' table has one schema on SQLite and PostgreSQL
(no foreign key constraints, the token state triggers in place)."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from oauthapps.tokens.models import IssuedToken, SigningKey

BEFORE = [
    ("oauthapps", "0004_app_names_unique_ignoring_case"),
    ("tokens", "0001_initial"),
]


def foreign_keys(table: str) -> list:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            return cursor.execute(f"PRAGMA foreign_key_list({table})").fetchall()
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid = %s::regclass",
            [table],
        )
        return cursor.fetchall()


def state_triggers(table: str) -> int:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s",
                [table],
            )
        else:
            cursor.execute(
                "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgrelid = %s::regclass",
                [table],
            )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_the_move_keeps_rows_and_content_types_and_leaves_one_schema():
    executor = MigrationExecutor(connection)
    orgs = [node for node in executor.loader.graph.leaf_nodes() if node[0] == "orgs"]
    executor.migrate([*BEFORE, *orgs])
    try:
        old = executor.loader.project_state([*BEFORE, *orgs]).apps
        Organization = old.get_model("orgs", "Organization")
        App = old.get_model("oauthapps", "OAuthApp")
        OldToken = old.get_model("oauthapps", "IssuedToken")
        OldKey = old.get_model("oauthapps", "SigningKey")
        ContentType.objects.filter(app_label="tokens", model="issuedtoken").delete()
        ContentType.objects.get_or_create(app_label="oauthapps", model="issuedtoken")
        org = Organization.objects.create(name="Acme Corp")
        app = App.objects.create(
            organization=org, name="Deploy", client_id="client-deploy"
        )
        now = timezone.now()
        token = OldToken.objects.create(
            app=app,
            organization=org,
            scope="org:member",
            issued_at=now,
            expires_at=now + timedelta(minutes=5),
        )
        OldKey.objects.create(
            kid="old-key", private_key_pem="-----BEGIN PUBLIC KEY-----"
        )

        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

        moved = IssuedToken.objects.get(jti=token.jti)
        assert moved.app_id == app.pk and moved.scope == "org:member"
        assert SigningKey.objects.get(kid="old-key").algorithm == "RS256"
        content_type = ContentType.objects.get_for_model(IssuedToken)
        assert content_type.app_label == "tokens"
        assert not ContentType.objects.filter(
            app_label="oauthapps", model="issuedtoken"
        ).exists()
        assert Permission.objects.filter(content_type=content_type).count() in (0, 4)
        table = IssuedToken._meta.db_table
        assert foreign_keys(table) == []
        assert state_triggers(table) >= 1
    finally:
        IssuedToken.objects.all().delete()
        SigningKey.objects.all().delete()
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
