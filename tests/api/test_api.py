"""The resource API: bearer tokens, scopes deciding access, 401/403/404 semantics, the OpenAPI
document."""

import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from django.urls import URLPattern, get_resolver, reverse

from oauthapps.api import urls as api_urls
from oauthapps.models import AppGrant
from oauthapps.tokens import access_tokens, keys
from oauthapps.tokens.models import IssuedToken
from orgs.models import AuditEvent, Membership, ServiceRole
from tests.factories import OrganizationFactory
from tests.tokens.fixtures import get_token


@pytest.fixture
def org_with_services(org, contains, member):
    contains(org, "compute", "billing")
    return org


@pytest.fixture
def token_with(api_client, org_with_services, make_app):
    """token_with("org:member", ...): a token for `org` carrying exactly those scopes."""

    def issue(*scopes: str, org=None) -> str:
        target = org or org_with_services
        creds = make_app(target, scopes=list(scopes), add_to=[target])
        return get_token(api_client, creds)["access_token"]

    return issue


def get(client, path: str, token: str | None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get(path, headers=headers)


def body(response) -> dict:
    return json.loads(response.content)


# --- GET /api/v1/orgs/{org_id} --------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["org:owner", "org:admin", "org:member"])
def test_any_org_role_reads_the_org(api_client, org, token_with, scope):
    response = get(api_client, f"/api/v1/orgs/{org.pk}", token_with(scope))
    assert response.status_code == 200
    assert body(response) == {
        "id": str(org.pk),
        "name": "Acme Corp",
        "created_at": org.created_at.isoformat(),
    }
    assert response["Cache-Control"] == "no-store"


def test_a_service_role_alone_cannot_read_the_org(api_client, org, token_with):
    response = get(
        api_client, f"/api/v1/orgs/{org.pk}", token_with("svc:compute:viewer")
    )
    assert response.status_code == 403
    assert body(response)["error"] == "insufficient_scope"
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="org:owner org:admin org:member"' in challenge


def test_reading_the_org_costs_one_query(
    api_client, org, token_with, django_assert_num_queries
):
    token = token_with("org:member")
    get(
        api_client, f"/api/v1/orgs/{org.pk}", token
    )  # the first call loads the public key
    with django_assert_num_queries(1):
        assert get(api_client, f"/api/v1/orgs/{org.pk}", token).status_code == 200


def test_another_org_is_404_whatever_the_scope(api_client, token_with, outsider):
    other_org = outsider.memberships.get().organization
    response = get(api_client, f"/api/v1/orgs/{other_org.pk}", token_with("org:owner"))
    assert response.status_code == 404
    assert body(response)["error"] == "not_found"


def test_a_token_for_another_org_works_there_only(api_client, org, token_with):
    elsewhere = OrganizationFactory()
    token = token_with("org:member", org=elsewhere)
    assert get(api_client, f"/api/v1/orgs/{elsewhere.pk}", token).status_code == 200
    assert get(api_client, f"/api/v1/orgs/{org.pk}", token).status_code == 404


# --- 401: no, bad, expired, revoked tokens --------------------------------------------------------


def assert_invalid_token(response, description: str) -> None:
    assert response.status_code == 401
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="invalid_token"' in challenge
    assert body(response) == {
        "error": "invalid_token",
        "error_description": description,
    }


def test_no_token_is_401_without_an_error_code(api_client, org):
    response = get(api_client, f"/api/v1/orgs/{org.pk}", None)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="Cloud Services Console API"'


def test_basic_credentials_are_not_a_token(api_client, org):
    response = api_client.get(
        f"/api/v1/orgs/{org.pk}", headers={"Authorization": "Basic eDp5"}
    )
    assert response.status_code == 401
    assert "error=" not in response["WWW-Authenticate"]


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "x" * 10_000, "e30.e30.sig"])
def test_malformed_tokens(api_client, org, token):
    response = get(api_client, f"/api/v1/orgs/{org.pk}", token)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_an_expired_token(api_client, org, token_with, monkeypatch):
    class Past(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.now(tz or UTC) - timedelta(hours=1)

    monkeypatch.setattr(access_tokens, "datetime", Past)
    token = token_with("org:member")
    assert_invalid_token(
        get(api_client, f"/api/v1/orgs/{org.pk}", token),
        "The access token has expired.",
    )


def test_a_revoked_token(api_client, org, token_with):
    token = token_with("org:member")
    assert get(api_client, f"/api/v1/orgs/{org.pk}", token).status_code == 200
    IssuedToken.objects.update(revoked_at=datetime.now(UTC))
    assert_invalid_token(
        get(api_client, f"/api/v1/orgs/{org.pk}", token),
        "The access token has been revoked.",
    )


def test_a_token_after_the_app_left_the_org(api_client, org, token_with):
    token = token_with("org:member")
    AppGrant.objects.all().delete()
    assert_invalid_token(
        get(api_client, f"/api/v1/orgs/{org.pk}", token),
        "The access token has been revoked.",
    )


def test_a_token_signed_by_another_key_with_our_kid(api_client, org, token_with):
    genuine = token_with("org:member")
    header = jwt.get_unverified_header(genuine)
    claims = jwt.decode(genuine, options={"verify_signature": False})
    forger = keys.load_pem("x", keys.generate_private_key_pem()).private_key
    forged = jwt.encode(claims, forger, algorithm="RS256", headers=header)
    assert_invalid_token(
        get(api_client, f"/api/v1/orgs/{org.pk}", forged),
        "The access token is invalid.",
    )


def test_an_unsigned_token(api_client, org, token_with):
    claims = jwt.decode(token_with("org:owner"), options={"verify_signature": False})
    unsigned = jwt.encode(claims, key=None, algorithm="none", headers={"typ": "at+jwt"})
    response = get(api_client, f"/api/v1/orgs/{org.pk}", unsigned)
    assert response.status_code == 401


def test_a_token_with_widened_claims_is_rejected(api_client, org, token_with):
    """Changing the payload (a scope the app never had) breaks the signature."""
    genuine = token_with("org:member")
    header_b64, _, signature = genuine.split(".")
    claims = jwt.decode(genuine, options={"verify_signature": False})
    claims["scope"] = "org:owner"
    payload_b64 = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    response = get(
        api_client, f"/api/v1/orgs/{org.pk}", f"{header_b64}.{payload_b64}.{signature}"
    )
    assert response.status_code == 401


def test_a_token_for_another_issuer(api_client, org, token_with, settings):
    token = token_with("org:member")
    settings.CONSOLE_ISSUER = "https://other.example.com"
    assert get(api_client, f"/api/v1/orgs/{org.pk}", token).status_code == 401


# --- Members and services --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "status"), [("org:owner", 200), ("org:admin", 200), ("org:member", 403)]
)
def test_members_need_admin_or_owner(api_client, org, owner, token_with, scope, status):
    response = get(api_client, f"/api/v1/orgs/{org.pk}/members", token_with(scope))
    assert response.status_code == status
    if status == 200:
        emails = [m["email"] for m in body(response)["members"]]
        assert emails == ["owner@example.com", "member@example.com"]
        assert body(response)["members"][0]["role"] == "owner"


