"""CONSOLE_TOKEN_SIGNING_ALG = RS256 | ES256 | EdDSA, end to end: tokens from the live server are
verified by third-party verifiers from the published JWKS (PyJWT's PyJWKClient, joserfc, node
`jose`), the API, introspection and revocation accept them, and changing the algorithm keeps the
older keys published until their tokens expire."""

import json
import os
import shutil
import subprocess
from io import StringIO
from pathlib import Path

import jwt
import pytest
import requests
from django.core.management import call_command
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet

from oauthapps.tokens import keys
from oauthapps.tokens.models import SigningKey

pytestmark = pytest.mark.django_db(transaction=True)

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
KEY_TYPES = {
    "RS256": ("RSA", None),
    "ES256": ("EC", "P-256"),
    "EdDSA": ("OKP", "Ed25519"),
}


@pytest.fixture
def server(live_server, settings):
    settings.CONSOLE_ISSUER = live_server.url
    return live_server.url


@pytest.fixture
def app(org, make_app, contains):
    contains(org, "compute")
    return make_app(org, scopes=["org:admin", "svc:compute:viewer"], add_to=[org])


@pytest.fixture
def algorithm(settings):
    def use(name: str) -> None:
        settings.CONSOLE_TOKEN_SIGNING_ALG = name
        keys.clear_cache()  # as a restarted worker would

    return use


def token_from(server: str, app) -> str:
    response = requests.post(
        f"{server}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(app.client_id, app.client_secret),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def node() -> str:
    path = shutil.which("node")
    if path is None or not (NODE_DIR / "node_modules" / "jose").exists():
        if os.environ.get("CI"):
            raise AssertionError(
                "node and tests/node/node_modules are needed: make test installs them"
            )
        pytest.skip(
            "node `jose` is not installed (make test runs npm ci in tests/node)"
        )
    return path


def verify_with_node(server: str, token: str) -> dict:
    result = subprocess.run(
        [node(), str(NODE_DIR / "verify.mjs"), server, token],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("name", ["RS256", "ES256", "EdDSA"])
def test_third_party_verifiers_accept_each_algorithm(server, app, org, algorithm, name):
    algorithm(name)
    token = token_from(server, app)
    assert jwt.get_unverified_header(token)["alg"] == name

    jwks = requests.get(f"{server}/.well-known/jwks.json", timeout=10).json()
    (published,) = jwks["keys"]
    kty, crv = KEY_TYPES[name]
    assert published["kty"] == kty and published["alg"] == name
    assert (
        published["use"] == "sig"
        and published["kid"] == jwt.get_unverified_header(token)["kid"]
    )
    assert published.get("crv") == crv
    assert "d" not in published  # never the private part

    # PyJWT, as a Python resource server would.
    signing_key = jwt.PyJWKClient(
        f"{server}/.well-known/jwks.json"
    ).get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token,
        signing_key.key,
        algorithms=[name],
        audience=f"{server}/api/v1",
        issuer=server,
    )
    assert claims["client_id"] == app.client_id and claims["org_id"] == str(org.pk)
    # joserfc (Authlib's JOSE library).
    decoded = jose_jwt.decode(token, KeySet.import_key_set(jwks), algorithms=[name])
    assert decoded.header["typ"] == "at+jwt" and decoded.claims["sub"] == app.client_id
    # node jose, as a JavaScript resource server would.
    verified = verify_with_node(server, token)
    assert verified["alg"] == name and verified["payload"]["jti"] == claims["jti"]

    # The console itself: the API, introspection, revocation.
    api = requests.get(
        f"{server}/api/v1/orgs/{org.pk}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert api.status_code == 200
    basic = (app.client_id, app.client_secret)
    introspected = requests.post(
        f"{server}/oauth/introspect", data={"token": token}, auth=basic, timeout=10
    )
    assert introspected.json()["active"] is True
    revoked = requests.post(
        f"{server}/oauth/revoke", data={"token": token}, auth=basic, timeout=10
    )
    assert revoked.status_code == 200
    introspected = requests.post(
        f"{server}/oauth/introspect", data={"token": token}, auth=basic, timeout=10
    )
    assert introspected.json()["active"] is False

    # The metadata and the cloned console's key endpoint follow.
    alias = f"{server}/csp/gateway/am/api/auth/token-public-key"
    assert (
        requests.get(alias, params={"format": "jwks"}, timeout=10).json()["alg"] == name
    )
    pem = requests.get(alias, timeout=10).json()
    assert pem["alg"] == name
    assert jwt.decode(
        token, pem["value"], algorithms=[name], audience=f"{server}/api/v1"
    )


def test_changing_the_algorithm_keeps_older_keys_published(server, app, org, algorithm):
    algorithm("RS256")
    rs256_token = token_from(server, app)
    algorithm("EdDSA")
    eddsa_token = token_from(server, app)
    algorithm("ES256")
    es256_token = token_from(server, app)

    jwks = requests.get(f"{server}/.well-known/jwks.json", timeout=10).json()
    assert [key["alg"] for key in jwks["keys"]] == ["ES256", "EdDSA", "RS256"]
    for token in (rs256_token, eddsa_token, es256_token):
        api = requests.get(
            f"{server}/api/v1/orgs/{org.pk}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert api.status_code == 200
        assert verify_with_node(server, token)["payload"]["client_id"] == app.client_id
    # Only the newest signs.
    assert SigningKey.objects.filter(retired_at__isnull=True).get().algorithm == "ES256"


@pytest.mark.parametrize("name", ["ES256", "EdDSA"])
def test_rotate_signing_key_makes_a_key_of_the_configured_algorithm(
    server, app, algorithm, name
):
    algorithm(name)
    first = token_from(server, app)
    call_command("rotate_signing_key", stdout=StringIO())
    second = token_from(server, app)
    assert jwt.get_unverified_header(second)["alg"] == name
    assert (
        jwt.get_unverified_header(second)["kid"]
        != jwt.get_unverified_header(first)["kid"]
    )
    assert verify_with_node(server, first) and verify_with_node(server, second)


@pytest.mark.parametrize("name", ["ES256", "EdDSA"])
def test_a_configured_pem_of_each_algorithm_signs(
    server, app, settings, algorithm, name
):
    settings.CONSOLE_SIGNING_KEY_PEM = keys.generate_private_key_pem(name)
    algorithm(name)
    token = token_from(server, app)
    assert (
        jwt.get_unverified_header(token)["kid"]
        == keys.load_configured_pem(settings.CONSOLE_SIGNING_KEY_PEM).kid
    )
    assert verify_with_node(server, token)["alg"] == name


def test_a_configured_pem_of_another_algorithm_is_refused(settings, algorithm):
    settings.CONSOLE_SIGNING_KEY_PEM = keys.generate_private_key_pem("RS256")
    algorithm("ES256")
    with pytest.raises(ValueError, match="for ES256"):
        keys.signing_key()
