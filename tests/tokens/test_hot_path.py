"""The fast path (issue 6) keeps every correctness property of the token service.

These tests run outside a test transaction, as the server does: each write commits, the database
triggers move the token state version, and the per-process memory of apps and tokens (state.py)
is live. Every change is made behind the memory's back (services, the ORM, raw SQL), the way
another gunicorn instance would make it, and is honoured by the very next request.
"""

import json
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from oauthapps.models import AppGrant, OAuthApp
from oauthapps.services import (
    oauth_app_regenerate_secret,
    oauth_app_remove_from_org,
    oauth_app_revoke_all_tokens,
    oauth_app_set_disabled,
)
from oauthapps.tokens import state
from oauthapps.tokens.models import IssuedToken, TokenStateVersion
from orgs.models import OrganizationService
from tests.tokens.fixtures import get_token, other_connection, post_form

pytestmark = pytest.mark.django_db(transaction=True)

GRANT = {"grant_type": "client_credentials"}
on_postgresql = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="PostgreSQL only"
)


@pytest.fixture
def app(org, make_app, contains):
    contains(org, "compute")
    return make_app(
        org, scopes=["org:member", "svc:compute:viewer"], ttl=30, add_to=[org]
    )


@pytest.fixture
def warm(api_client, app, org):
    """A worker that has served this app and its token once: both are in its memory."""
    token = get_token(api_client, app)["access_token"]
    assert api_get(api_client, org, token).status_code == 200
    assert len(state.apps) == 1
    assert len(state.tokens) == 1
    return token


def api_get(client, org, token):
    return client.get(
        f"/api/v1/orgs/{org.pk}", headers={"Authorization": f"Bearer {token}"}
    )


def token_response(client, creds, **data):
    return post_form(
        client, "/oauth/token", {**GRANT, **data}, Authorization=creds.basic
    )


def current_version() -> int:
    return TokenStateVersion.objects.get(pk=1).version


# --- Statements on a warm worker -----------------------------------------------------------------


def test_a_warm_token_request_is_one_insert_conditional_on_the_version(
    api_client, app, warm
):
    before = IssuedToken.objects.count()
    with CaptureQueriesContext(connection) as captured:
        token = get_token(api_client, app)
    statements = [query["sql"] for query in captured.captured_queries]
    assert len(statements) == 1
    assert statements[0].count("INSERT INTO") == 1
    assert "SELECT version FROM" in statements[0]
    assert IssuedToken.objects.count() == before + 1
    assert (
        api_get(api_client, app.app.organization, token["access_token"]).status_code
        == 200
    )


def test_the_first_token_request_after_a_change_reads_the_database_again(
    api_client, app, warm
):
    AppGrant.objects.filter(app=app.app).update(updated_at=timezone.now())
    with CaptureQueriesContext(connection) as captured:
        get_token(api_client, app)
    statements = [query["sql"] for query in captured.captured_queries]
    # The INSERT decided from memory finds the version moved and writes nothing; the pipeline
    # reads the app (with the version), its grants and their services again, and records it.
    assert len(statements) == 5
    assert [s.count("INSERT INTO") for s in statements] == [1, 0, 0, 0, 1]
    with CaptureQueriesContext(connection) as captured:
        get_token(api_client, app)
    assert len(captured.captured_queries) == 1


def test_a_warm_api_call_is_one_statement(api_client, org, warm):
    with CaptureQueriesContext(connection) as captured:
        assert api_get(api_client, org, warm).status_code == 200
    assert len(captured.captured_queries) == 1


def test_issuing_tokens_does_not_move_the_version(api_client, app, warm):
    before = current_version()
    for _ in range(3):
        get_token(api_client, app)
    assert current_version() == before


def test_every_watched_change_moves_the_version(api_client, app, org, warm):
    before = current_version()
    AppGrant.objects.filter(app=app.app).update(updated_at=timezone.now())
    assert current_version() != before


# --- Changes honoured on the next request, on every instance ------------------------------------


def test_disabling_the_app(api_client, app, org, owner, warm):
    oauth_app_set_disabled(app=app.app, is_disabled=True, changed_by=owner)

    assert token_response(api_client, app).status_code == 401
    assert api_get(api_client, org, warm).status_code == 401

    oauth_app_set_disabled(app=app.app, is_disabled=False, changed_by=owner)
    assert token_response(api_client, app).status_code == 200
    assert api_get(api_client, org, warm).status_code == 200


def test_regenerating_the_secret(api_client, app, org, owner, warm):
    app.app.refresh_from_db()
    _, new_secret = oauth_app_regenerate_secret(app=app.app, regenerated_by=owner)

    assert token_response(api_client, app).status_code == 401
    assert api_get(api_client, org, warm).status_code == 401
    app.client_secret = new_secret
    assert token_response(api_client, app).status_code == 200