@pytest.mark.parametrize("scope", ["org:member", "svc:billing:viewer"])
def test_services_need_any_role(api_client, org, token_with, scope):
    response = get(api_client, f"/api/v1/orgs/{org.pk}/services", token_with(scope))
    assert response.status_code == 200
    assert [service["slug"] for service in body(response)["services"]] == [
        "billing",
        "compute",
    ]
    assert body(response)["services"][1]["roles"] == ["viewer", "operator", "admin"]


@pytest.mark.parametrize(
    ("scopes", "status"),
    [
        (["svc:compute:viewer"], 200),
        (["svc:compute:admin"], 200),
        (["svc:billing:viewer"], 403),
        (["org:owner"], 403),
    ],
)
def test_reading_a_service_needs_one_of_its_roles(
    api_client, org, token_with, scopes, status
):
    response = get(
        api_client, f"/api/v1/orgs/{org.pk}/services/compute", token_with(*scopes)
    )
    assert response.status_code == status
    if status == 200:
        assert body(response)["service"]["slug"] == "compute"
        assert body(response)["granted_roles"] == sorted(
            s.split(":")[2] for s in scopes
        )


def test_a_service_the_org_does_not_contain_is_404(api_client, org, token_with):
    token = token_with("svc:compute:admin")
    org.service_links.filter(service__slug="compute").delete()
    response = get(api_client, f"/api/v1/orgs/{org.pk}/services/compute", token)
    assert response.status_code == 404


def post_activity(client, org, token, payload, content_type="application/json"):
    return client.post(
        f"/api/v1/orgs/{org.pk}/services/compute/activity",
        payload if isinstance(payload, bytes | str) else json.dumps(payload),
        content_type=content_type,
        headers={"Authorization": f"Bearer {token}"},
    )


