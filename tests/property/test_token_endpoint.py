"""The token endpoint (and introspection and revocation) against arbitrary bytes, huge bodies, odd
encodings, repeated parameters and header injection: always an RFC 6749 JSON answer, never a 5xx,
never a header built from the input, and a token row exactly when a token was issued."""

import base64
import json
from urllib.parse import quote, urlencode

import pytest
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from tests.property.state import count
from tests.property.strategies import FORM_SETTINGS, text
from tests.tokens.fixtures import Credentials

TOKEN_MODEL = "tokens.IssuedToken"
ENDPOINTS = ["/oauth/token", "/oauth/introspect", "/oauth/revoke", "/csp/gateway/am/api/auth/authorize"]  # fmt: skip
CONTENT_TYPES = [
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-8",
    "application/x-www-form-urlencoded; charset=latin-1",
    "application/x-www-form-urlencoded; charset=utf-16",
    "APPLICATION/X-WWW-FORM-URLENCODED",
    "application/json",
    "multipart/form-data; boundary=xyz",
    "multipart/form-data",
    "text/plain",
    "",
]
PARAMETERS = ["grant_type", "client_id", "client_secret", "scope", "orgId", "token",
              "token_type_hint", "audience", "x"]  # fmt: skip


@pytest.fixture(autouse=True)
def no_rate_limits(settings):
    # These examples are hundreds of failed authentications from one address: the limiter
    # would (rightly) answer 429 to most of them. Its own tests are in tests/security.
    settings.CONSOLE_TOKEN_RATE_PER_CLIENT = 0
    settings.CONSOLE_TOKEN_RATE_PER_IP = 0
    settings.CONSOLE_TOKEN_FAIL_RATE_PER_IP = 0


@pytest.fixture
def creds(org, make_app, contains) -> Credentials:
    contains(org, "compute")
    return make_app(org, scopes=["org:member", "svc:compute:viewer"], add_to=[org])


def assert_oauth_json(response) -> dict:
    assert response.status_code < 500, response.content[:300]
    assert response["Content-Type"] == "application/json", response.content[:300]
    body = json.loads(response.content)
    if response.status_code >= 400:
        assert isinstance(body["error"], str) and body["error"]
        description = body.get("error_description", "")
        # RFC 6749 §5.2: printable ASCII except " and \, so it never carries raw input.
        assert all(0x20 <= ord(c) <= 0x7E and c not in '"\\' for c in description)
    for name, value in response.items():
        assert "\r" not in value and "\n" not in value, name
    assert "X-Injected" not in response and "Set-Cookie" not in response
    return body


def raw_post(path: str, body: bytes, content_type: str, **extra: str):
    """POST these exact bytes (Client.post would re-encode a body for its charset)."""
    return Client().generic("POST", path, body, content_type=content_type, **extra)


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@FORM_SETTINGS
@given(
    body=st.one_of(st.binary(max_size=2048), st.text(max_size=512).map(str.encode)),
    content_type=st.sampled_from(CONTENT_TYPES),
    endpoint=st.sampled_from(ENDPOINTS),
    authorization=st.one_of(st.none(), text, st.binary(max_size=64).map(lambda b: "Basic " + base64.b64encode(b).decode())),
)  # fmt: skip
def test_arbitrary_bytes(creds, body, content_type, endpoint, authorization):
    tokens = count(TOKEN_MODEL)
    extra = {"HTTP_AUTHORIZATION": authorization} if authorization is not None else {}
    response = raw_post(endpoint, body, content_type, **extra)
    assert_oauth_json(response)
    assert response.status_code != 200 or endpoint not in ("/oauth/token",)
    assert count(TOKEN_MODEL) == tokens


@FORM_SETTINGS
@given(
    pairs=st.lists(
        st.tuples(st.sampled_from(PARAMETERS), st.one_of(text, st.sampled_from(
            ["client_credentials", "org:member", "svc:compute:viewer org:member", "org:owner"]))),
        max_size=8,
    ),
    how=st.sampled_from(["basic", "form", "none"]),
    grant=st.booleans(),
)  # fmt: skip
def test_valid_credentials_with_arbitrary_parameters(creds, org, pairs, how, grant):
    if grant:
        pairs = [("grant_type", "client_credentials"), *pairs]
    headers = {}
    if how == "basic":
        headers["HTTP_AUTHORIZATION"] = creds.basic
    elif how == "form":
        pairs = [
            ("client_id", creds.client_id),
            ("client_secret", creds.client_secret),
            *pairs,
        ]
    tokens = count(TOKEN_MODEL)
    response = Client().post(
        "/oauth/token",
        urlencode(pairs),
        content_type="application/x-www-form-urlencoded",
        **headers,
    )
    body = assert_oauth_json(response)
    if response.status_code == 200:
        assert count(TOKEN_MODEL) == tokens + 1
        assert body["token_type"] == "bearer" and body["scope"]
        names = [name for name, _ in pairs]
        assert len(names) == len(set(names))  # a repeated parameter is never accepted
    else:
        assert count(TOKEN_MODEL) == tokens


