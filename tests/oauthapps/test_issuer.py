"""The issuer follows the server in development (console/issuer.py): with DEBUG on and no
CONSOLE_ISSUER, every URL handed to scripts and every token's `iss`/`aud` are the scheme, host
and port the request came in on, so `make run PORT=8765` gives credentials, snippets and tokens
that work there. (Production requires CONSOLE_ISSUER: tests/test_settings_deploy.py.)"""

import base64
import json
import re
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from oauthapps.tokens import keys

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1:8765"
SERVED_AT = f"http://{HOST}"


@pytest.fixture
def development(settings):
    settings.DEBUG = True
    settings.CONSOLE_ISSUER = ""


def test_scripts_get_urls_and_tokens_of_the_host_they_called(
    development, org, make_app, contains
):
    contains(org, "compute")
    creds = make_app(org, scopes=["org:member"], add_to=[org])
    client = Client(HTTP_HOST=HOST)

    metadata = client.get("/.well-known/oauth-authorization-server").json()
    assert metadata["issuer"] == SERVED_AT
    assert metadata["token_endpoint"] == f"{SERVED_AT}/oauth/token"
    assert metadata["jwks_uri"] == f"{SERVED_AT}/.well-known/jwks.json"
    assert client.get("/api/v1/openapi.json").json()["servers"] == [
        {"url": f"{SERVED_AT}/api/v1"}
    ]

    response = client.post(
        "/oauth/token",
        "grant_type=client_credentials",
        content_type="application/x-www-form-urlencoded",
        headers={"Authorization": creds.basic},
    )
    access_token = response.json()["access_token"]
    public_key = keys.signing_key().private_key.public_key()
    claims = jwt.decode(
        access_token, public_key, algorithms=["RS256"], audience=f"{SERVED_AT}/api/v1"
    )
    assert claims["iss"] == SERVED_AT

    bearer = {"Authorization": f"Bearer {access_token}"}
    assert client.get(f"/api/v1/orgs/{org.pk}", headers=bearer).status_code == 200
    introspected = client.post(
        "/oauth/introspect",
        f"token={access_token}",
        content_type="application/x-www-form-urlencoded",
        headers={"Authorization": creds.basic},
    ).json()
    assert introspected["active"] and introspected["iss"] == SERVED_AT
    # The same token presented to another issuer's address is not one of its tokens.
    elsewhere = Client(HTTP_HOST="localhost:9000")
    assert elsewhere.get(f"/api/v1/orgs/{org.pk}", headers=bearer).status_code == 401


def test_the_wizards_json_and_the_app_page_name_the_host_served(
    development, org, owner
):
    client = Client(HTTP_HOST=HOST)
    client.force_login(owner)
    created = client.post(
        reverse("oauthapps:app_create", args=[org.pk]),
        {
            "step": "review",
            "nav": "next",
            "type-app_type": "server_to_server",
            "register-name": "Port check",
            "ttl-access_token_ttl_minutes": "30",
            "scopes-scopes": ["org:member"],
        },
    ).content.decode()
    data_url = re.search(r'href="data:application/json;base64,([^"]+)"', created)
    document = json.loads(base64.b64decode(data_url.group(1)))
    assert document["issuer"] == SERVED_AT
    assert document["token_endpoint"] == f"{SERVED_AT}/oauth/token"

    app_url = re.search(r"/orgs/[^/]+/oauth-apps/\d+/", created).group(0)
    page = client.get(app_url).content.decode()
    assert f"{SERVED_AT}/oauth/token" in page
    assert "127.0.0.1:8000" not in page


def test_create_oauth_app_needs_the_url_in_development(
    development, org, owner, tmp_path
):
    arguments = [
        "create_oauth_app",
        f"--org={org.pk}",
        f"--created-by={owner.email}",
        "--name=Scripted",
        "--scope=org:member",
    ]
    with pytest.raises(CommandError, match="Pass --issuer with the URL the console"):
        call_command(*arguments)
    output = tmp_path / "credentials.json"
    call_command(*arguments, f"--issuer={SERVED_AT}/", f"--output={output}")
    document = json.loads(output.read_text())
    assert document["issuer"] == SERVED_AT
    assert document["token_endpoint"] == f"{SERVED_AT}/oauth/token"


def test_make_run_announces_the_port_it_serves(tmp_path):
    dry_run = subprocess.run(
        ["make", "-n", "run", "PORT=8765"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = dry_run.stdout.splitlines()
    assert any("demo_data --url http://127.0.0.1:8765/" in line for line in lines)
    assert any("runserver 127.0.0.1:8765" in line for line in lines)


@pytest.mark.django_db(transaction=True)
def test_the_example_script_works_against_a_server_on_any_port(
    development, live_server, org, owner, catalog, tmp_path
):
    """What a newcomer does after `make run PORT=…`: credentials JSON, then the script."""
    credentials = tmp_path / "credentials.json"
    call_command(
        "create_oauth_app",
        f"--org={org.pk}",
        f"--created-by={owner.email}",
        "--name=Newcomer",
        "--scope=org:member",
        "--add-to-org",
        f"--issuer={live_server.url}",
        f"--output={credentials}",
    )
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "get_token.py"), str(credentials)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["id"] == str(org.pk)
