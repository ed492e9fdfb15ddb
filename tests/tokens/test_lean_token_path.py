"""The token endpoint's lean path answers exactly as oauthlib's token endpoint does.

Each request is answered twice, by `create_token_response` (the lean path the view uses) and by
`create_token_response_through_oauthlib` (the toolkit's request extraction and oauthlib's
TokenEndpoint): errors must be the same bytes with the same headers and status; successes the same
fields, types and values except the token itself.
"""

import base64
import json
from urllib.parse import urlencode

import pytest
from django.test import RequestFactory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oauthapps.tokens.views import oauthlib_core
from tests.factories import OrganizationFactory

factory = RequestFactory()


@pytest.fixture
def app(org, make_app, contains):
    contains(org, "compute")
    return make_app(
        org, scopes=["org:member", "svc:compute:viewer"], ttl=30, add_to=[org]
    )


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def both(body: bytes, authorization: str | None = None, path: str = "/oauth/token"):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}

    def request():
        return factory.post(
            path, body, content_type="application/x-www-form-urlencoded", **headers
        )

    core = oauthlib_core()
    return (
        core.create_token_response(request()),
        core.create_token_response_through_oauthlib(request()),
    )


def assert_same(lean, stock) -> None:
    lean_headers, lean_body, lean_status = lean
    stock_headers, stock_body, stock_status = stock
    assert lean_status == stock_status
    assert list(lean_headers.items()) == list(stock_headers.items())
    if lean_status != 200:
        assert lean_body == stock_body
        return
    lean_token, stock_token = json.loads(lean_body), json.loads(stock_body)
    assert list(lean_token) == list(stock_token)
    assert lean_token.pop("access_token") != stock_token.pop("access_token")
    assert lean_token == stock_token


CASES = {
    "basic": lambda app, org: ({"grant_type": "client_credentials"}, app.basic),
    "post": lambda app, org: (
        {
            "grant_type": "client_credentials",
            "client_id": app.client_id,
            "client_secret": app.client_secret,
        },
        None,
    ),
    "scope and orgId": lambda app, org: (
        {
            "grant_type": "client_credentials",
            "scope": "svc:compute:viewer",
            "orgId": str(org.pk),
        },
        app.basic,
    ),
    "state on success": lambda app, org: (
        {"grant_type": "client_credentials", "state": "xyz"},
        app.basic,
    ),
    "missing grant_type": lambda app, org: ({}, app.basic),
    "empty grant_type": lambda app, org: ({"grant_type": ""}, app.basic),
    "password grant": lambda app, org: ({"grant_type": "password"}, app.basic),
    "wrong secret": lambda app, org: (
        {"grant_type": "client_credentials"},
        basic(app.client_id, "nope"),
    ),
    "wrong secret with state": lambda app, org: (
        {"grant_type": "client_credentials", "state": "abc"},
        basic(app.client_id, "nope"),
    ),
    "unknown client": lambda app, org: (
        {"grant_type": "client_credentials"},
        basic("unknown", "x"),
    ),
    "no authentication": lambda app, org: ({"grant_type": "client_credentials"}, None),
    "client_id without secret": lambda app, org: (
        {"grant_type": "client_credentials", "client_id": app.client_id},
        None,
    ),
    "empty secret": lambda app, org: (
        {
            "grant_type": "client_credentials",
            "client_id": app.client_id,
            "client_secret": "",
        },
        None,
    ),
    "basic and body secret": lambda app, org: (
        {"grant_type": "client_credentials", "client_secret": app.client_secret},
        app.basic,
    ),
    "other client_id in body": lambda app, org: (
        {"grant_type": "client_credentials", "client_id": "someone-else"},
        app.basic,
    ),
    "malformed basic": lambda app, org: (
        {"grant_type": "client_credentials"},
        "Basic !!!",
    ),
    "bearer instead of basic": lambda app, org: (
        {"grant_type": "client_credentials"},
        "Bearer abc",
    ),
    "scope not granted": lambda app, org: (
        {"grant_type": "client_credentials", "scope": "org:owner org:member"},
        app.basic,
    ),
    "malformed scope": lambda app, org: (
        {"grant_type": "client_credentials", "scope": 'org:member "<x>"'},
        app.basic,
    ),
    "non-ascii scope": lambda app, org: (
        {"grant_type": "client_credentials", "scope": "svc:cömpute:viewer"},
        app.basic,
    ),
    "empty scope": lambda app, org: (
        {"grant_type": "client_credentials", "scope": ""},
        app.basic,
    ),
    "malformed orgId": lambda app, org: (
        {"grant_type": "client_credentials", "orgId": "acme"},
        app.basic,
    ),
    "orgId of another org": lambda app, org: (
        {"grant_type": "client_credentials", "orgId": str(OrganizationFactory().pk)},
        app.basic,
    ),
    "unknown parameters": lambda app, org: (
        {"grant_type": "client_credentials", "foo": "bar", "redirect_uri": "x"},
        app.basic,
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_the_same_answer_as_oauthlibs_endpoint(app, org, case):
    params, authorization = CASES[case](app, org)
    assert_same(*both(urlencode(params).encode(), authorization))


def test_a_disabled_app_gets_the_same_answer(app, org):
    app.app.is_disabled = True
    app.app.save()
    assert_same(*both(b"grant_type=client_credentials", app.basic))


def test_query_parameters_are_left_to_oauthlib(app):
    lean, stock = both(
        b"grant_type=client_credentials", app.basic, path="/oauth/token?state=q"
    )
    assert_same(lean, stock)
    assert json.loads(lean[1])["state"] == "q"


NAMES = st.sampled_from(
    [
        "grant_type",
        "scope",
        "orgId",
        "client_id",
        "client_secret",
        "state",
        "code",
        "refresh_token",
        "x",
    ]
)
VALUES = st.one_of(
    st.sampled_from(["client_credentials", "org:member", "svc:compute:viewer", ""]),
    st.text(max_size=40),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    params=st.dictionaries(NAMES, VALUES, max_size=6),
    authenticate=st.sampled_from(["app", "wrong", "none"]),
)
def test_any_form_gets_the_same_answer(app, params, authenticate):
    authorization = {
        "app": app.basic,
        "wrong": basic(app.client_id, "wrong"),
        "none": None,
    }[authenticate]
    body = urlencode({key: value.replace("\x00", "") for key, value in params.items()})
    assert_same(*both(body.encode(), authorization))
