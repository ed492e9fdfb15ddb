"""POST /oauth/token: RFC 6749 §4.4 (client credentials), §5.1 (response) and §5.2 (errors)."""

import base64
import json
from datetime import timedelta
from uuid import UUID, uuid4

import jwt
import pytest
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from oauthapps.tokens import keys
from oauthapps.tokens.models import IssuedToken
from tests.factories import OrganizationFactory
from tests.tokens.fixtures import get_token, post_form

GRANT = {"grant_type": "client_credentials"}


@pytest.fixture
def app(org, make_app, contains):
    contains(org, "compute")
    return make_app(
        org, scopes=["org:member", "svc:compute:viewer"], ttl=30, add_to=[org]
    )


def claims_of(access_token: str) -> dict:
    public_key = keys.verification_key(
        jwt.get_unverified_header(access_token)["kid"]
    ).public_key
    return jwt.decode(
        access_token,
        public_key,
        algorithms=["RS256"],
        audience="http://127.0.0.1:8000/api/v1",
        issuer="http://127.0.0.1:8000",
    )


def error_of(response) -> dict:
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    body = json.loads(response.content)
    return body


# --- Success (§5.1) ---------------------------------------------------------------------------


def test_basic_authentication_gets_a_bearer_jwt(api_client, app, org):
    response = post_form(api_client, "/oauth/token", GRANT, Authorization=app.basic)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    assert response["Pragma"] == "no-cache"
    body = json.loads(response.content)
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 1800
    assert body["scope"] == "org:member svc:compute:viewer"


def test_the_token_is_an_rfc9068_jwt_with_every_claim(api_client, app, org):
    body = get_token(api_client, app)
    header = jwt.get_unverified_header(body["access_token"])
    claims = claims_of(body["access_token"])

    assert header["typ"] == "at+jwt"
    assert header["alg"] == "RS256"
    assert header["kid"] == keys.signing_key().kid
    assert claims["iss"] == "http://127.0.0.1:8000"
    assert claims["aud"] == "http://127.0.0.1:8000/api/v1"
    assert claims["sub"] == claims["client_id"] == app.client_id
    assert claims["scope"] == body["scope"]
    assert claims["org_id"] == str(org.pk)
    assert claims["exp"] - claims["iat"] == body["expires_in"]
    assert UUID(claims["jti"])


def test_post_authentication_works_too(api_client, app):
    response = post_form(
        api_client,
        "/oauth/token",
        {**GRANT, "client_id": app.client_id, "client_secret": app.client_secret},
    )
    assert response.status_code == 200


def test_each_token_is_recorded_without_the_jwt(api_client, app, org):
    body = get_token(api_client, app)
    claims = claims_of(body["access_token"])

    row = IssuedToken.objects.get()
    assert row.jti == UUID(claims["jti"])
    assert row.app_id == app.app.pk
    assert row.organization_id == org.pk
    assert row.scope == body["scope"]
    assert int(row.expires_at.timestamp()) == claims["exp"]
    assert row.revoked_at is None
    assert body["access_token"] not in str(IssuedToken.objects.values().get())


@pytest.mark.parametrize(("ttl", "expires_in"), [(1, 60), (300, 18000)])
def test_lifetime_is_the_apps_ttl(api_client, org, make_app, ttl, expires_in):
    creds = make_app(org, scopes=["org:member"], ttl=ttl, add_to=[org])
    body = get_token(api_client, creds)
    claims = claims_of(body["access_token"])

    assert body["expires_in"] == expires_in
    assert claims["exp"] == claims["iat"] + expires_in
    assert abs(claims["iat"] - timezone.now().timestamp()) < 5


def test_the_clone_alias_issues_the_same_tokens(api_client, app, org):
    response = post_form(
        api_client,
        "/csp/gateway/am/api/auth/authorize",
        {**GRANT, "orgId": str(org.pk)},
        Authorization=app.basic,
    )
    assert response.status_code == 200
    assert claims_of(json.loads(response.content)["access_token"])["org_id"] == str(
        org.pk
    )


def test_a_client_read_from_the_database_needs_four_sql_statements(
    api_client, app, django_assert_num_queries
):
    # Inside the test's transaction nothing is remembered: every request is a cold one (a warm
    # one is a single statement: tests/tokens/test_one_pipeline.py).
    get_token(
        api_client, app
    )  # the first request loads (here: creates) the signing key
    with django_assert_num_queries(4) as captured:
        get_token(api_client, app)
    *reads, insert = (query["sql"] for query in captured.captured_queries)
    assert all("SELECT" in read and "INSERT" not in read for read in reads)
    assert "INSERT INTO" in insert


