"""What a database outage looks like from outside (console/errors.py): programs get JSON 503
`temporarily_unavailable` with Retry-After, people a friendly 503 page; other crashes are a JSON
500 or the console's 500 page; an error page that cannot render falls back to a bare one.
(bench/faults.py does the same against a real PostgreSQL restart.)"""

import json
from contextlib import contextmanager

import pytest
from django.db import OperationalError
from django.test import Client
from django.urls import reverse

from console import errors
from tests.tokens.fixtures import get_token

GRANT = "grant_type=client_credentials"


@pytest.fixture
def crashing_client() -> Client:
    return Client(raise_request_exception=False)


@contextmanager
def database_down():
    """Every query fails the way a stopped PostgreSQL makes it fail (undone before the test's
    own database teardown, which queries too)."""
    from django.db.backends.utils import CursorWrapper

    def refuse(*args, **kwargs):
        raise OperationalError("connection to server at 127.0.0.1, port 5432 failed")

    saved = CursorWrapper.execute, CursorWrapper.executemany
    CursorWrapper.execute = CursorWrapper.executemany = refuse
    try:
        yield
    finally:
        CursorWrapper.execute, CursorWrapper.executemany = saved


def test_the_token_endpoint_answers_json_503_while_the_database_is_down(
    crashing_client, org, make_app
):
    creds = make_app(org, scopes=["org:member"], add_to=[org])
    with database_down():
        response = crashing_client.post(
            "/oauth/token",
            GRANT,
            content_type="application/x-www-form-urlencoded",
            headers={"Authorization": creds.basic},
        )
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == str(errors.OUTAGE_RETRY_AFTER_SECONDS)
    assert response["Cache-Control"] == "no-store"
    assert json.loads(response.content)["error"] == "temporarily_unavailable"


def test_the_api_answers_json_503_too(crashing_client, api_client, org, make_app):
    creds = make_app(org, scopes=["org:member"], add_to=[org])
    token = get_token(api_client, creds)["access_token"]
    with database_down():
        response = crashing_client.get(
            f"/api/v1/orgs/{org.pk}", headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content)["error"] == "temporarily_unavailable"


def test_console_pages_show_a_friendly_page(crashing_client, owner, org):
    crashing_client.force_login(owner)
    with database_down():
        response = crashing_client.get(reverse("orgs:org_overview", args=[org.pk]))
    assert response.status_code == 503
    page = response.content.decode()
    assert "The console is temporarily unavailable" in page
    assert "nothing was changed" in page
    assert "Traceback" not in page and "OperationalError" not in page
    assert response["Retry-After"] == str(errors.OUTAGE_RETRY_AFTER_SECONDS)


def test_other_crashes_are_a_500_without_details(crashing_client, monkeypatch, db):
    from oauthapps.tokens import views

    monkeypatch.setattr(
        views.oauthlib_core(),
        "create_token_response",
        lambda *a, **k: 1 / 0,
    )
    response = crashing_client.post(
        "/oauth/token", GRANT, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 500
    assert json.loads(response.content) == {
        "error": "server_error",
        "error_description": "The server hit an unexpected error.",
    }


def test_the_error_page_falls_back_when_its_template_fails(rf, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("Missing staticfiles manifest entry")

    monkeypatch.setattr(errors, "render_to_string", broken)
    try:
        raise OperationalError("down")
    except OperationalError:
        response = errors.server_error(rf.get("/orgs/"))
    assert response.status_code == 503
    assert b"Temporarily unavailable" in response.content


def test_programs_get_json_for_unknown_urls_and_unparsable_requests(client, db):
    missing = client.get("/api/v1/orgs/not-a-uuid")
    assert missing.status_code == 404
    assert json.loads(missing.content)["error"] == "not_found"
    unparsable = client.generic(
        "POST",
        "/oauth/token",
        b"grant_type=client_credentials",
        content_type="application/x-www-form-urlencoded; charset=latin-1",
    )
    assert unparsable.status_code == 400
    assert json.loads(unparsable.content)["error"] == "invalid_request"
    wrong_host = client.post("/oauth/token", HTTP_HOST="evil.example")
    assert wrong_host.status_code == 400
    assert "Host header" in json.loads(wrong_host.content)["error_description"]
    # People still get the console's pages.
    page = client.get("/no-such-page/")
    assert page.status_code == 404
    assert "Page not found" in page.content.decode()
