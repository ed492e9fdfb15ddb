"""private_key_jwt at the token, introspection and revocation endpoints (RFC 7523 §2.2): every
algorithm and audience a client may use, and every bad assertion refused with invalid_client."""

import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import timedelta

import jwt
import pytest
from django.utils import timezone

from oauthapps import client_assertions
from oauthapps.client_assertions import ASSERTION_TYPE
from oauthapps.models import UsedClientAssertion
from oauthapps.services import (
    oauth_app_add_public_keys,
    oauth_app_remove_public_key,
    oauth_app_set_disabled,
)
from tests.tokens.assertions import assertion, assertion_form, key_pair
from tests.tokens.fixtures import post_form

ISSUER = "http://127.0.0.1:8000"
TOKEN_URL = f"{ISSUER}/oauth/token"


@pytest.fixture
def key():
    return key_pair("RS256")


@pytest.fixture
def app(org, make_key_app, contains, key):
    contains(org, "compute")
    return make_key_app(
        org, key, scopes=["org:member", "svc:compute:viewer"], add_to=[org]
    )


def token_with(api_client, signed: str, path: str = "/oauth/token", **extra: str):
    return post_form(api_client, path, assertion_form(signed, **extra))


def refused(response, words: str) -> str:
    assert response.status_code == 401, response.content
    body = json.loads(response.content)
    assert body["error"] == "invalid_client"
    assert words in body["error_description"], body["error_description"]
    return body["error_description"]


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_each_kind_of_key_gets_a_token(api_client, org, make_key_app, alg):
    key = key_pair(alg)
    app = make_key_app(org, key, scopes=["org:member"], add_to=[org])

    response = token_with(api_client, assertion(key, app.client_id, TOKEN_URL))

    assert response.status_code == 200, response.content
    body = json.loads(response.content)
    assert body["scope"] == "org:member"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == app.client_id
    assert claims["org_id"] == str(org.pk)


def test_ed25519_keys_may_name_the_algorithm_ed25519(api_client, org, make_key_app):
    """RFC 9864's name for EdDSA with Ed25519, which node's openid-client sends."""
    key = key_pair("EdDSA")
    app = make_key_app(org, key, scopes=["org:member"], add_to=[org])
    header, payload, _ = assertion(key, app.client_id, TOKEN_URL).split(".")
    header = base64.urlsafe_b64encode(
        json.dumps({"alg": "Ed25519", "typ": "JWT"}).encode()
    ).rstrip(b"=")
    signing_input = header + b"." + payload.encode()
    signature = base64.urlsafe_b64encode(key.private.sign(signing_input)).rstrip(b"=")

    response = token_with(api_client, (signing_input + b"." + signature).decode())

    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    "audience",
    [TOKEN_URL, ISSUER, [TOKEN_URL, "https://other.example"]],
    ids=["token endpoint", "issuer", "a list naming it"],
)
def test_the_audience_is_the_token_endpoint_or_the_issuer(
    api_client, app, key, audience
):
    response = token_with(api_client, assertion(key, app.client_id, audience))
    assert response.status_code == 200, response.content


def test_the_cloned_consoles_token_path_takes_assertions(api_client, app, key):
    path = "/csp/gateway/am/api/auth/authorize"
    for audience in (TOKEN_URL, ISSUER + path):
        response = token_with(api_client, assertion(key, app.client_id, audience), path)
        assert response.status_code == 200, response.content


def test_a_client_id_parameter_must_match_the_assertion(api_client, app, key):
    signed = assertion(key, app.client_id, TOKEN_URL)
    assert token_with(api_client, signed, client_id=app.client_id).status_code == 200
    response = token_with(
        api_client, assertion(key, app.client_id, TOKEN_URL), client_id="someone-else"
    )
    refused(response, "client_id parameter differs")


