"""After every migration, each watched table has its token state triggers (state.py relies on
them): on SQLite a table rebuild drops a table's triggers, so the migrations that rebuild one
install them again (oauthapps 0003, 0004, 0006; tokens 0003; orgs 0005 repairs the organization table, which
orgs 0004 had rebuilt without them)."""

from importlib import import_module

from django.apps import apps
from django.db import connection

token_state = import_module("oauthapps.tokens.migrations.0001_initial")


def expected() -> set[tuple[str, str]]:
    """(table, change) for every watched table and change."""
    return {
        (token_state._model(apps, app_label, model)._meta.db_table, change)
        for app_label, model, changes in token_state.WATCHED
        for change in changes
    }


def installed() -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT tbl_name, sql FROM sqlite_master WHERE type = 'trigger' "
                "AND name LIKE 'tokens_state_%'"
            )
            return {
                (table, change)
                for table, sql in cursor.fetchall()
                for change in token_state.ALL_CHANGES
                if f" AFTER {change} ON " in sql
            }
        cursor.execute(
            "SELECT c.relname, t.tgtype FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname LIKE 'tokens_state_%%' AND NOT t.tgname LIKE '%%_truncate'"
        )
        # tgtype bits: 4 INSERT, 8 DELETE, 16 UPDATE.
        bits = {"INSERT": 4, "DELETE": 8, "UPDATE": 16}
        return {
            (table, change)
            for table, tgtype in cursor.fetchall()
            for change, bit in bits.items()
            if tgtype & bit
        }


def test_every_watched_table_keeps_its_triggers_after_the_migrations(db):
    assert installed() == expected()