def test_a_changed_grant(api_client, app, org, warm):
    AppGrant.objects.filter(app=app.app, organization=org).update(
        scopes=["svc:compute:viewer"]
    )
    assert get_token(api_client, app)["scope"] == "svc:compute:viewer"


def test_an_org_that_no_longer_contains_a_service(api_client, app, org, warm):
    OrganizationService.objects.filter(organization=org).delete()
    assert get_token(api_client, app)["scope"] == "org:member"


def test_removing_the_app_from_the_org(api_client, app, org, owner, warm):
    oauth_app_remove_from_org(app=app.app, org=org, removed_by=owner)

    response = token_response(api_client, app)
    assert response.status_code == 400
    assert json.loads(response.content)["error"] == "invalid_grant"
    assert api_get(api_client, org, warm).status_code == 401


def test_revoking_the_token_through_rfc_7009(api_client, app, org, warm):
    response = post_form(
        api_client, "/oauth/revoke", {"token": warm}, Authorization=app.basic
    )
    assert response.status_code == 200
    assert api_get(api_client, org, warm).status_code == 401


def test_revoking_all_tokens(api_client, app, org, owner, warm):
    oauth_app_revoke_all_tokens(app=app.app, revoked_by=owner)
    assert api_get(api_client, org, warm).status_code == 401


def test_a_change_made_with_raw_sql_counts_too(api_client, app, org, warm):
    """Not only the services: whatever writes the tables moves the version (triggers)."""
    table = connection.ops.quote_name(OAuthApp._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET is_disabled = %s WHERE id = %s", [True, app.app.pk]
        )
    assert token_response(api_client, app).status_code == 401
    assert api_get(api_client, org, warm).status_code == 401


def test_a_token_expires_even_while_remembered(api_client, app, org, warm):
    IssuedToken.objects.update(expires_at=timezone.now())  # moves the version
    assert api_get(api_client, org, warm).status_code == 401
    # and a remembered active token is still checked against its expiry on every call
    token = get_token(api_client, app)["access_token"]
    assert api_get(api_client, org, token).status_code == 200
    jti = uuid.UUID(
        json.loads(
            post_form(
                api_client,
                "/oauth/introspect",
                {"token": token},
                Authorization=app.basic,
            ).content
        )["jti"]
    )
    version, remembered = state.tokens.get(jti)
    remembered.expires_at = timezone.now()  # as if its time had come, version unchanged
    assert api_get(api_client, org, token).status_code == 401


def test_unknown_clients_are_not_answered_from_memory_once_created(
    api_client, org, make_app
):
    creds = make_app(org, scopes=["org:member"], add_to=[org])
    OAuthApp.objects.filter(pk=creds.app.pk).update(client_id="renamed-client")
    assert token_response(api_client, creds).status_code == 401  # remembered: unknown
    OAuthApp.objects.filter(pk=creds.app.pk).update(client_id=creds.client_id)
    assert token_response(api_client, creds).status_code == 200


# --- PostgreSQL specifics -------------------------------------------------------------------------


@on_postgresql
def test_a_broken_connection_is_replaced_without_a_failed_request(api_client, app):
    """What a PostgreSQL restart does to a worker's idle connection: the hot path reconnects."""
    get_token(api_client, app)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with other_connection() as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    connection.close_if_unusable_or_obsolete()  # request start, as Django does

    assert token_response(api_client, app).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid


@on_postgresql
def test_a_token_row_whose_app_is_gone_is_never_active(api_client, app, org, warm):
    """An INSERT racing the app's deletion can leave its row behind (no database-level foreign
    key): the token it stands for is refused all the same."""
    with other_connection() as other:
        other.execute("DELETE FROM oauthapps_appgrant WHERE app_id = %s", [app.app.pk])
        other.execute("DELETE FROM oauthapps_oauthapp WHERE id = %s", [app.app.pk])
    assert IssuedToken.objects.filter(app_id=app.app.pk).exists()
    assert api_get(api_client, org, warm).status_code == 401


@on_postgresql
def test_the_token_row_is_visible_to_other_connections_at_once(api_client, app):
    """The INSERT commits asynchronously, yet introspection on any instance finds the row."""
    token = get_token(api_client, app)["access_token"]
    jti = json.loads(
        post_form(
            api_client, "/oauth/introspect", {"token": token}, Authorization=app.basic
        ).content
    )["jti"]
    with other_connection() as other:
        row = other.execute(
            f"SELECT revoked_at FROM {IssuedToken._meta.db_table} WHERE jti = %s",
            [uuid.UUID(jti)],
        ).fetchone()
    assert row == (None,)
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert (
            cursor.fetchone()[0] == "on"
        )  # only the INSERT's own transaction was async
