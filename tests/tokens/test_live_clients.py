"""Stock OAuth client libraries and the example script against a real HTTP server."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session as AuthlibSession
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session

from oauthapps.credentials import credentials_json
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(live_server, settings, monkeypatch):
    """The live server, with the console's public URL pointing at it (iss, aud, endpoints)."""
    settings.CONSOLE_ISSUER = live_server.url
    # The clients refuse plain HTTP unless told it is a test.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    return live_server.url


@pytest.fixture
def app(org, make_app, contains):
    contains(org, "compute")
    return make_app(
        org,
        scopes=["org:admin", "svc:compute:viewer", "svc:billing:viewer"],
        ttl=7,
        add_to=[org],
    )


def verify_with_jwks(server: str, access_token: str) -> dict:
    signing_key = jwt.PyJWKClient(
        f"{server}/.well-known/jwks.json"
    ).get_signing_key_from_jwt(access_token)
    return jwt.decode(
        access_token,
        signing_key.key,
        algorithms=["RS256"],
        audience=f"{server}/api/v1",
        issuer=server,
        options={
            "require": ["exp", "iat", "jti", "sub", "client_id", "scope", "org_id"]
        },
    )


@pytest.fixture
def sessions():
    """Close client sessions at the end of the test: a kept-alive connection would otherwise
    outlive the live server's database connection."""
    opened = []
    yield opened.append
    for session in opened:
        session.close()


def test_requests_oauthlib_backend_application_client(server, app, org, sessions):
    session = OAuth2Session(client=BackendApplicationClient(client_id=app.client_id))
    sessions(session)
    token = session.fetch_token(
        token_url=f"{server}/oauth/token",
        client_id=app.client_id,
        client_secret=app.client_secret,
    )

    assert token["token_type"] == "bearer"
    assert token["expires_in"] == 420
    assert token["scope"] == ["org:admin", "svc:compute:viewer"]
    response = session.get(f"{server}/api/v1/orgs/{org.pk}/members")
    assert response.status_code == 200
    assert response.json()["members"][0]["email"] == "owner@example.com"


def test_requests_oauthlib_with_the_secret_in_the_body(server, app, org, sessions):
    session = OAuth2Session(client=BackendApplicationClient(client_id=app.client_id))
    sessions(session)
    token = session.fetch_token(
        token_url=f"{server}/oauth/token",
        client_id=app.client_id,
        client_secret=app.client_secret,
        include_client_id=True,
        orgId=str(org.pk),
    )
    assert verify_with_jwks(server, token["access_token"])["org_id"] == str(org.pk)


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_authlib_client_credentials(server, app, org, method, sessions):
    session = AuthlibSession(
        app.client_id,
        app.client_secret,
        token_endpoint_auth_method=method,
        scope="svc:compute:viewer",
    )
    sessions(session)
    token = session.fetch_token(
        f"{server}/oauth/token", grant_type="client_credentials"
    )

    assert token["scope"] == "svc:compute:viewer"
    assert (
        session.get(f"{server}/api/v1/orgs/{org.pk}/services/compute").status_code
        == 200
    )
    # The token carries only what was asked for: the org itself needs an org: role.
    response = session.get(f"{server}/api/v1/orgs/{org.pk}")
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"


def test_pyjwt_verifies_tokens_through_the_jwks(server, app, org):
    response = requests.post(
        f"{server}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(app.client_id, app.client_secret),
        timeout=10,
    )
    claims = verify_with_jwks(server, response.json()["access_token"])

    assert claims["client_id"] == claims["sub"] == app.client_id
    assert claims["org_id"] == str(org.pk)
    assert claims["scope"] == "org:admin svc:compute:viewer"
    assert claims["exp"] - claims["iat"] == 420