# --- Scopes (DESIGN.md §3) ----------------------------------------------------------------------


def test_scopes_of_services_the_org_lacks_are_left_out(
    api_client, org, make_app, contains
):
    contains(org, "compute")
    creds = make_app(
        org,
        scopes=["org:admin", "svc:compute:admin", "svc:billing:viewer"],
        add_to=[org],
    )
    assert get_token(api_client, creds)["scope"] == "org:admin svc:compute:admin"


def test_a_requested_subset_is_what_the_token_gets(api_client, app):
    body = get_token(api_client, app, scope="svc:compute:viewer")
    assert body["scope"] == "svc:compute:viewer"
    assert claims_of(body["access_token"])["scope"] == "svc:compute:viewer"


def test_requesting_a_scope_the_app_lacks_is_invalid_scope(api_client, app):
    response = post_form(
        api_client,
        "/oauth/token",
        {**GRANT, "scope": "org:member org:owner"},
        Authorization=app.basic,
    )
    assert response.status_code == 400
    body = error_of(response)
    assert body["error"] == "invalid_scope"
    assert "org:owner" in body["error_description"]


def test_a_malformed_scope_is_invalid_scope_and_not_echoed(api_client, app):
    response = post_form(
        api_client,
        "/oauth/token",
        {**GRANT, "scope": 'org:member "<x>"'},
        Authorization=app.basic,
    )
    assert response.status_code == 400
    body = error_of(response)
    assert body["error"] == "invalid_scope"
    assert "<x>" not in body["error_description"]


def test_nothing_left_after_the_org_filter_is_invalid_scope(api_client, org, make_app):
    creds = make_app(org, scopes=["svc:billing:viewer"], add_to=[org])
    response = post_form(api_client, "/oauth/token", GRANT, Authorization=creds.basic)
    assert response.status_code == 400
    assert error_of(response)["error"] == "invalid_scope"


def test_the_grant_snapshot_decides_not_the_apps_current_scopes(
    api_client, org, make_app
):
    creds = make_app(org, scopes=["org:member"], add_to=[org])
    creds.app.scopes = ["org:member", "org:owner"]
    creds.app.save()
    response = post_form(
        api_client,
        "/oauth/token",
        {**GRANT, "scope": "org:owner"},
        Authorization=creds.basic,
    )
    assert error_of(response)["error"] == "invalid_scope"


def test_a_changed_grant_counts_on_the_next_request(api_client, app, org):
    get_token(api_client, app)
    app.app.grants.filter(organization=org).update(scopes=["svc:compute:viewer"])
    assert get_token(api_client, app)["scope"] == "svc:compute:viewer"


# --- Organization context (DESIGN.md §6) --------------------------------------------------------


def test_without_org_id_the_owning_org_wins(api_client, org, make_app):
    other = OrganizationFactory()
    creds = make_app(org, scopes=["org:member"], add_to=[other, org])
    assert claims_of(get_token(api_client, creds)["access_token"])["org_id"] == str(
        org.pk
    )


def test_the_owning_org_wins_among_many_whenever_it_was_added(
    api_client, org, make_app
):
    others = [OrganizationFactory() for _ in range(3)]
    creds = make_app(org, scopes=["org:member"], add_to=[*others, org])
    assert claims_of(get_token(api_client, creds)["access_token"])["org_id"] == str(
        org.pk
    )
    body = get_token(api_client, creds, orgId=str(others[2].pk))
    assert claims_of(body["access_token"])["org_id"] == str(others[2].pk)


def test_without_org_id_the_only_org_it_was_added_to(api_client, org, make_app):
    other = OrganizationFactory()
    creds = make_app(org, scopes=["org:member"], add_to=[other])
    assert claims_of(get_token(api_client, creds)["access_token"])["org_id"] == str(
        other.pk
    )


def test_org_id_picks_the_org(api_client, org, make_app):
    other = OrganizationFactory()
    creds = make_app(org, scopes=["org:member"], add_to=[org, other])
    body = get_token(api_client, creds, orgId=str(other.pk))
    assert claims_of(body["access_token"])["org_id"] == str(other.pk)


def test_scopes_follow_the_chosen_orgs_services(api_client, org, make_app, contains):
    other = OrganizationFactory()
    contains(other, "compute")
    creds = make_app(
        org, scopes=["org:member", "svc:compute:viewer"], add_to=[org, other]
    )
    assert get_token(api_client, creds)["scope"] == "org:member"
    assert (
        get_token(api_client, creds, orgId=str(other.pk))["scope"]
        == "org:member svc:compute:viewer"
    )


