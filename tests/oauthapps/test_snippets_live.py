"""The app page's "Get a token" snippets, copied as shown, run against a live console."""

import ast
import html
import json
import re
import shutil
import subprocess
import sys

import pytest
from django.urls import reverse

from oauthapps.credentials import credentials_filename, credentials_json

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def page(live_server, settings, org, owner, make_app, client_as, tmp_path):
    """The app page as its owner sees it, with the credentials JSON saved where a user would."""
    settings.CONSOLE_ISSUER = live_server.url
    creds = make_app(org, name="Billing Sync", scopes=["org:member"], add_to=[org])
    (tmp_path / credentials_filename(app=creds.app)).write_text(
        credentials_json(app=creds.app, client_secret=creds.client_secret)
    )
    response = client_as(owner).get(
        reverse("oauthapps:app_detail", args=[org.pk, creds.app.pk])
    )
    return response.content.decode(), creds


def snippet(page_html: str, name: str) -> str:
    match = re.search(
        rf'<pre class="code" id="snippet-{name}"[^>]*>(.*?)</pre>', page_html, re.S
    )
    assert match, name
    return html.unescape(match.group(1))


def test_the_python_snippet_gets_a_token_and_reads_the_org(page, org, tmp_path):
    page_html, _ = page
    result = subprocess.run(
        [sys.executable, "-c", snippet(page_html, "python")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    # It prints the API's answer as a Python dict.
    assert ast.literal_eval(result.stdout)["id"] == str(org.pk)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_curl_snippet_gets_a_token_and_reads_the_org(page, org, tmp_path):
    page_html, creds = page
    script = snippet(page_html, "curl")
    placeholder = re.search(r"CLIENT_SECRET='(<[^']+>)'", script).group(1)
    script = script.replace(placeholder, creds.client_secret)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["id"] == str(org.pk)
