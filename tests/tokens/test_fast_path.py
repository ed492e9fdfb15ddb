"""The token endpoint's fast path (oauthapps/tokens/fast.py) answers exactly as the general path.

These tests run outside a test transaction, as the server does, so the per-process memory the fast
path decides from is live. Every request is sent twice through the whole stack: by a worker that
remembers the app (the fast path answers whatever it can vouch for) and by one that has just
forgotten everything (the general path, oauthlib, answers). The two responses must be the same:
status, headers and body, except the token itself on success.
"""

import json
from urllib.parse import urlencode

import jwt
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from oauthapps.models import IssuedToken
from oauthapps.tokens import keys, state
from oauthapps.tokens.fast import PARAMETERS
from tests.tokens.fixtures import get_token
from tests.tokens.test_lean_token_path import CASES, basic

pytestmark = pytest.mark.django_db(transaction=True)

FAST = 1  # statements: the conditional INSERT only
VOLATILE_HEADERS = {"Content-Security-Policy"}  # carries a per-response nonce


@pytest.fixture
def app(org, make_app, contains):
    contains(org, "compute")
    return make_app(
        org, scopes=["org:member", "svc:compute:viewer"], ttl=30, add_to=[org]
    )


def post(client, data: dict, authorization: str | None, *, remembered: bool):
    if not remembered:
        state.clear()
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    with CaptureQueriesContext(connection) as captured:
        response = client.post(
            "/oauth/token",
            urlencode(data),
            content_type="application/x-www-form-urlencoded",
            **headers,
        )
    return response, len(captured.captured_queries)


def remember(client, app, org, data: dict) -> None:
    """Make this worker remember the app as the request will look it up (with or without orgId)."""
    remembered = {"grant_type": "client_credentials"}
    if "orgId" in data:
        remembered["orgId"] = data["orgId"]
    post(client, remembered, app.basic, remembered=False)
    assert len(state.apps) == 1


def headers_of(response) -> list[tuple[str, str]]:
    return [
        (name, value)
        for name, value in response.headers.items()
        if name not in VOLATILE_HEADERS
    ]


@pytest.mark.parametrize("case", list(CASES))
def test_the_fast_path_answers_as_the_general_path(api_client, app, org, case):
    data, authorization = CASES[case](app, org)
    remember(api_client, app, org, data)
    fast, fast_statements = post(api_client, data, authorization, remembered=True)
    general, _ = post(api_client, data, authorization, remembered=False)

    assert fast.status_code == general.status_code
    assert headers_of(fast) == headers_of(general)
    if general.status_code != 200:
        assert fast.content == general.content
        return
    fast_body, general_body = json.loads(fast.content), json.loads(general.content)
    assert list(fast_body) == list(general_body)
    fast_token, general_token = (
        fast_body.pop("access_token"),
        general_body.pop("access_token"),
    )
    assert fast_body == general_body
    fast_claims, general_claims = claims_of(fast_token), claims_of(general_token)
    for volatile in ("jti", "iat", "exp"):
        fast_claims.pop(volatile), general_claims.pop(volatile)
    assert fast_claims == general_claims
    if set(data) <= PARAMETERS:
        assert fast_statements == FAST


@pytest.mark.parametrize(
    "data",
    [
        {"grant_type": "client_credentials"},
        {"grant_type": "client_credentials", "scope": "svc:compute:viewer"},
        {"grant_type": "client_credentials", "scope": ""},
    ],
    ids=["default scope", "narrower scope", "empty scope"],
)
def test_a_remembered_client_gets_its_token_in_one_statement(
    api_client, app, org, data
):
    remember(api_client, app, org, data)
    before = IssuedToken.objects.count()
    response, statements = post(api_client, data, app.basic, remembered=True)
    assert response.status_code == 200
    assert statements == FAST
    body = json.loads(response.content)
    row = IssuedToken.objects.get(jti=claims_of(body["access_token"])["jti"])
    assert IssuedToken.objects.count() == before + 1
    assert row.scope == body["scope"]
    assert row.organization_id == org.pk
    assert int(row.expires_at.timestamp()) == claims_of(body["access_token"])["exp"]


def test_client_secret_post_takes_the_fast_path_too(api_client, app, org):
    remember(api_client, app, org, {})
    data = {
        "grant_type": "client_credentials",
        "client_id": app.client_id,
        "client_secret": app.client_secret,
    }
    response, statements = post(api_client, data, None, remembered=True)
    assert response.status_code == 200
    assert statements == FAST


@pytest.mark.parametrize(
    "data",
    [
        {"grant_type": "client_credentials", "audience": "x"},
        {"grant_type": "client_credentials", "state": "xyz"},
    ],
    ids=["unknown parameter", "state"],
)
def test_unusual_requests_take_the_general_path(api_client, app, org, data):
    remember(api_client, app, org, {})
    response, statements = post(api_client, data, app.basic, remembered=True)
    assert response.status_code == 200
    assert statements == 2  # the general path: read the app, then INSERT


def test_a_wrong_secret_is_decided_by_the_database_not_the_memory(api_client, app, org):
    remember(api_client, app, org, {})
    response, statements = post(
        api_client,
        {"grant_type": "client_credentials"},
        basic(app.client_id, "not-the-secret"),
        remembered=True,
    )
    assert response.status_code == 401
    assert json.loads(response.content)["error"] == "invalid_client"
    assert statements == 1  # the general path's read, not an INSERT
    assert IssuedToken.objects.count() == 1  # only the remembering request's token


def test_a_second_worker_sees_a_new_secret_at_once(api_client, app, org, owner):
    """A stale memory cannot refuse a valid secret: the general path decides refusals."""
    from oauthapps.services import oauth_app_regenerate_secret

    remember(api_client, app, org, {})
    app.app.refresh_from_db()
    _, new_secret = oauth_app_regenerate_secret(app=app.app, regenerated_by=owner)
    app.client_secret = new_secret
    response, _ = post(
        api_client, {"grant_type": "client_credentials"}, app.basic, remembered=True
    )
    assert response.status_code == 200


def test_tokens_from_the_fast_path_verify_with_the_published_key(api_client, app, org):
    get_token(api_client, app)
    token = get_token(api_client, app)["access_token"]
    header = jwt.get_unverified_header(token)
    key = keys.verification_key(header["kid"])
    claims = jwt.decode(
        token,
        key.public_key,
        algorithms=["RS256"],
        audience=claims_of(token)["aud"],
        issuer=claims_of(token)["iss"],
    )
    assert claims["org_id"] == str(org.pk)
    assert header["typ"] == "at+jwt"


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_the_fast_path_records_which_secret_a_token_was_obtained_with(
    api_client, app, org, owner
):
    """During a rotation's overlap both secrets take the fast path, and each token row records
    the generation of its secret, so that a later regeneration revokes exactly those."""
    from oauthapps.services import oauth_app_rotate_secret

    app.app.refresh_from_db()
    previous = app.basic
    _, app.client_secret = oauth_app_rotate_secret(app=app.app, rotated_by=owner)
    generations = {}
    for authorization, generation in ((previous, 1), (app.basic, 2)):
        remember_request = {"grant_type": "client_credentials"}
        post(api_client, remember_request, authorization, remembered=False)
        response, statements = post(
            api_client, remember_request, authorization, remembered=True
        )
        assert response.status_code == 200 and statements == FAST
        jti = claims_of(json.loads(response.content)["access_token"])["jti"]
        generations[jti] = generation
    rows = dict(
        IssuedToken.objects.filter(jti__in=generations).values_list(
            "jti", "secret_generation"
        )
    )
    assert {str(jti): generation for jti, generation in rows.items()} == generations
