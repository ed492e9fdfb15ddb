"""The OAuth Apps list at scale: its default order from an index, and its search on PostgreSQL.

- (name, id), the list's default sort (both ways): a page is read along the index instead of
  sorting every app of the organization (the first and the last page alike). On every database.
- PostgreSQL only: pg_trgm GIN indexes on UPPER(name), UPPER(description) and UPPER(client_id),
  what `icontains` compares there (UPPER(column) LIKE UPPER('%text%')); a search read every app
  twice (the count and the page) and now reads only the apps that contain the text. The
  extension is installed by orgs' 0005, which this depends on. As there, these indexes are not
  in the models' state: SQLite has no GIN indexes and rebuilds tables from that state.

Adding an index on SQLite does not rebuild the table, so the token state triggers (0003) stay.
"""

from django.db import migrations, models

# Index name: the column it searches (as in orgs' 0005, which explains the SQL).
SEARCH_INDEXES = {
    "oauthapp_name_trgm": "name",
    "oauthapp_description_trgm": "description",
    "oauthapp_client_id_trgm": "client_id",
}


def add_search_indexes(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    table = quote(apps.get_model("oauthapps", "OAuthApp")._meta.db_table)
    for name, column in SEARCH_INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX {quote(name)} ON {table} "
            f"USING gin (UPPER({quote(column)}) gin_trgm_ops)"
        )
    schema_editor.execute(f"ANALYZE {table}")


def remove_search_indexes(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in SEARCH_INDEXES:
        schema_editor.execute(f"DROP INDEX {schema_editor.quote_name(name)}")


class Migration(migrations.Migration):
    dependencies = [
        ("oauthapps", "0007_private_key_jwt"),
        ("orgs", "0006_audit_log_search_indexes"),  # pg_trgm
    ]

    operations = [
        migrations.AddIndex(
            model_name="oauthapp",
            index=models.Index(fields=["name", "id"], name="oauthapp_name_id"),
        ),
        migrations.RunPython(add_search_indexes, remove_search_indexes),
    ]
