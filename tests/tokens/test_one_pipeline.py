"""One pipeline answers every token request: django-oauth-toolkit's backend, oauthlib's grant and
our validator, whether the client is remembered by this process (warm) or read from the database
(cold). The answers are the ones recorded before the pipeline was made one (cases.py)."""

import json
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oauthlib.oauth2 import ClientCredentialsGrant

from oauthapps.tokens import access_tokens, keys
from tests.tokens.cases import ANSWERS, CASES, basic
from tests.tokens.fixtures import post_form


@pytest.fixture
def app(org, make_app, contains):
    contains(org, "compute")
    return make_app(
        org, scopes=["org:member", "svc:compute:viewer"], ttl=30, add_to=[org]
    )


def answer(api_client, body: bytes, authorization: str | None, path="/oauth/token"):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    return api_client.post(
        path, body, content_type="application/x-www-form-urlencoded", **headers
    )


def assert_recorded(response, expected: dict, app, org) -> None:
    assert response.status_code == expected["status"]
    headers = [
        (name, response[name]) for name, _ in expected["headers"] if name in response
    ]
    assert headers == [tuple(pair) for pair in expected["headers"]]
    body = json.loads(response.content) if response.content else None
    if response.status_code == 200:
        claims = access_tokens.verify(body["access_token"])
        assert claims.client_id == app.client_id
        body["access_token"] = "<token>"
    text = (
        json.dumps(expected["body"])
        .replace("{org}", str(org.pk))
        .replace("{client_id}", app.client_id)
    )
    expected_body = json.loads(text)
    if "{other_org}" in text:
        expected_body["error_description"] = body["error_description"]
        assert "The app has not been added to organization" in body["error_description"]
    assert body == expected_body
    assert list(body) == list(expected_body)


@pytest.mark.parametrize("case", CASES)
def test_every_case_gets_its_recorded_answer(api_client, app, org, case):
    params, authorization = CASES[case](app, org)
    response = answer(api_client, urlencode(params).encode(), authorization)
    assert_recorded(response, ANSWERS[case], app, org)


def test_a_disabled_app_gets_its_recorded_answer(api_client, app, org):
    app.app.is_disabled = True
    app.app.save()
    response = answer(api_client, b"grant_type=client_credentials", app.basic)
    assert_recorded(response, ANSWERS["disabled"], app, org)


def test_query_parameters_get_their_recorded_answer(api_client, app, org):
    response = answer(
        api_client,
        b"grant_type=client_credentials",
        app.basic,
        path="/oauth/token?state=q",
    )
    assert_recorded(response, ANSWERS["query"], app, org)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("case", CASES)
def test_a_remembered_client_gets_the_same_answers(api_client, app, org, case):
    """Warm: the process remembers the client from a first request (outside any transaction, so
    the memory is used), then answers every case as it would cold."""
    post_form(
        api_client,
        "/oauth/token",
        {"grant_type": "client_credentials"},
        Authorization=app.basic,
    )
    params, authorization = CASES[case](app, org)
    response = answer(api_client, urlencode(params).encode(), authorization)
    assert_recorded(response, ANSWERS[case], app, org)


@pytest.mark.django_db(transaction=True)
def test_every_answer_comes_out_of_the_grant(api_client, app, org, monkeypatch):
    """No token response is made outside oauthlib's client-credentials grant: warm, cold, errors."""
    made = []
    original = ClientCredentialsGrant.create_token_response

    def counted(self, request, token_handler):
        answer = original(self, request, token_handler)
        made.append(answer[2])
        return answer

    monkeypatch.setattr(ClientCredentialsGrant, "create_token_response", counted)
    for authorization in [app.basic, app.basic, basic(app.client_id, "no"), app.basic]:
        before = len(made)
        response = answer(api_client, b"grant_type=client_credentials", authorization)
        assert made[before:] and made[-1] == response.status_code
    assert made.count(200) >= 3


@pytest.mark.django_db(transaction=True)
def test_a_warm_token_request_makes_one_statement(api_client, app):
    body = b"grant_type=client_credentials"
    keys.signing_key()  # the worker has its key (read once a minute)
    with CaptureQueriesContext(connection) as cold:
        assert answer(api_client, body, app.basic).status_code == 200
    with CaptureQueriesContext(connection) as warm:
        assert answer(api_client, body, app.basic).status_code == 200
    assert len(cold) == 4  # read the app, its grants, their services; record the token
    assert len(warm) == 1  # record the token, if nothing changed since


NAMES = st.sampled_from(
    ["grant_type", "scope", "orgId", "client_id", "client_secret", "state", "x"]
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
def test_any_form_gets_a_json_oauth_answer(api_client, app, params, authenticate):
    authorization = {
        "app": app.basic,
        "wrong": basic(app.client_id, "wrong"),
        "none": None,
    }[authenticate]
    body = urlencode({key: value.replace("\x00", "") for key, value in params.items()})
    response = answer(api_client, body.encode(), authorization)
    assert response.status_code in (200, 400, 401)
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    payload = json.loads(response.content)
    assert ("access_token" in payload) == (response.status_code == 200)
    if response.status_code != 200:
        assert payload["error"] in {
            "invalid_request",
            "invalid_client",
            "invalid_grant",
            "invalid_scope",
            "unsupported_grant_type",
            "unauthorized_client",
        }


@pytest.mark.django_db(transaction=True)
def test_changes_elsewhere_while_a_client_is_read_do_not_refuse_it(
    api_client, app, monkeypatch
):
    """Every read of the app is followed by an unrelated change (what a busy console does: other
    apps edited, tokens revoked): the decision read from the database is recorded as it is, so
    the client still gets its token (`make soak` revokes tokens all along)."""
    from oauthapps.tokens import selectors
    from tests.factories import OrganizationFactory

    other = OrganizationFactory()
    read = selectors.oauth_app_for_token_request

    def read_then_change(**kwargs):
        answer = read(**kwargs)
        other.name = f"{other.name}!"
        other.save()  # moves the token state version
        return answer

    monkeypatch.setattr(selectors, "oauth_app_for_token_request", read_then_change)
    for _ in range(3):
        response = answer(api_client, b"grant_type=client_credentials", app.basic)
        assert response.status_code == 200, response.content
