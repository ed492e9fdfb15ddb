"""The hot path's statements on PostgreSQL reuse one cursor per connection (tokens/db.py): it
follows the connection through closes, breaks and failed statements, and the statements still go
through Django's cursor wrapper (query capture, Django's database errors)."""

import psycopg
import pytest
from django.db import ProgrammingError, connection
from django.test.utils import CaptureQueriesContext

from oauthapps.tokens import db
from tests.tokens.fixtures import get_token

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="PostgreSQL only"),
]


@pytest.fixture
def token(api_client, org, make_app) -> str:
    app = make_app(org, scopes=["org:member"], add_to=[org])
    return get_token(api_client, app)["access_token"]


def api_get(client, org, token):
    return client.get(
        f"/api/v1/orgs/{org.pk}", headers={"Authorization": f"Bearer {token}"}
    )


def hot_cursor():
    return connection._hot_path_cursor[1]


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_calls_on_one_connection_share_one_open_cursor(api_client, org, token):
    assert api_get(api_client, org, token).status_code == 200
    cursor = hot_cursor()
    assert api_get(api_client, org, token).status_code == 200
    assert hot_cursor() is cursor
    assert not cursor.closed
    assert cursor.connection is connection.connection


def test_a_new_connection_gets_a_new_cursor(api_client, org, token):
    assert api_get(api_client, org, token).status_code == 200
    cursor = hot_cursor()
    connection.close()
    assert api_get(api_client, org, token).status_code == 200
    assert hot_cursor() is not cursor
    assert hot_cursor().connection is connection.connection


def test_a_broken_connection_is_replaced_without_a_failed_call(api_client, org, token):
    assert api_get(api_client, org, token).status_code == 200
    pid = backend_pid()
    with _other_connection() as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    connection.close_if_unusable_or_obsolete()  # request start, as Django does

    assert api_get(api_client, org, token).status_code == 200
    assert backend_pid() != pid


def test_a_failed_statement_leaves_a_fresh_cursor_for_the_next(api_client, org, token):
    assert api_get(api_client, org, token).status_code == 200
    with pytest.raises(ProgrammingError):  # Django's error, not psycopg's
        db.fetch_all("SELECT * FROM no_such_table WHERE 1 = %s", [1])
    assert connection._hot_path_cursor is None
    assert api_get(api_client, org, token).status_code == 200


def test_statements_are_still_captured(api_client, org, token):
    assert api_get(api_client, org, token).status_code == 200  # loads the public key
    with CaptureQueriesContext(connection) as captured:
        assert api_get(api_client, org, token).status_code == 200
        assert api_get(api_client, org, token).status_code == 200
    assert len(captured.captured_queries) == 2
    assert all(
        "tokens_state_version" in query["sql"] for query in captured.captured_queries
    )


def _other_connection() -> psycopg.Connection:
    settings = connection.settings_dict
    return psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        dbname=settings["NAME"],
        autocommit=True,
    )