def test_metadata_discovery_leads_to_working_endpoints(server, app, org):
    metadata = requests.get(
        f"{server}/.well-known/oauth-authorization-server", timeout=10
    ).json()
    assert metadata["issuer"] == server
    token = requests.post(
        metadata["token_endpoint"],
        data={"grant_type": "client_credentials"},
        auth=(app.client_id, app.client_secret),
        timeout=10,
    ).json()["access_token"]

    introspection = requests.post(
        metadata["introspection_endpoint"],
        data={"token": token},
        auth=(app.client_id, app.client_secret),
        timeout=10,
    ).json()
    assert introspection["active"] is True

    revoked = requests.post(
        metadata["revocation_endpoint"],
        data={"token": token},
        auth=(app.client_id, app.client_secret),
        timeout=10,
    )
    assert revoked.status_code == 200
    api = requests.get(
        f"{server}/api/v1/orgs/{org.pk}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert api.status_code == 401
    assert 'error="invalid_token"' in api.headers["WWW-Authenticate"]


def test_the_clone_paths_work_for_its_scripts(server, app, org):
    token = requests.post(
        f"{server}/csp/gateway/am/api/auth/authorize",
        data={"grant_type": "client_credentials", "orgId": str(org.pk)},
        auth=(app.client_id, app.client_secret),
        timeout=10,
    ).json()["access_token"]
    public_key = requests.get(
        f"{server}/csp/gateway/am/api/auth/token-public-key?format=pem", timeout=10
    ).json()["value"]
    claims = jwt.decode(
        token, public_key, algorithms=["RS256"], audience=f"{server}/api/v1"
    )
    assert claims["org_id"] == str(org.pk)


def test_bad_requests_over_http_are_clean_errors(server, app):
    url = f"{server}/oauth/token"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    non_utf8 = requests.post(
        url,
        data=b"grant_type=client_credentials&scope=\xc3\x28",
        headers=headers,
        auth=(app.client_id, app.client_secret),
        timeout=10,
    )
    assert non_utf8.status_code == 400
    assert non_utf8.json()["error"] == "invalid_request"

    too_big = requests.post(
        url,
        data=b"grant_type=client_credentials&scope=" + b"a" * 100_000,
        headers=headers,
        auth=(app.client_id, app.client_secret),
        timeout=10,
    )
    assert too_big.status_code == 400
    assert too_big.json()["error_description"] == "The request body is too large."

    wrong = requests.post(
        url,
        data={"grant_type": "client_credentials"},
        auth=(app.client_id, app.client_secret.upper()),
        timeout=10,
    )
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"].startswith("Basic realm=")
    assert wrong.headers["Cache-Control"] == "no-store"


# --- examples/get_token.py ----------------------------------------------------------------------


def run_example(credentials_file: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "get_token.py"),
            str(credentials_file),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_example_script_reads_the_downloaded_json(server, app, org, tmp_path):
    credentials = tmp_path / "credentials.json"
    credentials.write_text(
        credentials_json(app=app.app, client_secret=app.client_secret)
    )

    result = run_example(credentials)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "id": str(org.pk),
        "name": "Acme Corp",
        "created_at": org.created_at.isoformat(),
    }
    assert "420 seconds" in result.stderr
    assert "org:admin svc:compute:viewer" in result.stderr


def test_the_example_script_in_another_org(server, app, owner, tmp_path):
    elsewhere = OrganizationFactory(name="Elsewhere")
    credentials = tmp_path / "credentials.json"
    credentials.write_text(
        credentials_json(app=app.app, client_secret=app.client_secret)
    )

    refused = run_example(credentials, "--org-id", str(elsewhere.pk))
    assert refused.returncode == 1
    assert "invalid_grant" in refused.stderr

    from oauthapps.services import oauth_app_add_to_org

    oauth_app_add_to_org(app=app.app, org=elsewhere, added_by=owner)
    result = run_example(credentials, "--org-id", str(elsewhere.pk))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["name"] == "Elsewhere"


def test_the_example_script_reports_a_wrong_secret(server, app, tmp_path):
    credentials = tmp_path / "credentials.json"
    credentials.write_text(
        credentials_json(app=app.app, client_secret="not-the-secret")
    )
    result = run_example(credentials)
    assert result.returncode == 1
    assert "401" in result.stderr
    assert "invalid_client" in result.stderr


# --- examples/get_token.sh (the curl equivalent) ---------------------------------------------------


@pytest.mark.skipif(
    not (shutil.which("curl") and shutil.which("jq")), reason="needs curl and jq"
)
def test_the_curl_example_does_the_same(server, app, org, tmp_path):
    credentials = tmp_path / "credentials.json"
    credentials.write_text(
        credentials_json(app=app.app, client_secret=app.client_secret)
    )
    result = subprocess.run(
        ["bash", str(ROOT / "examples" / "get_token.sh"), str(credentials)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["id"] == str(org.pk)

    credentials.write_text(credentials_json(app=app.app, client_secret="wrong"))
    failed = subprocess.run(
        ["bash", str(ROOT / "examples" / "get_token.sh"), str(credentials)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert failed.returncode == 1
    assert "invalid_client" in failed.stderr
