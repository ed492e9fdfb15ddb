"""Private key JWT apps in the console: the wizard's client authentication, the credentials
pop-up and JSON without a secret, and the app page's public keys (add, remove, fingerprints)."""

import base64
import json
import re

import pytest
from django.core.cache import cache
from django.urls import reverse

from oauthapps.models import OAuthApp
from oauthapps.services import oauth_app_add_to_org, oauth_app_create
from oauthapps.tokens.models import IssuedToken
from orgs.models import AuditEvent, Membership
from tests.factories import MembershipFactory
from tests.tokens.assertions import JWKSServer, key_pair

VALID = {
    "type-app_type": "server_to_server",
    "type-client_auth": "private_key_jwt",
    "register-name": "Billing Sync",
    "register-description": "",
    "ttl-access_token_ttl_minutes": "30",
    "scopes-scopes": ["org:member"],
}


def create(client, org, step: str = "review", **fields):
    data = {**VALID, "step": step, "nav": "next"}
    data.update({name.replace("__", "-", 1): value for name, value in fields.items()})
    return client.post(reverse("oauthapps:app_create", args=[org.pk]), data)


def errors_of(response) -> dict:
    return response.context["wizard"].form.errors


@pytest.fixture
def owner_client(client_as, owner):
    return client_as(owner)


@pytest.fixture
def key():
    return key_pair("ES256")


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()


# The wizard -------------------------------------------------------------------------------


def test_private_key_jwt_with_a_pasted_pem(owner_client, org, key):
    response = create(owner_client, org, type__public_keys=key.public_pem)

    app = OAuthApp.objects.get()
    assert app.uses_private_key_jwt
    assert [record["thumbprint"] for record in app.public_keys] == [key.thumbprint]
    html = response.content.decode()
    # The pop-up shows the client ID only: there is no secret.
    assert app.client_id in html
    assert 'id="credentials-client-secret"' not in html
    assert "This app has no client secret" in html
    assert key.thumbprint in html
    match = re.search(r'href="data:application/json;base64,([A-Za-z0-9+/=]+)"', html)
    document = json.loads(base64.b64decode(match.group(1)))
    assert document["token_endpoint_auth_method"] == "private_key_jwt"
    assert document["public_key_fingerprints"] == [key.thumbprint]
    assert "client_secret" not in document
    event = AuditEvent.objects.get(action="app.create")
    assert event.data["client_auth"] == "private_key_jwt"
    assert event.data["key_fingerprints"] == [key.thumbprint]


@pytest.mark.parametrize("form", ["jwk", "jwks"])
def test_a_pasted_jwk_or_jwks(owner_client, org, key, form):
    text = json.dumps(
        key.public_jwk
        if form == "jwk"
        else {"keys": [key_pair("RS256").public_jwk, key.public_jwk]}
    )
    create(owner_client, org, type__public_keys=text)
    app = OAuthApp.objects.get()
    assert key.thumbprint in [record["thumbprint"] for record in app.public_keys]


def test_the_review_shows_the_keys_fingerprints(owner_client, org, key):
    response = create(
        owner_client, org, step="scopes", type__public_keys=key.public_pem
    )
    html = response.content.decode()
    assert response.context["wizard"].step.slug == "review"
    assert "Private key JWT" in html
    assert key.thumbprint in html
    assert not OAuthApp.objects.exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"keys": [{"kty": "RSA", "n": "abc"', "not valid JSON"),
        ('{"keys": {"kty": "RSA"}}', "The JWKS has no keys"),
        (
            '{"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}]}',
            "not a valid EC key",
        ),
        ("", "Paste the public key the app signs with"),
    ],
)
def test_a_malformed_jwks_is_a_form_error_and_nothing_is_saved(
    owner_client, org, text, message
):
    for step in ("type", "review"):  # Next on its step, or Create with it carried along
        response = create(owner_client, org, step=step, type__public_keys=text)
        assert response.status_code == 200
        assert response.context["wizard"].step.slug == "type"
        assert message in " ".join(errors_of(response)["public_keys"])
    assert not OAuthApp.objects.exists()


def test_a_private_key_is_refused(owner_client, org, key):
    response = create(owner_client, org, step="type", type__public_keys=key.private_pem)
    assert "That is a private key" in " ".join(errors_of(response)["public_keys"])


def test_keys_and_a_jwks_url_together(owner_client, org, key):
    response = create(
        owner_client,
        org,
        step="type",
        type__public_keys=key.public_pem,
        type__jwks_uri="https://keys.example/jwks.json",
    )
    assert "not both" in " ".join(errors_of(response)["jwks_uri"])