def test_introspection_and_revocation_take_assertions(api_client, app, key):
    token = json.loads(
        token_with(api_client, assertion(key, app.client_id, TOKEN_URL)).content
    )["access_token"]

    introspected = post_form(
        api_client,
        "/oauth/introspect",
        {
            "token": token,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion(
                key, app.client_id, f"{ISSUER}/oauth/introspect"
            ),
        },
    )
    assert introspected.status_code == 200, introspected.content
    assert json.loads(introspected.content)["active"] is True

    revoked = post_form(
        api_client,
        "/oauth/revoke",
        {
            "token": token,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion(key, app.client_id, TOKEN_URL),
        },
    )
    assert revoked.status_code == 200, revoked.content
    again = post_form(
        api_client,
        "/oauth/introspect",
        {
            "token": token,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion(key, app.client_id, ISSUER),
        },
    )
    assert json.loads(again.content) == {"active": False}


def test_introspection_refuses_a_bad_assertion(api_client, app, key):
    response = post_form(
        api_client,
        "/oauth/introspect",
        {
            "token": "x",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion(key, app.client_id, TOKEN_URL, lifetime=-120),
        },
    )
    refused(response, "expired")


def test_the_metadata_lists_private_key_jwt(api_client, db):
    metadata = json.loads(
        api_client.get("/.well-known/oauth-authorization-server").content
    )
    assert "private_key_jwt" in metadata["token_endpoint_auth_methods_supported"]
    assert (
        "private_key_jwt" in metadata["introspection_endpoint_auth_methods_supported"]
    )
    assert "private_key_jwt" in metadata["revocation_endpoint_auth_methods_supported"]
    assert {"RS256", "ES256", "EdDSA"} <= set(
        metadata["token_endpoint_auth_signing_alg_values_supported"]
    )
    assert "HS256" not in metadata["token_endpoint_auth_signing_alg_values_supported"]
    assert "none" not in metadata["token_endpoint_auth_signing_alg_values_supported"]


# Bad assertions --------------------------------------------------------------------------


def test_an_expired_assertion(api_client, app, key):
    now = int(time.time())
    signed = assertion(key, app.client_id, TOKEN_URL, iat=now - 300, exp=now - 120)
    refused(token_with(api_client, signed), "has expired")


def test_a_wrong_audience(api_client, app, key):
    signed = assertion(key, app.client_id, "https://elsewhere.example/oauth/token")
    description = refused(token_with(api_client, signed), "aud must be")
    assert TOKEN_URL in description


def test_iss_differing_from_sub(api_client, app, key):
    signed = assertion(key, app.client_id, TOKEN_URL, sub="somebody-else")
    refused(token_with(api_client, signed), "iss and sub claims must both be")


def test_a_replayed_assertion_is_refused(api_client, app, key):
    signed = assertion(key, app.client_id, TOKEN_URL)
    assert token_with(api_client, signed).status_code == 200

    refused(token_with(api_client, signed), "already used")
    # A new assertion with the same jti is the same replay.
    jti = jwt.decode(signed, options={"verify_signature": False})["jti"]
    refused(
        token_with(api_client, assertion(key, app.client_id, TOKEN_URL, jti=jti)),
        "already used",
    )


def test_a_replay_is_refused_even_when_the_app_is_remembered(api_client, app, key):
    """The token endpoint's fast path answers from memory; assertions never take it."""
    for _ in range(2):  # warm: the app is in this process's memory
        assert (
            token_with(api_client, assertion(key, app.client_id, TOKEN_URL)).status_code
            == 200
        )
    signed = assertion(key, app.client_id, TOKEN_URL)
    assert token_with(api_client, signed).status_code == 200
    refused(token_with(api_client, signed), "already used")
    assert UsedClientAssertion.objects.count() == 3


def test_alg_none(api_client, app):
    payload = {
        "iss": app.client_id,
        "sub": app.client_id,
        "aud": TOKEN_URL,
        "exp": int(time.time()) + 60,
        "jti": str(uuid.uuid4()),
    }
    signed = jwt.encode(payload, None, algorithm="none")
    refused(token_with(api_client, signed), "signed with alg none")


