"""Signing keys (generated, from the environment, rotated), the JWKS, RFC 8414 metadata and the
cloned console's public-key endpoint."""

import json
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from oauthapps.tokens import access_tokens, keys
from oauthapps.tokens.models import SigningKey
from tests.tokens.fixtures import get_token, post_form


@pytest.fixture
def app(org, make_app):
    return make_app(org, scopes=["org:member"], add_to=[org])


def kid_of(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def jwks_kids(client) -> list[str]:
    return [
        key["kid"]
        for key in json.loads(client.get("/.well-known/jwks.json").content)["keys"]
    ]


def introspect_active(client, creds, token) -> bool:
    response = post_form(
        client, "/oauth/introspect", {"token": token}, Authorization=creds.basic
    )
    return json.loads(response.content)["active"]


# --- Metadata -----------------------------------------------------------------------------------


def test_metadata_describes_the_server(api_client, catalog, settings):
    settings.CONSOLE_ISSUER = "https://console.example.com"
    response = api_client.get("/.well-known/oauth-authorization-server")

    assert response.status_code == 200
    metadata = json.loads(response.content)
    assert metadata["issuer"] == "https://console.example.com"
    assert metadata["token_endpoint"] == "https://console.example.com/oauth/token"
    assert metadata["jwks_uri"] == "https://console.example.com/.well-known/jwks.json"
    assert (
        metadata["introspection_endpoint"]
        == "https://console.example.com/oauth/introspect"
    )
    assert metadata["revocation_endpoint"] == "https://console.example.com/oauth/revoke"
    assert metadata["grant_types_supported"] == ["client_credentials"]
    assert metadata["response_types_supported"] == []
    for field in (
        "token_endpoint_auth_methods_supported",
        "introspection_endpoint_auth_methods_supported",
        "revocation_endpoint_auth_methods_supported",
    ):
        assert metadata[field] == [
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
        ]
    for field in (
        "token_endpoint_auth_signing_alg_values_supported",
        "introspection_endpoint_auth_signing_alg_values_supported",
        "revocation_endpoint_auth_signing_alg_values_supported",
    ):
        assert metadata[field] == ["RS256", "ES256", "EdDSA", "Ed25519"]
    assert metadata["scopes_supported"][:3] == ["org:owner", "org:admin", "org:member"]
    assert "svc:compute:admin" in metadata["scopes_supported"]
    assert "svc:billing:viewer" in metadata["scopes_supported"]


def test_metadata_is_get_only(api_client, db):
    assert api_client.post("/.well-known/oauth-authorization-server").status_code == 405


# --- Keys and the JWKS --------------------------------------------------------------------------


def test_the_first_use_generates_and_stores_a_key(api_client, db):
    assert not SigningKey.objects.exists()
    kids = jwks_kids(api_client)

    stored = SigningKey.objects.get()
    assert kids == [stored.kid]
    assert "PRIVATE KEY" in stored.private_key_pem
    jwk = json.loads(api_client.get("/.well-known/jwks.json").content)["keys"][0]
    assert jwk["kty"] == "RSA"
    assert jwk["alg"] == "RS256"
    assert jwk["use"] == "sig"
    assert "d" not in jwk  # never the private part


def test_tokens_name_a_published_key(api_client, app):
    token = get_token(api_client, app)["access_token"]
    assert kid_of(token) in jwks_kids(api_client)


def test_the_key_is_read_again_after_the_refresh_interval(api_client, app, monkeypatch):
    get_token(api_client, app)
    later = keys._clock() + keys.REFRESH_SECONDS + 1
    monkeypatch.setattr(keys, "_clock", lambda: later)
    with CaptureQueriesContext(connection) as captured:
        get_token(api_client, app)
    assert len(captured) == 5  # 4 for the (cold) token request, 1 for the key
    assert any(
        "oauthapps_signingkey" in query["sql"] for query in captured.captured_queries
    )


def test_rotation_keeps_old_tokens_valid_and_signs_new_ones_with_the_new_key(
    api_client, app
):
    old_token = get_token(api_client, app)["access_token"]
    old_kid = kid_of(old_token)

    call_command("rotate_signing_key", stdout=open("/dev/null", "w"))  # noqa: SIM115
    new_token = get_token(api_client, app)["access_token"]

    assert kid_of(new_token) != old_kid
    assert jwks_kids(api_client) == [kid_of(new_token), old_kid]
    assert SigningKey.objects.get(kid=old_kid).retired_at is not None
    assert introspect_active(api_client, app, old_token)
    assert introspect_active(api_client, app, new_token)


def test_a_key_retired_longer_than_any_token_lives_is_dropped(api_client, app):
    old_token = get_token(api_client, app)["access_token"]
    call_command("rotate_signing_key", stdout=open("/dev/null", "w"))  # noqa: SIM115
    SigningKey.objects.filter(kid=kid_of(old_token)).update(
        retired_at=timezone.now() - keys.PUBLISH_WINDOW - timedelta(minutes=1)
    )
    keys.clear_cache()

    assert kid_of(old_token) not in jwks_kids(api_client)
    with pytest.raises(access_tokens.InvalidAccessToken):
        access_tokens.verify(old_token, allow_expired=True)

    call_command("rotate_signing_key", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert not SigningKey.objects.filter(kid=kid_of(old_token)).exists()


def test_the_window_outlasts_the_longest_token(db):
    assert (
        timedelta(minutes=300) + timedelta(seconds=keys.REFRESH_SECONDS)
        < keys.PUBLISH_WINDOW
    )


# --- Production: the key from the environment ----------------------------------------------------


def test_a_configured_pem_signs_and_only_its_public_half_is_stored(
    api_client, app, settings
):
    settings.CONSOLE_SIGNING_KEY_PEM = keys.generate_private_key_pem()
    expected_kid = keys.load_configured_pem(settings.CONSOLE_SIGNING_KEY_PEM).kid

    token = get_token(api_client, app)["access_token"]

    assert kid_of(token) == expected_kid
    stored = SigningKey.objects.get(kid=expected_kid)
    assert "PUBLIC KEY" in stored.private_key_pem
    assert "PRIVATE" not in stored.private_key_pem
    assert introspect_active(api_client, app, token)


def test_deploying_a_new_pem_keeps_the_previous_key_published(
    api_client, app, settings
):
    settings.CONSOLE_SIGNING_KEY_PEM = keys.generate_private_key_pem()
    first = get_token(api_client, app)["access_token"]
    settings.CONSOLE_SIGNING_KEY_PEM = keys.generate_private_key_pem()
    keys.clear_cache()  # a new process started with the new secret
    second = get_token(api_client, app)["access_token"]

    assert jwks_kids(api_client) == [kid_of(second), kid_of(first)]
    assert SigningKey.objects.get(kid=kid_of(first)).retired_at is not None
    assert introspect_active(api_client, app, first)


def test_an_old_instance_does_not_retire_the_newer_key(api_client, app, settings):
    old_pem, new_pem = keys.generate_private_key_pem(), keys.generate_private_key_pem()
    settings.CONSOLE_SIGNING_KEY_PEM = old_pem
    get_token(api_client, app)
    settings.CONSOLE_SIGNING_KEY_PEM = new_pem
    keys.clear_cache()
    new_kid = kid_of(get_token(api_client, app)["access_token"])
    settings.CONSOLE_SIGNING_KEY_PEM = (
        old_pem  # an instance not yet redeployed restarts
    )
    keys.clear_cache()
    get_token(api_client, app)

    assert SigningKey.objects.get(kid=new_kid).retired_at is None


def test_rotate_refuses_when_the_key_comes_from_the_environment(db, settings):
    settings.CONSOLE_SIGNING_KEY_PEM = keys.generate_private_key_pem()
    with pytest.raises(CommandError, match="CONSOLE_SIGNING_KEY_PEM"):
        call_command("rotate_signing_key")


def _pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.mark.parametrize(
    "make_pem",
    [
        lambda: "not a pem",
        lambda: _pem(ec.generate_private_key(ec.SECP256R1())),
        lambda: _pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)),
    ],
    ids=["garbage", "ec-key", "short-rsa-key"],
)
def test_a_bad_configured_pem_fails_loudly(db, settings, make_pem):
    settings.CONSOLE_SIGNING_KEY_PEM = make_pem()
    with pytest.raises(ValueError):
        keys.signing_key()