def test_a_jwks_url_at_127_0_0_1_in_production_is_refused(owner_client, org, settings):
    settings.DEBUG = False
    for url in ("https://127.0.0.1/jwks.json", "https://169.254.169.254/keys"):
        response = create(owner_client, org, type__jwks_uri=url)
        assert "loopback, private or link-local" in " ".join(
            errors_of(response)["jwks_uri"]
        )
    response = create(owner_client, org, type__jwks_uri="http://keys.example/jwks.json")
    assert "must use https" in " ".join(errors_of(response)["jwks_uri"])
    assert not OAuthApp.objects.exists()


def test_a_jwks_url_in_development(owner_client, org, key, settings):
    settings.DEBUG = True
    server = JWKSServer()
    try:
        server.publish(key)
        response = create(owner_client, org, type__jwks_uri=server.url)
        app = OAuthApp.objects.get()
        assert app.jwks_uri == server.url and app.public_keys == []
        assert server.url in response.content.decode()

        server.status = 404
        cache.clear()
        refused = create(
            owner_client, org, register__name="Other", type__jwks_uri=server.url + "?x"
        )
        assert "it answered HTTP 404" in " ".join(errors_of(refused)["jwks_uri"])
    finally:
        server.close()


def test_a_client_secret_app_ignores_the_key_fields(owner_client, org):
    response = create(
        owner_client,
        org,
        type__client_auth="client_secret",
        type__public_keys="not a key",
        type__jwks_uri="http://127.0.0.1/",
    )
    app = OAuthApp.objects.get()
    assert not app.uses_private_key_jwt and app.public_keys == [] and not app.jwks_uri
    assert 'id="credentials-client-secret"' in response.content.decode()


def test_without_the_field_an_app_gets_a_client_secret(owner_client, org):
    data = {**VALID}
    del data["type-client_auth"]
    owner_client.post(
        reverse("oauthapps:app_create", args=[org.pk]),
        {**data, "step": "review", "nav": "next"},
    )
    assert OAuthApp.objects.get().client_auth == "client_secret"


# The app page --------------------------------------------------------------------------------


@pytest.fixture
def app(org, owner, key):
    app, _ = oauth_app_create(
        organization=org,
        created_by=owner,
        name="Billing Sync",
        access_token_ttl_minutes=30,
        scopes=["org:admin"],
        client_auth="private_key_jwt",
        public_keys=key.records(),
    )
    oauth_app_add_to_org(app=app, org=org, added_by=owner)
    return app


def url(name: str, app: OAuthApp) -> str:
    return reverse(f"oauthapps:{name}", args=[app.organization_id, app.pk])


def test_the_app_page_shows_the_keys_and_no_secret(owner_client, app, key):
    html = owner_client.get(url("app_detail", app)).content.decode()
    assert key.thumbprint in html
    assert 'data-testid="keys-card"' in html
    assert 'data-testid="secret-card"' not in html
    assert "Regenerate secret" not in html
    assert "Add public key" in html
    assert "client_assertion" in html  # the snippets sign an assertion


def test_adding_a_second_key_then_a_third_is_refused(owner_client, app, key):
    second = key_pair("EdDSA")
    response = owner_client.post(
        url("app_add_public_key", app), {"public_keys": second.public_pem}
    )
    assert response.status_code == 302
    app.refresh_from_db()
    assert [r["thumbprint"] for r in app.public_keys] == [
        key.thumbprint,
        second.thumbprint,
    ]
    assert AuditEvent.objects.filter(action="app.add_public_key").exists()
    assert (
        "Add public key"
        not in owner_client.get(url("app_detail", app)).content.decode()
    )

    third = owner_client.post(
        url("app_add_public_key", app), {"public_keys": key_pair("RS256").public_pem}
    )
    assert third.status_code == 200
    assert "at most 2 public keys" in third.content.decode()
    app.refresh_from_db()
    assert len(app.public_keys) == 2


def test_a_bad_key_is_a_form_error(owner_client, app, key):
    response = owner_client.post(
        url("app_add_public_key", app), {"public_keys": key.public_pem}
    )
    assert "already registered" in response.content.decode()
    response = owner_client.post(
        url("app_add_public_key", app), {"public_keys": '{"keys": ['}
    )
    assert "not valid JSON" in response.content.decode()


