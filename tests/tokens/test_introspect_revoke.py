"""POST /oauth/introspect (RFC 7662) and POST /oauth/revoke (RFC 7009), with the app's own
credentials."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from oauthapps.tokens import access_tokens
from oauthapps.tokens.models import IssuedToken
from tests.tokens.fixtures import get_token, post_form


@pytest.fixture
def app(org, make_app):
    return make_app(org, scopes=["org:member"], ttl=5, add_to=[org])


@pytest.fixture
def other_app(org, make_app):
    return make_app(org, scopes=["org:member"], add_to=[org])


@pytest.fixture
def issued_in_the_past(monkeypatch):
    """Mint the next tokens as if it were `delta` ago."""

    def travel(delta: timedelta) -> None:
        class Past(datetime):
            @classmethod
            def now(cls, tz=None):
                return datetime.now(tz or UTC) - delta

        monkeypatch.setattr(access_tokens, "datetime", Past)

    return travel


def introspect(client, creds, token, **extra):
    response = post_form(
        client,
        "/oauth/introspect",
        {"token": token, **extra},
        Authorization=creds.basic,
    )
    assert response["Cache-Control"] == "no-store"
    return response


def test_an_active_token_is_described(api_client, app, org):
    body = get_token(api_client, app)
    response = introspect(api_client, app, body["access_token"])

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    claims = json.loads(response.content)
    assert claims["active"] is True
    assert claims["scope"] == "org:member"
    assert claims["client_id"] == claims["sub"] == app.client_id
    assert claims["org_id"] == str(org.pk)
    assert claims["token_type"] == "bearer"
    assert claims["exp"] - claims["iat"] == 300
    assert claims["iss"] == "http://127.0.0.1:8000"


def test_post_authentication_and_a_type_hint_work(api_client, app):
    token = get_token(api_client, app)["access_token"]
    response = post_form(
        api_client,
        "/oauth/introspect",
        {
            "token": token,
            "token_type_hint": "refresh_token",
            "client_id": app.client_id,
            "client_secret": app.client_secret,
        },
    )
    assert json.loads(response.content)["active"] is True


def test_another_apps_token_is_inactive(api_client, app, other_app):
    token = get_token(api_client, other_app)["access_token"]
    assert json.loads(introspect(api_client, app, token).content) == {"active": False}


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "e30.e30.e30", "x" * 10_000])
def test_anything_else_is_inactive(api_client, app, token):
    response = introspect(api_client, app, token)
    assert response.status_code == 200
    assert json.loads(response.content) == {"active": False}


def test_an_oversized_request_is_a_clean_400(api_client, app):
    response = introspect(api_client, app, "x" * 20_000)
    assert response.status_code == 400
    assert json.loads(response.content)["error"] == "invalid_request"


def test_an_expired_token_is_inactive(api_client, app, issued_in_the_past):
    issued_in_the_past(timedelta(minutes=6))
    token = get_token(api_client, app)["access_token"]
    assert json.loads(introspect(api_client, app, token).content) == {"active": False}


def test_a_revoked_token_is_inactive(api_client, app):
    token = get_token(api_client, app)["access_token"]
    IssuedToken.objects.update(revoked_at=datetime.now(UTC))
    assert json.loads(introspect(api_client, app, token).content) == {"active": False}


def test_a_token_of_a_disabled_app_is_inactive(api_client, app):
    token = get_token(api_client, app)["access_token"]
    body = json.loads(introspect(api_client, app, token).content)
    assert body["active"] is True
    app.app.is_disabled = True
    app.app.save()
    # The app cannot authenticate any more either: the answer is invalid_client.
    assert introspect(api_client, app, token).status_code == 401


def test_introspection_needs_client_authentication(api_client, app):
    token = get_token(api_client, app)["access_token"]
    response = post_form(api_client, "/oauth/introspect", {"token": token})
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")
    assert json.loads(response.content)["error"] == "invalid_client"


def test_introspection_needs_a_token(api_client, app):
    response = post_form(api_client, "/oauth/introspect", {}, Authorization=app.basic)
    assert response.status_code == 400
    assert json.loads(response.content)["error"] == "invalid_request"


def test_introspection_refuses_repeated_tokens(api_client, app):
    response = post_form(
        api_client,
        "/oauth/introspect",
        [("token", "a"), ("token", "b")],
        Authorization=app.basic,
    )
    assert response.status_code == 400


def test_introspection_is_post_only(api_client, app):
    assert api_client.get("/oauth/introspect?token=x").status_code == 405


# --- Revocation -----------------------------------------------------------------------------------


def test_revoking_makes_the_token_inactive(api_client, app):
    token = get_token(api_client, app)["access_token"]
    response = post_form(
        api_client, "/oauth/revoke", {"token": token}, Authorization=app.basic
    )

    assert response.status_code == 200
    assert IssuedToken.objects.get().revoked_at is not None
    assert json.loads(introspect(api_client, app, token).content) == {"active": False}


def test_revoking_twice_keeps_the_first_time(api_client, app):
    token = get_token(api_client, app)["access_token"]
    post_form(api_client, "/oauth/revoke", {"token": token}, Authorization=app.basic)
    first = IssuedToken.objects.get().revoked_at
    response = post_form(
        api_client, "/oauth/revoke", {"token": token}, Authorization=app.basic
    )
    assert response.status_code == 200
    assert IssuedToken.objects.get().revoked_at == first


def test_revoking_only_touches_that_token(api_client, app):
    token = get_token(api_client, app)["access_token"]
    keep = get_token(api_client, app)["access_token"]
    post_form(api_client, "/oauth/revoke", {"token": token}, Authorization=app.basic)
    assert json.loads(introspect(api_client, app, keep).content)["active"] is True


@pytest.mark.parametrize("token", ["garbage", "a.b.c"])
def test_revoking_an_unknown_token_is_fine(api_client, app, token):
    response = post_form(
        api_client, "/oauth/revoke", {"token": token}, Authorization=app.basic
    )
    assert response.status_code == 200


def test_revoking_another_apps_token_is_refused(api_client, app, other_app):
    token = get_token(api_client, other_app)["access_token"]
    response = post_form(
        api_client, "/oauth/revoke", {"token": token}, Authorization=app.basic
    )

    assert response.status_code == 400
    assert json.loads(response.content)["error"] == "unauthorized_client"
    assert IssuedToken.objects.get().revoked_at is None


def test_revocation_needs_client_authentication(api_client, app):
    token = get_token(api_client, app)["access_token"]
    response = post_form(
        api_client,
        "/oauth/revoke",
        {"token": token, "client_id": app.client_id, "client_secret": "wrong"},
    )
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")
    assert IssuedToken.objects.get().revoked_at is None


def test_revocation_needs_a_token(api_client, app):
    response = post_form(api_client, "/oauth/revoke", {}, Authorization=app.basic)
    assert response.status_code == 400
    assert json.loads(response.content)["error"] == "invalid_request"


def test_revocation_refuses_non_utf8(api_client, app):
    response = post_form(
        api_client, "/oauth/revoke", b"token=%C3%28", Authorization=app.basic
    )
    assert response.status_code == 400
    assert json.loads(response.content)["error"] == "invalid_request"