def test_several_orgs_without_the_owning_one_need_org_id(api_client, org, make_app):
    creds = make_app(
        org,
        scopes=["org:member"],
        add_to=[OrganizationFactory(), OrganizationFactory()],
    )
    response = post_form(api_client, "/oauth/token", GRANT, Authorization=creds.basic)
    assert response.status_code == 400
    body = error_of(response)
    assert body["error"] == "invalid_request"
    assert "orgId" in body["error_description"]


def test_an_app_added_nowhere_is_invalid_grant(api_client, org, make_app):
    creds = make_app(org, scopes=["org:member"])
    response = post_form(api_client, "/oauth/token", GRANT, Authorization=creds.basic)
    assert response.status_code == 400
    assert error_of(response)["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "org_id", [lambda: str(uuid4()), lambda: str(OrganizationFactory().pk)]
)
def test_an_org_it_was_not_added_to_is_invalid_grant(api_client, app, org_id):
    response = post_form(
        api_client,
        "/oauth/token",
        {**GRANT, "orgId": org_id()},
        Authorization=app.basic,
    )
    assert response.status_code == 400
    assert error_of(response)["error"] == "invalid_grant"


def test_a_malformed_org_id_is_invalid_request(api_client, app):
    response = post_form(
        api_client, "/oauth/token", {**GRANT, "orgId": "acme"}, Authorization=app.basic
    )
    assert response.status_code == 400
    assert error_of(response) == {
        "error": "invalid_request",
        "error_description": "orgId must be an organization ID (a UUID).",
    }


def test_an_empty_org_id_counts_as_absent(api_client, app, org):
    body = get_token(api_client, app, orgId="")
    assert claims_of(body["access_token"])["org_id"] == str(org.pk)


# --- Client authentication failures (§5.2 invalid_client) ---------------------------------------


def assert_invalid_client(response, *, issued_before: int = 0) -> None:
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic realm=")
    assert error_of(response)["error"] == "invalid_client"
    assert IssuedToken.objects.count() == issued_before


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def test_wrong_secret(api_client, app):
    assert_invalid_client(
        post_form(
            api_client,
            "/oauth/token",
            GRANT,
            Authorization=basic(app.client_id, "nope"),
        )
    )


def test_unknown_client(api_client, app):
    assert_invalid_client(
        post_form(
            api_client,
            "/oauth/token",
            GRANT,
            Authorization=basic("unknown", app.client_secret),
        )
    )


def test_secret_of_another_app(api_client, org, app, make_app):
    other = make_app(org, scopes=["org:member"], add_to=[org])
    assert_invalid_client(
        post_form(
            api_client,
            "/oauth/token",
            GRANT,
            Authorization=basic(app.client_id, other.client_secret),
        )
    )


def test_secret_with_different_case(api_client, app):
    assert_invalid_client(
        post_form(
            api_client,
            "/oauth/token",
            GRANT,
            Authorization=basic(app.client_id, app.client_secret.swapcase()),
        )
    )


def test_wrong_secret_in_the_body_is_401_too(api_client, app):
    response = post_form(
        api_client,
        "/oauth/token",
        {**GRANT, "client_id": app.client_id, "client_secret": "x"},
    )
    assert_invalid_client(response)


def test_no_client_authentication(api_client, app):
    assert_invalid_client(post_form(api_client, "/oauth/token", GRANT))


def test_client_id_without_secret(api_client, app):
    assert_invalid_client(
        post_form(api_client, "/oauth/token", {**GRANT, "client_id": app.client_id})
    )


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic !!!notbase64",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Bearer abc",
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
    ],
)
def test_malformed_authorization_header(api_client, app, authorization):
    assert_invalid_client(
        post_form(api_client, "/oauth/token", GRANT, Authorization=authorization)
    )


def test_disabled_app(api_client, app):
    app.app.is_disabled = True
    app.app.save()
    assert_invalid_client(
        post_form(api_client, "/oauth/token", GRANT, Authorization=app.basic)
    )


def test_previous_secret_works_during_the_overlap_only(api_client, app):
    old_secret = "previous-secret-0123456789"
    app.app.previous_client_secret = make_password(
        old_secret, hasher="console_secret_sha256"
    )
    app.app.previous_secret_expires_at = timezone.now() + timedelta(hours=1)
    app.app.save()
    auth = basic(app.client_id, old_secret)
    assert (
        post_form(api_client, "/oauth/token", GRANT, Authorization=auth).status_code
        == 200
    )

    app.app.previous_secret_expires_at = timezone.now() - timedelta(seconds=1)
    app.app.save()
    assert_invalid_client(
        post_form(api_client, "/oauth/token", GRANT, Authorization=auth),
        issued_before=1,
    )