def test_the_service_admin_role_writes_and_any_role_reads_it_back(
    api_client, org, token_with
):
    admin_token = token_with("svc:compute:admin")
    response = post_activity(api_client, org, admin_token, {"message": "Resized vm-7"})

    assert response.status_code == 201
    event = AuditEvent.objects.get(action="service.api_activity")
    assert event.organization_id == org.pk
    assert event.data["message"] == "Resized vm-7"
    assert event.actor_label.startswith("OAuth app ")

    viewer_token = token_with("svc:compute:viewer")
    detail = body(
        get(api_client, f"/api/v1/orgs/{org.pk}/services/compute", viewer_token)
    )
    assert [entry["message"] for entry in detail["activity"]] == ["Resized vm-7"]


@pytest.mark.parametrize(
    "scopes", [["svc:compute:viewer"], ["org:owner"], ["svc:billing:admin"]]
)
def test_writing_needs_the_services_admin_role(api_client, org, token_with, scopes):
    response = post_activity(api_client, org, token_with(*scopes), {"message": "x"})
    assert response.status_code == 403
    assert 'scope="svc:compute:admin"' in response["WWW-Authenticate"]
    assert not AuditEvent.objects.filter(action="service.api_activity").exists()


@pytest.mark.parametrize(
    ("payload", "content_type"),
    [
        ({"message": ""}, "application/json"),
        ({"message": "x" * 501}, "application/json"),
        ({"text": "x"}, "application/json"),
        (["x"], "application/json"),
        (b"\xff\xfe", "application/json"),
        ("{not json", "application/json"),
        ("message=x", "application/x-www-form-urlencoded"),
    ],
)
def test_bad_bodies_are_400_and_change_nothing(
    api_client, org, token_with, payload, content_type
):
    response = post_activity(
        api_client, org, token_with("svc:compute:admin"), payload, content_type
    )
    assert response.status_code == 400
    assert body(response)["error"] == "invalid_request"
    assert not AuditEvent.objects.filter(action="service.api_activity").exists()


def test_the_api_needs_no_csrf_token(org, token_with):
    from django.test import Client

    response = post_activity(
        Client(enforce_csrf_checks=True),
        org,
        token_with("svc:compute:admin"),
        {"message": "ok"},
    )
    assert response.status_code == 201


def test_wrong_method_is_405(api_client, org, token_with):
    token = token_with("org:owner")
    response = api_client.post(
        f"/api/v1/orgs/{org.pk}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 405


def test_a_signed_in_person_without_a_token_gets_401_not_a_login_page(
    client_as, org, owner
):
    response = client_as(owner).get(f"/api/v1/orgs/{org.pk}")
    assert response.status_code == 401


def test_a_member_removed_from_the_org_does_not_matter_to_the_app(
    api_client, org, member, token_with
):
    token = token_with("org:member")
    Membership.objects.filter(user=member).delete()
    assert get(api_client, f"/api/v1/orgs/{org.pk}", token).status_code == 200


# --- OpenAPI --------------------------------------------------------------------------------------


def test_the_openapi_document_describes_every_endpoint(api_client, catalog):
    response = api_client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = body(response)
    assert document["openapi"].startswith("3.1")
    assert document["servers"] == [{"url": "http://127.0.0.1:8000/api/v1"}]

    flows = document["components"]["securitySchemes"]["consoleOAuth"]["flows"]
    assert flows["clientCredentials"]["tokenUrl"] == "http://127.0.0.1:8000/oauth/token"
    admin_role = ServiceRole.objects.get(service__slug="compute", slug="admin")
    assert (
        flows["clientCredentials"]["scopes"]["svc:compute:admin"]
        == f"Compute: {admin_role.name}"
    )
    assert flows["clientCredentials"]["scopes"]["org:owner"] == "Organization Owner"

    documented = set(document["paths"])
    routed = {
        "/"
        + str(pattern.pattern)
        .replace("<uuid:org_id>", "{org_id}")
        .replace("<slug:service_slug>", "{service_slug}")
        for pattern in api_urls.urlpatterns
        if isinstance(pattern, URLPattern) and pattern.name != "openapi"
    }
    assert documented == routed
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert {"401", "403", "404"} <= set(operation["responses"]), (path, method)
            assert operation["security"], (path, method)
            for reference in operation["parameters"]:
                name = reference["$ref"].rsplit("/", 1)[1]
                assert "{" + name + "}" in path


def test_openapi_matches_the_url_names(db):
    assert reverse("api:openapi") == "/api/v1/openapi.json"
    assert get_resolver().resolve("/api/v1/openapi.json").url_name == "openapi"
