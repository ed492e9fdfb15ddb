"""How the hot path's statements run on PostgreSQL (tokens/db.py): straight through libpq in
autocommit, through a psycopg cursor inside a transaction or while queries are logged; one reused
runner per connection that follows the connection through closes, breaks, failed statements and
statements deallocated behind its back. Either way they go through Django's cursor wrapper (query
capture, Django's database errors) and give the same rows."""

import uuid

import pytest
from django.db import ProgrammingError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from oauthapps.models import IssuedToken
from oauthapps.tokens import db, selectors, services, state
from tests.tokens.fixtures import get_token, other_connection, post_form

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="PostgreSQL only"),
]


@pytest.fixture
def app(org, make_app):
    return make_app(org, scopes=["org:member"], add_to=[org])


@pytest.fixture
def token(api_client, app) -> str:
    return get_token(api_client, app)["access_token"]


def api_get(client, org, token):
    return client.get(
        f"/api/v1/orgs/{org.pk}", headers={"Authorization": f"Bearer {token}"}
    )


def runners():
    return connection._hot_path_runners


def libpq_statements() -> dict:
    return runners().libpq.cursor.prepared


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def jti_of(client, app, token) -> uuid.UUID:
    response = post_form(
        client, "/oauth/introspect", {"token": token}, Authorization=app.basic
    )
    return uuid.UUID(response.json()["jti"])


def test_calls_on_one_connection_reuse_one_runner(api_client, org, token):
    assert api_get(api_client, org, token).status_code == 200
    first = runners()
    assert api_get(api_client, org, token).status_code == 200
    assert runners() is first
    assert first.psycopg_connection is connection.connection
    assert not first.raw_cursor.closed


def test_in_autocommit_the_statement_runs_through_libpq(api_client, org, token):
    assert api_get(api_client, org, token).status_code == 200
    assert selectors._hot_sql("active_token") in {sql for sql, _ in libpq_statements()}


def test_libpq_and_a_psycopg_cursor_give_the_same_rows(api_client, app, token):
    jti = jti_of(api_client, app, token)
    sql = selectors._hot_sql("active_token")

    def both(seen: int) -> list[tuple]:
        params = [jti, timezone.now(), False, seen]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            expected = cursor.fetchall()
        rows = db.fetch_all(sql, params)
        assert rows == expected
        assert [[type(value) for value in row] for row in rows] == [
            [type(value) for value in row] for row in expected
        ]
        return rows

    version_row, data_row = both(state.UNKNOWN)  # all rows
    assert data_row[2] == jti  # a UUID, not text
    assert data_row[7].tzinfo is not None  # expires_at, an aware datetime
    assert both(version_row[0]) == [version_row]  # the version row only
    # A small and a large version number are typed differently: a statement for each.
    assert len([key for key in libpq_statements() if key[0] == sql]) == 2


def test_inside_a_transaction_the_statement_is_part_of_it(api_client, app, org):
    now = timezone.now()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.issued_token_record(
            jti=uuid.uuid4(),
            app_id=app.app.pk,
            organization_id=org.pk,
            scope="org:member",
            issued_at=now,
            expires_at=now,
            secret_generation=1,
        )
        assert IssuedToken.objects.count() == 1
        raise RuntimeError("roll back")
    assert IssuedToken.objects.count() == 0


def test_a_statement_deallocated_behind_its_back_is_prepared_again(
    api_client, org, token
):
    for _ in range(2):  # the statements for an unknown and for a known version
        assert api_get(api_client, org, token).status_code == 200
    connection.connection.execute("DEALLOCATE ALL")
    assert api_get(api_client, org, token).status_code == 200
    # Forgotten, then only the statement it ran prepared again.
    assert [sql for sql, _ in libpq_statements()] == [
        selectors._hot_sql("active_token")
    ]


def test_a_new_connection_gets_new_runners(api_client, org, token):
    assert api_get(api_client, org, token).status_code == 200
    first = runners()
    connection.close()
    assert api_get(api_client, org, token).status_code == 200
    assert runners() is not first
    assert runners().psycopg_connection is connection.connection


def test_a_broken_connection_is_replaced_without_a_failed_call(api_client, org, token):
    assert api_get(api_client, org, token).status_code == 200
    pid = backend_pid()
    with other_connection() as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    connection.close_if_unusable_or_obsolete()  # request start, as Django does

    assert api_get(api_client, org, token).status_code == 200
    assert backend_pid() != pid


def test_a_failed_statement_leaves_fresh_runners_for_the_next(api_client, org, token):
    assert api_get(api_client, org, token).status_code == 200
    with pytest.raises(ProgrammingError):  # Django's error, not psycopg's
        db.fetch_all("SELECT * FROM no_such_table WHERE 1 = %s", [1])
    assert runners() is None
    assert api_get(api_client, org, token).status_code == 200


