"""The token state version and the triggers that move it.

Every INSERT, UPDATE or DELETE of an app, a grant, an organization, a service or an organization's
service, and every UPDATE or DELETE of an issued token (revocation, pruning), moves
`tokens_state_version.version` in the same transaction. Triggers rather than code, so that no
writer can forget: the services, the admin, `QuerySet.update()`, raw SQL and cascades alike.
Issuing a token (an INSERT into the issued tokens) does not move it: that is the hot path.

PostgreSQL: deferred constraint triggers, so the version row is locked only at commit, after every
other lock the transaction takes (no lock-order deadlock with other writers), and at most once per
transaction. SQLite: plain row triggers (SQLite has one writer at a time). A missing row (tables
flushed by tests) reads as 0 and is recreated from a random start, so a version seen before a flush
is not seen again after it.
"""

from django.db import migrations, models

ALL_CHANGES = ("INSERT", "UPDATE", "DELETE")
WATCHED = [
    ("oauthapps", "OAuthApp", ALL_CHANGES),
    ("oauthapps", "AppGrant", ALL_CHANGES),
    ("oauthapps", "IssuedToken", ("UPDATE", "DELETE")),
    ("orgs", "Organization", ALL_CHANGES),
    ("orgs", "Service", ALL_CHANGES),
    ("orgs", "OrganizationService", ALL_CHANGES),
]

POSTGRESQL_FUNCTION = """
CREATE OR REPLACE FUNCTION tokens_state_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('tokens.state_changed_in', true) IS DISTINCT FROM txid_current()::text THEN
        PERFORM set_config('tokens.state_changed_in', txid_current()::text, true);
        INSERT INTO tokens_state_version (id, version)
        VALUES (1, 1 + floor(random() * 1000000000000000)::bigint)
        ON CONFLICT (id) DO UPDATE SET version = tokens_state_version.version + 1;
    END IF;
    RETURN NULL;
END
$$
"""


def _model(apps, app_label: str, name: str):
    """The model in the migration state given; IssuedToken moved to this app in tokens/0002, and
    later migrations install the triggers again with the state of their time."""
    try:
        return apps.get_model(app_label, name)
    except LookupError:
        return apps.get_model("tokens", name)


def _tables(apps) -> list[tuple[str, tuple[str, ...]]]:
    return [
        (_model(apps, app_label, model)._meta.db_table, changes)
        for app_label, model, changes in WATCHED
    ]


def install(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_FUNCTION)
        for table, changes in _tables(apps):
            schema_editor.execute(
                f"CREATE CONSTRAINT TRIGGER tokens_state_{table} AFTER {' OR '.join(changes)} "
                f"ON {table} DEFERRABLE INITIALLY DEFERRED "
                "FOR EACH ROW EXECUTE FUNCTION tokens_state_changed()"
            )
            schema_editor.execute(
                f"CREATE TRIGGER tokens_state_{table}_truncate AFTER TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION tokens_state_changed()"
            )
    elif vendor == "sqlite":
        for table, changes in _tables(apps):
            for change in changes:
                schema_editor.execute(
                    f"CREATE TRIGGER tokens_state_{table}_{change.lower()} AFTER {change} ON {table} "
                    "BEGIN "
                    "INSERT INTO tokens_state_version (id, version) "
                    "VALUES (1, 1 + abs(random() % 1000000000000000)) "
                    "ON CONFLICT (id) DO UPDATE SET version = version + 1; "
                    "END"
                )
    else:
        raise NotImplementedError(
            f"The token state triggers exist for PostgreSQL and SQLite, not {vendor}."
        )


def uninstall(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for table, changes in _tables(apps):
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS tokens_state_{table} ON {table}")
            schema_editor.execute(
                f"DROP TRIGGER IF EXISTS tokens_state_{table}_truncate ON {table}"
            )
        else:
            for change in changes:
                schema_editor.execute(
                    f"DROP TRIGGER IF EXISTS tokens_state_{table}_{change.lower()}"
                )
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS tokens_state_changed()")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("oauthapps", "0001_initial"),
        ("orgs", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="TokenStateVersion",
            fields=[
                (
                    "id",
                    models.PositiveSmallIntegerField(
                        default=1, primary_key=True, serialize=False
                    ),
                ),
                ("version", models.BigIntegerField()),
            ],
            options={"db_table": "tokens_state_version"},
        ),
        migrations.RunPython(install, uninstall),
    ]