def test_very_long_client_id_and_secret(api_client, app):
    assert_invalid_client(
        post_form(
            api_client,
            "/oauth/token",
            GRANT,
            Authorization=basic("a" * 5000, "b" * 5000),
        )
    )
    assert_invalid_client(
        post_form(
            api_client,
            "/oauth/token",
            {**GRANT, "client_id": "\x00" + "x" * 300, "client_secret": "y"},
        )
    )


# --- Malformed requests (§5.2 invalid_request, unsupported_grant_type) --------------------------


def test_missing_grant_type(api_client, app):
    response = post_form(api_client, "/oauth/token", {}, Authorization=app.basic)
    assert response.status_code == 400
    assert error_of(response)["error"] == "invalid_request"


@pytest.mark.parametrize(
    "grant_type", ["password", "authorization_code", "refresh_token", "x"]
)
def test_other_grant_types_are_unsupported(api_client, app, grant_type):
    response = post_form(
        api_client, "/oauth/token", {"grant_type": grant_type}, Authorization=app.basic
    )
    assert response.status_code == 400
    assert error_of(response)["error"] == "unsupported_grant_type"


@pytest.mark.parametrize("name", ["grant_type", "scope", "orgId", "client_id"])
def test_repeated_parameters_are_invalid_request(api_client, app, org, name):
    values = {
        "grant_type": "client_credentials",
        "scope": "org:member",
        "orgId": str(org.pk),
        "client_id": app.client_id,
    }
    pairs = [*values.items(), (name, values[name])]
    response = post_form(api_client, "/oauth/token", pairs, Authorization=app.basic)
    assert response.status_code == 400
    assert error_of(response)["error"] == "invalid_request"
    assert not IssuedToken.objects.exists()


def test_basic_and_body_secret_together_is_invalid_request(api_client, app):
    response = post_form(
        api_client,
        "/oauth/token",
        {**GRANT, "client_id": app.client_id, "client_secret": app.client_secret},
        Authorization=app.basic,
    )
    assert response.status_code == 400
    assert error_of(response)["error"] == "invalid_request"


def test_query_parameters_are_invalid_request(api_client, app):
    response = post_form(
        api_client, "/oauth/token?scope=org:member", GRANT, Authorization=app.basic
    )
    assert response.status_code == 400
    assert error_of(response)["error"] == "invalid_request"


@pytest.mark.parametrize(
    "body",
    [
        b"grant_type=client_credentials&scope=\xff\xfe",
        b"grant_type=client_credentials&scope=%FF%FE",
    ],
)
def test_a_non_utf8_body_is_a_clean_400(api_client, app, body):
    response = post_form(api_client, "/oauth/token", body, Authorization=app.basic)
    assert response.status_code == 400
    assert error_of(response) == {
        "error": "invalid_request",
        "error_description": "The request body is not valid UTF-8.",
    }


def test_a_huge_body_is_a_clean_400(api_client, app):
    response = post_form(
        api_client,
        "/oauth/token",
        {**GRANT, "scope": "org:member " * 100_000},
        Authorization=app.basic,
    )
    assert response.status_code == 400
    assert error_of(response)["error_description"] == "The request body is too large."


def test_many_parameters_are_a_clean_400(api_client, app):
    pairs = [(f"p{i}", "x") for i in range(200)]
    response = post_form(
        api_client, "/oauth/token", [*GRANT.items(), *pairs], Authorization=app.basic
    )
    assert response.status_code == 400
    assert error_of(response)["error"] == "invalid_request"


def test_a_long_scope_list_is_handled(api_client, app):
    response = post_form(
        api_client,
        "/oauth/token",
        {**GRANT, "scope": " ".join(f"svc:s{i}:viewer" for i in range(500))},
        Authorization=app.basic,
    )
    assert response.status_code == 400
    body = error_of(response)
    assert body["error"] == "invalid_scope"
    assert len(body["error_description"]) < 400


def test_json_bodies_are_refused(api_client, app):
    response = api_client.post(
        "/oauth/token",
        GRANT,
        content_type="application/json",
        headers={"Authorization": app.basic},
    )
    assert response.status_code == 400
    assert error_of(response)["error"] == "invalid_request"


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_only_post(api_client, app, method):
    response = getattr(api_client, method)(
        "/oauth/token", headers={"Authorization": app.basic}
    )
    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_no_session_or_csrf_token_is_needed(app):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    assert (
        post_form(client, "/oauth/token", GRANT, Authorization=app.basic).status_code
        == 200
    )
