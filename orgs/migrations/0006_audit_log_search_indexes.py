"""The audit log's search, on PostgreSQL: trigram indexes on who acted and on what was acted on.

A search is `icontains`, which PostgreSQL runs as UPPER(column) LIKE UPPER('%text%'): no B-tree
helps, so every search read each of the organization's events (200,000 at seed_scale's size).
pg_trgm's GIN indexes on UPPER(column) find the events containing the text. They also give the
planner statistics on those expressions (ANALYZE keeps them for indexed expressions), so it can
tell a search matching most events from a rare one; without them it guessed a handful of matches
and read every event to count them even when the first 10,001 were the newest ones.

pg_trgm ships with PostgreSQL and is a trusted extension (since PostgreSQL 13): a role that may
create objects in the database, such as its owner, may install it. oauthapps' 0005 uses it too and depends on this migration.

PostgreSQL only: SQLite has no GIN indexes and searches without them. The indexes are not in the
models' state on purpose: SQLite rebuilds a table from that state (on some field changes) and
would then try to create them.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

# Index name: the column it searches. (Django's OpClass would write these only with
# django.contrib.postgres installed as an app; the SQL is short enough to write here.)
SEARCH_INDEXES = {
    "auditevent_actor_trgm": "actor_label",
    "auditevent_target_trgm": "target_label",
}


def add_search_indexes(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    table = quote(apps.get_model("orgs", "AuditEvent")._meta.db_table)
    for name, column in SEARCH_INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX {quote(name)} ON {table} "
            f"USING gin (UPPER({quote(column)}) gin_trgm_ops)"
        )
    # Statistics on the indexed expressions now rather than at autovacuum's next ANALYZE.
    schema_editor.execute(f"ANALYZE {table}")


def remove_search_indexes(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in SEARCH_INDEXES:
        schema_editor.execute(f"DROP INDEX {schema_editor.quote_name(name)}")


class Migration(migrations.Migration):
    dependencies = [
        ("orgs", "0005_organization_secret_expiry_days"),
    ]

    operations = [
        TrigramExtension(),  # does nothing on SQLite
        migrations.RunPython(add_search_indexes, remove_search_indexes),
    ]