# --- The cloned console's public-key endpoint ---------------------------------------------------


def test_token_public_key_as_pem_is_the_current_key(api_client, app):
    token = get_token(api_client, app)["access_token"]
    response = api_client.get("/csp/gateway/am/api/auth/token-public-key")

    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["alg"] == "RS256"
    assert body["issuer"] == "http://127.0.0.1:8000"
    public_key = serialization.load_pem_public_key(body["value"].encode())
    claims = jwt.decode(
        token, public_key, algorithms=["RS256"], audience="http://127.0.0.1:8000/api/v1"
    )
    assert claims["client_id"] == app.client_id


def test_token_public_key_as_jwks_lists_every_published_key(api_client, app):
    get_token(api_client, app)
    call_command("rotate_signing_key", stdout=open("/dev/null", "w"))  # noqa: SIM115
    body = json.loads(
        api_client.get("/csp/gateway/am/api/auth/token-public-key?format=jwks").content
    )
    assert [key["kid"] for key in body["keys"]] == jwks_kids(api_client)
    assert len(body["keys"]) == 2


def test_token_public_key_refuses_other_formats(api_client, db):
    response = api_client.get("/csp/gateway/am/api/auth/token-public-key?format=der")
    assert response.status_code == 400
    assert json.loads(response.content)["error"] == "invalid_request"
