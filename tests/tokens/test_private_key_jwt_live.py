"""private_key_jwt end to end against a live console: third-party clients (Authlib's
PrivateKeyJWT, node openid-client's PrivateKeyJwt) for RS256, ES256 and EdDSA keys, the example
script and the app page's snippets."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign
from joserfc.jwk import ECKey, OKPKey, RSAKey

from oauthapps.credentials import credentials_json
from tests.tokens.assertions import ALGS, key_pair
from tests.tokens.test_live_clients import run_example

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
NODE_CLIENTS = ROOT / "tests" / "node"
JOSERFC_KEYS = {"RS256": RSAKey, "ES256": ECKey, "EdDSA": OKPKey}


@pytest.fixture
def server(live_server, settings):
    settings.CONSOLE_ISSUER = live_server.url
    return live_server.url


@pytest.fixture
def sessions():
    opened = []
    yield opened.append
    for session in opened:
        session.close()


def verified(server: str, access_token: str) -> dict:
    signing_key = jwt.PyJWKClient(
        f"{server}/.well-known/jwks.json"
    ).get_signing_key_from_jwt(access_token)
    return jwt.decode(
        access_token,
        signing_key.key,
        algorithms=["RS256"],
        audience=f"{server}/api/v1",
        issuer=server,
    )


class OneMinutePrivateKeyJWT(PrivateKeyJWT):
    """Authlib's PrivateKeyJWT with one-minute assertions. Its own default lifetime is an hour,
    which the console refuses (at most five minutes: test_authlibs_default_lifetime...)."""

    def sign(self, auth, token_endpoint):
        return private_key_jwt_sign(
            auth.client_secret,
            client_id=auth.client_id,
            token_endpoint=token_endpoint,
            header=self.headers,
            alg=self.alg,
            expires_in=60,
        )


def authlib_session(app, alg: str, auth_class=OneMinutePrivateKeyJWT) -> OAuth2Session:
    private_key = JOSERFC_KEYS[alg].import_key(key_pair(alg).private_pem)
    session = OAuth2Session(
        app.client_id, private_key, token_endpoint_auth_method="private_key_jwt"
    )
    session.register_client_auth_method(auth_class(alg=alg))
    return session


@pytest.mark.parametrize("alg", ALGS)
def test_authlib_private_key_jwt(server, org, make_key_app, alg, sessions):
    app = make_key_app(org, key_pair(alg), scopes=["org:member"], add_to=[org])
    session = authlib_session(app, alg)
    sessions(session)

    token = session.fetch_token(
        f"{server}/oauth/token", grant_type="client_credentials"
    )

    assert token["scope"] == "org:member"
    assert verified(server, token["access_token"])["sub"] == app.client_id
    response = session.get(f"{server}/api/v1/orgs/{org.pk}")
    assert response.status_code == 200
    assert response.json()["id"] == str(org.pk)
    # Each request signs a new assertion (a new jti): a second token comes too.
    assert session.fetch_token(f"{server}/oauth/token", grant_type="client_credentials")


def test_authlibs_default_lifetime_of_an_hour_is_refused(
    server, org, make_key_app, sessions
):
    app = make_key_app(org, key_pair("ES256"), scopes=["org:member"], add_to=[org])
    session = authlib_session(app, "ES256", auth_class=PrivateKeyJWT)
    sessions(session)
    with pytest.raises(OAuthError) as refused:
        session.fetch_token(f"{server}/oauth/token", grant_type="client_credentials")
    assert refused.value.error == "invalid_client"
    assert "at most 5 minutes ahead" in refused.value.description


def node_client() -> list[str]:
    """The node command for tests/node/client_credentials.mjs; skipped without node, except in
    CI, where a missing node or a missing `npm ci` fails loudly."""
    node = shutil.which("node")
    installed = (NODE_CLIENTS / "node_modules" / "openid-client").is_dir()
    if node is None or not installed:
        missing = (
            "node is not installed"
            if node is None
            else "tests/node is not installed (make test runs npm ci there)"
        )
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the node clients: {missing}.")
        pytest.skip(missing)
    return [node, str(NODE_CLIENTS / "client_credentials.mjs")]


@pytest.mark.parametrize("alg", ALGS)
def test_node_openid_client_private_key_jwt(server, org, make_key_app, alg, tmp_path):
    command = node_client()
    key = key_pair(alg)
    app = make_key_app(org, key, scopes=["org:member"], add_to=[org])
    key_file = tmp_path / "private-key.pem"
    key_file.write_text(key.private_pem)

    result = subprocess.run(
        [*command, server, app.client_id, str(key_file), alg, str(org.pk)],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    tokens = json.loads(result.stdout)
    assert tokens["token_type"] == "bearer"
    claims = verified(server, tokens["access_token"])
    assert claims["sub"] == app.client_id
    assert claims["org_id"] == str(org.pk)


def test_node_openid_client_with_a_key_the_app_does_not_have(
    server, org, make_key_app, tmp_path
):
    command = node_client()
    app = make_key_app(org, key_pair("ES256"), scopes=["org:member"], add_to=[org])
    key_file = tmp_path / "private-key.pem"
    key_file.write_text(key_pair("ES256", 2).private_pem)

    result = subprocess.run(
        [*command, server, app.client_id, str(key_file), "ES256"],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    answer = json.loads(result.stdout)
    assert answer["error"] == "invalid_client"
    assert "does not verify with any public key" in answer["error_description"]


# The example script and the app page's snippets ----------------------------------------------


@pytest.mark.parametrize("alg", ALGS)
def test_the_example_script_with_a_private_key(
    server, org, make_key_app, alg, tmp_path
):
    key = key_pair(alg)
    app = make_key_app(org, key, scopes=["org:member"], add_to=[org])
    credentials = tmp_path / "credentials.json"
    credentials.write_text(credentials_json(app=app, client_secret=None))
    (tmp_path / "private-key.pem").write_text(key.private_pem)

    result = run_example(
        credentials, "--private-key", str(tmp_path / "private-key.pem")
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["id"] == str(org.pk)

    without = run_example(credentials)
    assert without.returncode == 1
    assert "pass its private key with --private-key" in without.stderr
    (tmp_path / "other.pem").write_text(key_pair(alg, 2).private_pem)
    wrong = run_example(credentials, "--private-key", str(tmp_path / "other.pem"))
    assert wrong.returncode == 1
    assert "invalid_client" in wrong.stderr


def test_the_curl_example_points_to_the_python_one(org, make_key_app, tmp_path):
    if not (shutil.which("curl") and shutil.which("jq")):
        pytest.skip("needs curl and jq")
    app = make_key_app(org, key_pair("ES256"), scopes=["org:member"], add_to=[org])
    credentials = tmp_path / "credentials.json"
    credentials.write_text(credentials_json(app=app, client_secret=None))
    result = subprocess.run(
        ["bash", str(ROOT / "examples" / "get_token.sh"), str(credentials)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "use examples/get_token.py" in result.stderr


@pytest.mark.parametrize("language", ["python", "curl"])
def test_the_app_pages_snippets_sign_an_assertion(
    server, org, owner, make_key_app, client_as, tmp_path, language
):
    if language == "curl" and shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    from django.urls import reverse

    from oauthapps.credentials import credentials_filename
    from tests.oauthapps.test_snippets_live import snippet

    key = key_pair("EdDSA")
    app = make_key_app(org, key, name="Key Sync", scopes=["org:member"], add_to=[org])
    (tmp_path / credentials_filename(app=app)).write_text(
        credentials_json(app=app, client_secret=None)
    )
    (tmp_path / "private-key.pem").write_text(key.private_pem)
    page = client_as(owner).get(reverse("oauthapps:app_detail", args=[org.pk, app.pk]))
    code = snippet(page.content.decode(), language)
    command = (
        [sys.executable, "-c", code]
        if language == "python"
        else ["bash", "-euo", "pipefail", "-c", code]
    )
    # The curl snippet's `python3` must have PyJWT: this virtualenv's does.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}

    result = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=60, env=env
    )

    assert result.returncode == 0, result.stderr
    assert str(org.pk) in result.stdout
