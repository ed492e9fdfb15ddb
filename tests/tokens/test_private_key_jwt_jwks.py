"""private_key_jwt apps whose public keys come from their JWKS URL, at the token endpoint."""

import json

import pytest
from django.core.cache import cache

from oauthapps.services import oauth_app_change_jwks_uri
from tests.tokens.assertions import JWKSServer, assertion, assertion_form, key_pair
from tests.tokens.fixtures import post_form

TOKEN_URL = "http://127.0.0.1:8000/oauth/token"


@pytest.fixture
def jwks_server(settings):
    settings.DEBUG = True  # development: a JWKS URL on loopback is allowed
    cache.clear()
    server = JWKSServer()
    yield server
    server.close()
    cache.clear()


@pytest.fixture
def app(org, make_key_app, jwks_server):
    jwks_server.publish(key_pair("ES256"))
    return make_key_app(
        org, scopes=["org:member"], add_to=[org], jwks_uri=jwks_server.url
    )


def token(api_client, signed: str):
    return post_form(api_client, "/oauth/token", assertion_form(signed))


def description(response) -> str:
    assert response.status_code == 401, response.content
    body = json.loads(response.content)
    assert body["error"] == "invalid_client"
    return body["error_description"]


def test_keys_from_the_jwks_url_sign_assertions(api_client, app, jwks_server):
    key = key_pair("ES256")
    for _ in range(3):
        response = token(
            api_client,
            assertion(key, app.client_id, TOKEN_URL, headers={"kid": key.thumbprint}),
        )
        assert response.status_code == 200, response.content
    assert jwks_server.requests == 1  # cached: Cache-Control max-age=300


def test_a_key_published_later_is_fetched_once_its_kid_shows_up(
    api_client, app, jwks_server
):
    old, new = key_pair("ES256"), key_pair("EdDSA")
    assert (
        token(api_client, assertion(old, app.client_id, TOKEN_URL)).status_code == 200
    )
    jwks_server.publish(old, new)

    signed = assertion(new, app.client_id, TOKEN_URL, headers={"kid": new.thumbprint})
    assert token(api_client, signed).status_code == 200
    assert jwks_server.requests == 2

    # An unknown kid fetches again at most once a minute (anyone can send one): the minute
    # started with the fetch above.
    for _ in range(3):
        stranger = key_pair("RS256", 3)
        signed = assertion(
            stranger, app.client_id, TOKEN_URL, headers={"kid": "not-published"}
        )
        assert "kid names no public key" in description(token(api_client, signed))
    assert jwks_server.requests == 2


def test_a_jwks_url_that_cannot_be_fetched(api_client, app, jwks_server):
    cache.clear()
    jwks_server.status = 503
    found = description(
        token(api_client, assertion(key_pair("ES256"), app.client_id, TOKEN_URL))
    )
    assert "could not be fetched from its JWKS URL: it answered HTTP 503" in found


def test_a_malformed_jwks_at_the_url(api_client, app, jwks_server):
    cache.clear()
    jwks_server.body = b'{"keys": {}}'
    found = description(
        token(api_client, assertion(key_pair("ES256"), app.client_id, TOKEN_URL))
    )
    assert "does not serve a usable JWKS" in found


def test_a_jwks_url_at_127_0_0_1_is_refused_in_production(api_client, app, settings):
    """Registered in development; in production (DEBUG off) the console will not fetch it."""
    cache.clear()
    settings.DEBUG = False
    found = description(
        token(api_client, assertion(key_pair("ES256"), app.client_id, TOKEN_URL))
    )
    assert "JWKS URL is refused" in found
    assert "must use https" in found


def test_a_new_jwks_url_applies_at_the_next_request(
    api_client, app, owner, jwks_server
):
    key = key_pair("ES256")
    assert (
        token(api_client, assertion(key, app.client_id, TOKEN_URL)).status_code == 200
    )
    other = JWKSServer()
    try:
        other.publish(key_pair("EdDSA"))
        oauth_app_change_jwks_uri(app=app, changed_by=owner, jwks_uri=other.url)

        assert (
            token(api_client, assertion(key, app.client_id, TOKEN_URL)).status_code
            == 401
        )
        signed = assertion(key_pair("EdDSA"), app.client_id, TOKEN_URL)
        assert token(api_client, signed).status_code == 200
    finally:
        other.close()