def test_hs256_signed_with_the_registered_public_key(api_client, app, key):
    """The classic confusion: the public key (known to anyone) used as an HMAC secret."""
    header = {"alg": "HS256", "typ": "JWT"}
    payload = {
        "iss": app.client_id,
        "sub": app.client_id,
        "aud": TOKEN_URL,
        "exp": int(time.time()) + 60,
        "jti": str(uuid.uuid4()),
    }

    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    signing_input = (
        b64(json.dumps(header).encode()) + b"." + b64(json.dumps(payload).encode())
    )
    for secret in (key.public_pem.encode(), json.dumps(key.public_jwk).encode()):
        signature = b64(hmac.new(secret, signing_input, hashlib.sha256).digest())
        signed = (signing_input + b"." + signature).decode()
        refused(token_with(api_client, signed), "signed with alg HS256")


def test_a_key_the_app_does_not_have(api_client, app):
    stranger = key_pair("RS256", 2)
    refused(
        token_with(api_client, assertion(stranger, app.client_id, TOKEN_URL)),
        "does not verify with any public key registered",
    )
    refused(
        token_with(
            api_client,
            assertion(
                stranger, app.client_id, TOKEN_URL, headers={"kid": stranger.thumbprint}
            ),
        ),
        "kid names no public key",
    )
    # An EC key where the app has only an RSA one.
    refused(
        token_with(api_client, assertion(key_pair("ES256"), app.client_id, TOKEN_URL)),
        "No public key registered for the app verifies ES256",
    )


def test_the_kid_may_be_the_keys_thumbprint(api_client, app, key):
    signed = assertion(key, app.client_id, TOKEN_URL, headers={"kid": key.thumbprint})
    assert token_with(api_client, signed).status_code == 200


def test_an_assertion_living_longer_than_five_minutes(api_client, app, key):
    refused(
        token_with(api_client, assertion(key, app.client_id, TOKEN_URL, lifetime=3600)),
        "at most 5 minutes ahead",
    )


def test_an_assertion_from_the_future(api_client, app, key):
    now = int(time.time())
    refused(
        token_with(api_client, assertion(key, app.client_id, TOKEN_URL, iat=now + 120)),
        "not valid yet",
    )
    refused(
        token_with(api_client, assertion(key, app.client_id, TOKEN_URL, nbf=now + 120)),
        "not valid yet",
    )


def test_a_small_clock_skew_is_tolerated(api_client, app, key):
    now = int(time.time())
    signed = assertion(key, app.client_id, TOKEN_URL, iat=now + 10, nbf=now + 10)
    assert token_with(api_client, signed).status_code == 200


def test_required_claims(api_client, app, key):
    refused(
        token_with(api_client, assertion(key, app.client_id, TOKEN_URL, jti=None)),
        "lacks the jti claim",
    )
    refused(
        token_with(api_client, assertion(key, app.client_id, TOKEN_URL, exp=None)),
        "lacks the exp claim",
    )


def test_not_a_jwt(api_client, app):
    refused(token_with(api_client, "not-a-jwt"), "not a well-formed JWT")


def test_the_assertion_type_must_be_jwt_bearer(api_client, app, key):
    form = assertion_form(assertion(key, app.client_id, TOKEN_URL))
    form["client_assertion_type"] = (
        "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"
    )
    refused(
        post_form(api_client, "/oauth/token", form), "client_assertion_type must be"
    )


def test_a_secret_used_by_a_private_key_jwt_app(api_client, app):
    for credentials in (
        {
            "headers": {
                "Authorization": "Basic "
                + base64.b64encode(f"{app.client_id}:guess".encode()).decode()
            }
        },
        {
            "headers": {
                "Authorization": "Basic "
                + base64.b64encode(f"{app.client_id}:".encode()).decode()
            }
        },
        {"form": {"client_id": app.client_id, "client_secret": "guess"}},
    ):
        response = post_form(
            api_client,
            "/oauth/token",
            {"grant_type": "client_credentials", **credentials.get("form", {})},
            **credentials.get("headers", {}),
        )
        refused(response, "authenticates with private_key_jwt")