def test_removing_a_key_and_never_the_last(owner_client, app, key, owner):
    only = owner_client.post(
        url("app_remove_public_key", app), {"thumbprint": key.thumbprint}, follow=True
    )
    assert "add the new key first" in only.content.decode()
    app.refresh_from_db()
    assert len(app.public_keys) == 1

    second = key_pair("EdDSA")
    owner_client.post(
        url("app_add_public_key", app), {"public_keys": second.public_pem}
    )
    IssuedToken.objects.create(
        app=app,
        organization=app.organization,
        scope="org:admin",
        issued_at="2030-01-01T00:00:00Z",
        expires_at="2030-01-01T01:00:00Z",
    )
    page = owner_client.get(
        url("app_remove_public_key", app) + f"?thumbprint={key.thumbprint}"
    )
    assert page.status_code == 200 and key.thumbprint in page.content.decode()

    done = owner_client.post(
        url("app_remove_public_key", app),
        {"thumbprint": key.thumbprint, "revoke_tokens": "on"},
        follow=True,
    )
    assert "1 access token revoked" in done.content.decode()
    app.refresh_from_db()
    assert [r["thumbprint"] for r in app.public_keys] == [second.thumbprint]
    assert (
        AuditEvent.objects.get(action="app.remove_public_key").data["key_fingerprint"]
        == key.thumbprint
    )


def test_regenerate_and_rotate_do_not_apply(owner_client, app):
    for name in ("app_regenerate_secret", "app_rotate_secret"):
        response = owner_client.post(url(name, app), {"fingerprint": "x"}, follow=True)
        assert "it has no client secret" in response.content.decode()
    assert not AuditEvent.objects.filter(action__contains="secret").exists()


def test_a_developer_cannot_add_a_key_to_an_app_above_their_role(client_as, app, org):
    developer = MembershipFactory(
        organization=org, role=Membership.Role.MEMBER, is_developer=True
    ).user
    client = client_as(developer)
    html = client.get(url("app_detail", app)).content.decode()
    assert "Only Owners and Administrators of Acme Corp can add public keys" in html
    response = client.post(
        url("app_add_public_key", app), {"public_keys": key_pair("EdDSA").public_pem}
    )
    assert response.status_code == 403
    app.refresh_from_db()
    assert len(app.public_keys) == 1


def test_another_orgs_app_is_not_found(client_as, app, outsider):
    response = client_as(outsider).get(url("app_add_public_key", app))
    assert response.status_code == 404


def test_the_key_pages_of_a_secret_app_are_not_found(owner_client, org, owner):
    secret_app, _ = oauth_app_create(
        organization=org,
        created_by=owner,
        name="Secret app",
        access_token_ttl_minutes=30,
        scopes=["org:member"],
    )
    for name in ("app_add_public_key", "app_remove_public_key", "app_change_jwks_uri"):
        assert owner_client.get(url(name, secret_app)).status_code == 404


def test_changing_the_jwks_url(owner_client, org, owner, key, settings):
    settings.DEBUG = True
    server = JWKSServer()
    try:
        server.publish(key)
        app, _ = oauth_app_create(
            organization=org,
            created_by=owner,
            name="Keys by URL",
            access_token_ttl_minutes=30,
            scopes=["org:member"],
            client_auth="private_key_jwt",
            jwks_uri=server.url,
        )
        assert server.url in owner_client.get(url("app_detail", app)).content.decode()
        settings.DEBUG = False
        refused = owner_client.post(
            url("app_change_jwks_uri", app), {"jwks_uri": "https://127.0.0.1/jwks.json"}
        )
        assert "loopback, private or link-local" in refused.content.decode()
        settings.DEBUG = True
        moved = owner_client.post(
            url("app_change_jwks_uri", app), {"jwks_uri": server.url + "?v=2"}
        )
        assert moved.status_code == 302
        app.refresh_from_db()
        assert app.jwks_uri == server.url + "?v=2"
        assert AuditEvent.objects.filter(action="app.change_jwks_uri").exists()
    finally:
        server.close()


def test_the_service_refuses_what_is_not_a_key_record(org, owner, key):
    from django.core.exceptions import ValidationError

    forged = {**key.records()[0], "jwk": {"kty": "RSA", "n": "AQAB", "e": "AQAB"}}
    for records in ([forged], [{"kid": "x"}], ["not a record"]):
        with pytest.raises(ValidationError) as refused:
            oauth_app_create(
                organization=org,
                created_by=owner,
                name="Forged",
                access_token_ttl_minutes=30,
                scopes=["org:member"],
                client_auth="private_key_jwt",
                public_keys=records,
            )
        assert "public_keys" in refused.value.error_dict
    assert not OAuthApp.objects.exists()