def test_after_a_failed_statement_the_next_one_is_prepared_afresh(
    api_client, org, token
):
    """A plan made stale (say, by a migration) fails once, not on every call."""
    for _ in range(2):
        assert api_get(api_client, org, token).status_code == 200
    before = set(libpq_statements().values())
    with pytest.raises(ProgrammingError):
        db.fetch_all("SELECT * FROM no_such_table WHERE 1 = %s", [1])
    assert api_get(api_client, org, token).status_code == 200
    assert not set(libpq_statements().values()) & before


def test_statements_are_still_captured(api_client, org, token):
    assert api_get(api_client, org, token).status_code == 200  # loads the public key
    with CaptureQueriesContext(connection) as captured:
        assert api_get(api_client, org, token).status_code == 200
        assert api_get(api_client, org, token).status_code == 200
    assert len(captured.captured_queries) == 2
    assert all(
        "tokens_state_version" in query["sql"] for query in captured.captured_queries
    )


def test_placeholders():
    assert (
        db._postgres_placeholders("SELECT %s, '%%s', %s WHERE a LIKE 'x%%'")
        == b"SELECT $1, '%s', $2 WHERE a LIKE 'x%'"
    )


# --- a write overlapped with the process's own work (db.execute_meanwhile) ----------------------


def insert_token_row(app, org) -> tuple[str, list]:
    """The token endpoint's conditional INSERT, for the current version: (sql, params)."""
    now = timezone.now()
    row = {
        "jti": uuid.uuid4(),
        "app_id": app.app.pk,
        "organization_id": org.pk,
        "scope": "org:member",
        "issued_at": now,
        "expires_at": now,
        "secret_generation": 1,
    }
    version = state.split(db.fetch_all(f"SELECT {state.version_sql()}, 0", []))[0]
    return services._insert_sql(connection.vendor, if_version=True), [
        *services._insert_values(row),
        version,
    ]


def test_a_write_runs_through_libpq_while_the_work_is_done(app, org):
    sql, params = insert_token_row(app, org)
    order = []

    def work() -> str:
        # The statement was sent before the work began: PostgreSQL has it, unanswered.
        assert connection.connection.pgconn.transaction_status != 0  # not IDLE
        order.append("work")
        return "signed"

    assert db.execute_meanwhile(sql, params, work) == (1, "signed")
    assert order == ["work"]
    assert sql in {statement for statement, _ in libpq_statements()}
    assert IssuedToken.objects.count() == 1


def test_a_write_whose_condition_fails_writes_nothing(app, org):
    sql, params = insert_token_row(app, org)
    params[-1] += 1  # another version than the database's
    assert db.execute_meanwhile(sql, params, lambda: "signed") == (0, "signed")
    assert IssuedToken.objects.count() == 0


def test_when_the_work_fails_the_answer_is_still_read(app, org):
    sql, params = insert_token_row(app, org)

    def work() -> str:
        raise ValueError("the signature failed")

    with pytest.raises(ValueError):
        db.execute_meanwhile(sql, params, work)
    # The statement completed, and the connection is idle again for the next one.
    assert IssuedToken.objects.count() == 1
    assert connection.connection.pgconn.transaction_status == 0  # IDLE
    assert db.execute_meanwhile(*insert_token_row(app, org), lambda: 1) == (1, 1)


def test_a_write_deallocated_behind_its_back_is_prepared_again(app, org):
    assert db.execute_meanwhile(*insert_token_row(app, org), lambda: 1) == (1, 1)
    connection.connection.execute("DEALLOCATE ALL")
    assert db.execute_meanwhile(*insert_token_row(app, org), lambda: 2) == (1, 2)
    assert IssuedToken.objects.count() == 2


def test_a_failed_write_raises_djangos_error_and_leaves_fresh_runners(app, org):
    assert db.execute_meanwhile(*insert_token_row(app, org), lambda: 1) == (1, 1)
    with pytest.raises(ProgrammingError):
        db.execute_meanwhile("INSERT INTO no_such_table VALUES (%s)", [1], lambda: 1)
    assert runners() is None
    assert db.execute_meanwhile(*insert_token_row(app, org), lambda: 1) == (1, 1)


def test_inside_a_transaction_the_write_runs_first_then_the_work(app, org):
    sql, params = insert_token_row(app, org)
    with transaction.atomic():
        assert db.execute_meanwhile(sql, params, lambda: "signed") == (1, "signed")
        assert IssuedToken.objects.count() == 1
    assert sql not in {statement for statement, _ in libpq_statements()}


def test_a_token_from_the_fast_path_is_recorded_and_works(api_client, app, org):
    get_token(api_client, app)  # the general path; the worker now remembers the app
    token = get_token(api_client, app)["access_token"]  # the fast path, through libpq
    sql = services._insert_sql(connection.vendor, if_version=True)
    assert sql in {statement for statement, _ in libpq_statements()}
    assert IssuedToken.objects.count() == 2
    assert api_get(api_client, org, token).status_code == 200