def test_an_assertion_used_by_a_secret_app(api_client, org, make_app, key):
    secret_app = make_app(org, scopes=["org:member"], add_to=[org])
    refused(
        token_with(api_client, assertion(key, secret_app.client_id, TOKEN_URL)),
        "authenticates with its client secret",
    )


def test_unknown_and_disabled_clients_get_one_answer(api_client, app, key, owner):
    unknown = refused(
        token_with(api_client, assertion(key, "no-such-client", TOKEN_URL)),
        "Client authentication failed.",
    )
    oauth_app_set_disabled(app=app, is_disabled=True, changed_by=owner)
    disabled = refused(
        token_with(api_client, assertion(key, app.client_id, TOKEN_URL)),
        "Client authentication failed.",
    )
    assert unknown == disabled


def test_an_assertion_and_http_basic_together(api_client, app, key):
    response = post_form(
        api_client,
        "/oauth/token",
        assertion_form(assertion(key, app.client_id, TOKEN_URL)),
        Authorization="Basic "
        + base64.b64encode(f"{app.client_id}:x".encode()).decode(),
    )
    assert response.status_code == 400
    assert json.loads(response.content)["error"] == "invalid_request"


# Keys change on the next request -------------------------------------------------------------


def test_a_removed_key_stops_working_at_the_next_request(api_client, app, key, owner):
    successor = key_pair("ES256")
    oauth_app_add_public_keys(app=app, added_by=owner, public_keys=successor.records())
    for signer in (key, successor):  # both work, and the app is remembered
        assert (
            token_with(
                api_client, assertion(signer, app.client_id, TOKEN_URL)
            ).status_code
            == 200
        )

    oauth_app_remove_public_key(app=app, removed_by=owner, thumbprint=key.thumbprint)

    refused(
        token_with(api_client, assertion(key, app.client_id, TOKEN_URL)),
        "No public key registered for the app verifies RS256",
    )
    assert (
        token_with(
            api_client, assertion(successor, app.client_id, TOKEN_URL)
        ).status_code
        == 200
    )


def test_an_expired_record_of_a_jti_does_not_block_it(app, key):
    """Only a replay within the assertion's lifetime is refused: a record past its expiry
    (not yet pruned) lets the jti be used again."""
    signed = assertion(key, app.client_id, TOKEN_URL)
    client_assertions.verify_client_assertion(signed, app=app, audiences=[TOKEN_URL])
    UsedClientAssertion.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    client_assertions.verify_client_assertion(signed, app=app, audiences=[TOKEN_URL])

    assert UsedClientAssertion.objects.get().expires_at > timezone.now()


def test_expired_records_are_pruned(app, key):
    for _ in range(3):
        client_assertions.verify_client_assertion(
            assertion(key, app.client_id, TOKEN_URL), app=app, audiences=[TOKEN_URL]
        )
    UsedClientAssertion.objects.filter(
        pk__in=UsedClientAssertion.objects.values_list("pk", flat=True)[:2]
    ).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert client_assertions.prune() == 2
    assert UsedClientAssertion.objects.count() == 1


def test_a_refused_assertion_gets_no_basic_challenge(api_client, app):
    """RFC 6749 §5.2 asks for a challenge of the scheme the client used: it used none."""
    response = token_with(
        api_client, assertion(key_pair("ES256"), app.client_id, TOKEN_URL)
    )
    assert response.status_code == 401
    assert "WWW-Authenticate" not in response.headers


def test_the_client_limit_counts_assertions_by_the_client_they_name(
    api_client, app, key, settings
):
    # Authlib sends no client_id with an assertion: the per-client limit still applies.
    settings.CONSOLE_TOKEN_RATE_PER_CLIENT = 2
    for _ in range(2):
        response = token_with(api_client, assertion(key, app.client_id, TOKEN_URL))
        assert response.status_code == 200, response.content
    response = token_with(api_client, assertion(key, app.client_id, TOKEN_URL))
    assert response.status_code == 429
    assert "for this client" in json.loads(response.content)["error_description"]
