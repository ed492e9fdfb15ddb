"""Programs calling the OAuth paths, /.well-known and the API always get JSON: a wrong method is a
405 with Allow and a JSON error (never an empty HTML body or the CSRF page), a wrong media type a
400 invalid_request."""

import uuid

import pytest
from django.test import Client

POST_PATHS = [
    "/oauth/token",
    "/oauth/introspect",
    "/oauth/revoke",
    "/csp/gateway/am/api/auth/authorize",
]
GET_PATHS = [
    "/.well-known/oauth-authorization-server",
    "/.well-known/jwks.json",
    "/csp/gateway/am/api/auth/token-public-key",
    "/api/v1/openapi.json",
]


@pytest.fixture
def program() -> Client:
    # A browser-like client with a CSRF cookie, checks on: the answer must still be JSON.
    client = Client(enforce_csrf_checks=True)
    client.cookies["csrftoken"] = "x" * 32
    return client


def assert_json_405(response, allow: str) -> None:
    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response["Allow"] == allow
    assert response.json()["error"] == "invalid_request"
    assert response.json()["error_description"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", POST_PATHS)
@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_post_paths_refuse_other_methods_in_json(program, path, method):
    assert_json_405(getattr(program, method)(path), "POST")


@pytest.mark.django_db
@pytest.mark.parametrize("path", GET_PATHS)
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_get_paths_refuse_other_methods_in_json(program, path, method):
    assert_json_405(getattr(program, method)(path), "GET, HEAD")


@pytest.mark.django_db
@pytest.mark.parametrize("path", GET_PATHS)
def test_get_paths_answer_head(program, path):
    assert program.head(path).status_code == 200


@pytest.mark.django_db
def test_api_refuses_other_methods_in_json(program):
    org = uuid.uuid4()
    assert_json_405(program.delete(f"/api/v1/orgs/{org}"), "GET, HEAD")
    assert_json_405(
        program.get(f"/api/v1/orgs/{org}/services/compute/activity"), "POST"
    )


@pytest.mark.django_db
@pytest.mark.parametrize("path", POST_PATHS[:3])
@pytest.mark.parametrize(
    "content_type, body",
    [
        ("application/json", b'{"grant_type": "client_credentials"}'),
        ("text/plain", b"grant_type=client_credentials"),
        ("multipart/form-data; boundary=x", b"--x--"),
        ("application/x-www-form-urlencoded", b"grant_type=\xff\xfe"),
    ],
)
def test_oauth_paths_refuse_other_media_types_as_invalid_request(
    program, path, content_type, body
):
    response = program.generic("POST", path, body, content_type=content_type)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "invalid_request"