@pytest.mark.parametrize("size", [16 * 1024 + 1, 1024 * 1024, 3 * 1024 * 1024])
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_huge_bodies_are_refused_cleanly(creds, size, endpoint):
    body = ("grant_type=client_credentials&scope=" + "a" * size).encode()
    response = Client().post(
        endpoint, body, content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=creds.basic,
    )  # fmt: skip
    assert response.status_code in (400, 413)
    assert assert_oauth_json(response)["error"] == "invalid_request"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("grant_type=client_credentials&scope=org:member\xe9".encode("latin-1"), "application/x-www-form-urlencoded"),
        (b"grant_type=client_credentials", "application/x-www-form-urlencoded; charset=latin-1"),
        ("grant_type=client_credentials".encode("utf-16"), "application/x-www-form-urlencoded; charset=utf-16"),
        ("grant_type=client_credentials".encode("utf-16"), "application/x-www-form-urlencoded"),
        (b"\xef\xbb\xbfgrant_type=client_credentials", "application/x-www-form-urlencoded"),
        (b"grant_type=client_credentials&scope=%ff%fe", "application/x-www-form-urlencoded"),
        (b"grant_type=client_credentials&scope=%C0%AF", "application/x-www-form-urlencoded"),
        (b"grant_type=client_credentials&scope=%ED%A0%80", "application/x-www-form-urlencoded"),
        (b"grant_type=client_credentials&scope=org%00member", "application/x-www-form-urlencoded"),
        (b"grant_type=client_credentials&&&&=&=x&", "application/x-www-form-urlencoded"),
        (b'{"grant_type": "client_credentials"}', "application/json"),
        (b"--x\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nclient_credentials\r\n--x--", "multipart/form-data; boundary=x"),
    ],
)  # fmt: skip
def test_odd_encodings_get_invalid_request_and_no_token(creds, body, content_type):
    tokens = count(TOKEN_MODEL)
    response = raw_post(
        "/oauth/token", body, content_type, HTTP_AUTHORIZATION=creds.basic
    )
    body = assert_oauth_json(response)
    assert response.status_code in (400, 401)
    assert count(TOKEN_MODEL) == tokens


@pytest.mark.parametrize(
    "name", ["grant_type", "scope", "orgId", "client_id", "client_secret"]
)
def test_any_repeated_parameter_is_refused(creds, org, name):
    pairs = {"grant_type": "client_credentials", "scope": "org:member", "orgId": str(org.pk),
             "client_id": creds.client_id, "client_secret": creds.client_secret}  # fmt: skip
    body = urlencode(list(pairs.items()) + [(name, pairs[name])])
    response = Client().post(
        "/oauth/token", body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert assert_oauth_json(response)["error"] == "invalid_request"


INJECTIONS = [
    "\r\nX-Injected: 1",
    "\nSet-Cookie: pwned=1",
    "\r\n\r\n<html>",
    "%0d%0aX-Injected:%201",
    "\u2028X-Injected: 1",
]


@pytest.mark.parametrize("injection", INJECTIONS)
def test_header_injection_attempts_go_nowhere(creds, org, injection):
    attempts = [
        {"HTTP_AUTHORIZATION": creds.basic + injection},
        {"HTTP_AUTHORIZATION": basic(creds.client_id + injection, creds.client_secret)},
        {"HTTP_AUTHORIZATION": basic(quote(creds.client_id + injection), "x")},
        {"HTTP_HOST": "127.0.0.1" + injection},
        {"HTTP_X_FORWARDED_FOR": "1.2.3.4" + injection},
    ]
    for extra in attempts:
        response = Client().post(
            "/oauth/token", "grant_type=client_credentials",
            content_type="application/x-www-form-urlencoded", **extra,
        )  # fmt: skip
        if response.status_code == 400 and "HTTP_HOST" in extra:
            continue  # Django refuses the Host outright (DisallowedHost)
        assert_oauth_json(response)
    for field in ("scope", "orgId", "grant_type"):
        response = Client().post(
            "/oauth/token",
            urlencode(
                {"grant_type": "client_credentials", field: "org:member" + injection}
            ),
            content_type="application/x-www-form-urlencoded",
            HTTP_AUTHORIZATION=creds.basic,
        )
        assert response.status_code == 400
        assert_oauth_json(response)
