"""The client authentication policies at the token endpoint (and introspection, revocation):
an expired client secret and an address outside the app's IP allowlist are `invalid_client`
(401) with a description saying which; refused addresses are kept for the app's page."""

import json
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from oauthapps.models import OAuthApp, RefusedAddress
from oauthapps.services import (
    oauth_app_regenerate_secret,
    oauth_app_rotate_secret,
    oauth_app_update,
)
from oauthapps.tokens import state
from tests.tokens.fixtures import Credentials, get_token, post_form

GRANT = {"grant_type": "client_credentials"}


@pytest.fixture
def app(org, make_app, contains):
    contains(org, "compute")
    return make_app(org, scopes=["org:member", "svc:compute:viewer"], add_to=[org])


@pytest.fixture
def expiring_org(org):
    org.secret_expiry_days = 90
    org.save(update_fields=["secret_expiry_days"])
    return org


def token(client, creds: Credentials, address: str = "127.0.0.1", **meta):
    """A token request from `address` (REMOTE_ADDR); `meta` adds WSGI variables."""
    return post(client, "/oauth/token", GRANT, creds, address, **meta)


def post(client, path, data, creds: Credentials, address: str = "127.0.0.1", **meta):
    return client.post(
        path,
        urlencode(data),
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=creds.basic,
        REMOTE_ADDR=address,
        **meta,
    )


def refusal(response) -> str:
    assert response.status_code == 401
    body = json.loads(response.content)
    assert body["error"] == "invalid_client"
    assert response["WWW-Authenticate"].startswith("Basic ")
    return body["error_description"]


def allow(creds: Credentials, owner, *networks: str) -> None:
    """Set the app's allowlist as the Edit page does."""
    app = OAuthApp.objects.select_related("organization").get(pk=creds.app.pk)
    oauth_app_update(
        app=app,
        updated_by=owner,
        name=app.name,
        description=app.description,
        access_token_ttl_minutes=app.access_token_ttl_minutes,
        scopes=app.scopes,
        allowed_networks=list(networks),
    )


def expire(creds: Credentials, *, ago: timedelta = timedelta(seconds=1)) -> None:
    OAuthApp.objects.filter(pk=creds.app.pk).update(
        secret_expires_at=timezone.now() - ago
    )


# Secret expiry ------------------------------------------------------------------------------


def test_a_secret_made_under_the_policy_works_until_it_expires(
    api_client, expiring_org, make_app, contains
):
    contains(expiring_org, "compute")
    creds = make_app(expiring_org, scopes=["org:member"], add_to=[expiring_org])
    app = OAuthApp.objects.get(pk=creds.app.pk)
    assert app.secret_expires_at - app.secret_created_at == timedelta(days=90)
    assert token(api_client, creds).status_code == 200

    expire(creds)
    description = refusal(token(api_client, creds))
    assert description.startswith("The client secret expired at ")
    assert "rotate or regenerate it on the app's page" in description


def test_an_expired_secret_is_refused_in_the_body_too(api_client, app):
    expire(app)
    response = post_form(
        api_client,
        "/oauth/token",
        {**GRANT, "client_id": app.client_id, "client_secret": app.client_secret},
    )
    assert response.status_code == 401
    body = json.loads(response.content)
    assert body["error"] == "invalid_client"
    assert "expired" in body["error_description"]


def test_a_wrong_secret_is_still_the_plain_failure(api_client, app):
    expire(app)
    wrong = Credentials(app=app.app, client_id=app.client_id, client_secret="nope")
    assert refusal(token(api_client, wrong)) == "Client authentication failed."


def test_introspection_and_revocation_refuse_an_expired_secret(api_client, app):
    issued = get_token(api_client, app)["access_token"]
    expire(app)
    for path in ("/oauth/introspect", "/oauth/revoke"):
        response = post(api_client, path, {"token": issued}, app)
        assert "expired" in refusal(response), path


def test_regenerating_an_expired_secret_gives_one_that_works(
    api_client, expiring_org, owner, make_app, contains
):
    contains(expiring_org, "compute")
    creds = make_app(expiring_org, scopes=["org:member"], add_to=[expiring_org])
    expire(creds, ago=timedelta(days=1))
    app, secret = oauth_app_regenerate_secret(
        app=OAuthApp.objects.get(pk=creds.app.pk), regenerated_by=owner
    )
    assert app.secret_expires_at > timezone.now() + timedelta(days=89)
    fresh = Credentials(app=app, client_id=app.client_id, client_secret=secret)
    assert token(api_client, fresh).status_code == 200


def test_a_rotation_gives_a_fresh_expiry_and_the_previous_secret_keeps_its_own(
    api_client, expiring_org, owner, make_app, contains
):
    contains(expiring_org, "compute")
    old = make_app(expiring_org, scopes=["org:member"], add_to=[expiring_org])
    soon = timezone.now() + timedelta(hours=5)
    OAuthApp.objects.filter(pk=old.app.pk).update(secret_expires_at=soon)

    app, secret = oauth_app_rotate_secret(
        app=OAuthApp.objects.get(pk=old.app.pk), rotated_by=owner, overlap_hours=48
    )
    assert app.secret_expires_at > timezone.now() + timedelta(days=89)
    # The overlap would last 48 hours, but the previous secret expires in 5.
    assert app.previous_secret_expires_at == soon
    new = Credentials(app=app, client_id=app.client_id, client_secret=secret)
    assert token(api_client, new).status_code == 200
    assert token(api_client, old).status_code == 200

    OAuthApp.objects.filter(pk=app.pk).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert refusal(token(api_client, old)) == "Client authentication failed."
    assert token(api_client, new).status_code == 200


# The IP allowlist ---------------------------------------------------------------------------


def test_an_app_without_an_allowlist_gets_tokens_from_anywhere(api_client, app):
    assert token(api_client, app, "198.51.100.1").status_code == 200
    assert token(api_client, app, "2001:db8::1").status_code == 200


def test_an_address_outside_the_allowlist_is_refused_and_recorded(
    api_client, app, owner
):
    allow(app, owner, "203.0.113.0/24")
    assert token(api_client, app, "203.0.113.9").status_code == 200

    description = refusal(token(api_client, app, "198.51.100.23"))
    assert description == (
        "Requests from 198.51.100.23 are not allowed for this client: the address is not on "
        "the app's IP allowlist."
    )
    refusal(token(api_client, app, "198.51.100.23"))
    [row] = RefusedAddress.objects.filter(app=app.app)
    assert (row.address, row.refusals) == ("198.51.100.23", 2)
    assert row.last_refused_at >= row.first_refused_at


def test_ipv6_addresses_are_matched_against_ipv6_networks(api_client, app, owner):
    allow(app, owner, "2001:db8:1::/48", "203.0.113.0/24")
    assert token(api_client, app, "2001:db8:1:ff::7").status_code == 200
    assert token(api_client, app, "::ffff:203.0.113.4").status_code == 200
    description = refusal(token(api_client, app, "2001:db8:2::7"))
    assert description.startswith("Requests from 2001:db8:2::7 are not allowed")
    assert RefusedAddress.objects.get(app=app.app).address == "2001:db8:2::7"


def test_behind_one_trusted_proxy_the_forwarded_address_is_the_source(
    api_client, app, owner, settings
):
    settings.CONSOLE_TRUSTED_PROXY_COUNT = 1
    allow(app, owner, "203.0.113.0/24")
    # The proxy (10.0.0.5) appends the address it saw; what the client wrote before is ignored.
    allowed = token(
        api_client, app, "10.0.0.5", HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.9"
    )
    assert allowed.status_code == 200
    spoofed = token(
        api_client, app, "10.0.0.5", HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.1"
    )
    assert refusal(spoofed).startswith("Requests from 198.51.100.1 are not allowed")


def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(api_client, app, owner):
    allow(app, owner, "203.0.113.0/24")
    response = token(
        api_client, app, "198.51.100.1", HTTP_X_FORWARDED_FOR="203.0.113.9"
    )
    assert refusal(response).startswith("Requests from 198.51.100.1 are not allowed")


def test_wrong_credentials_from_outside_are_not_recorded(api_client, app, owner):
    allow(app, owner, "203.0.113.0/24")
    wrong = Credentials(app=app.app, client_id=app.client_id, client_secret="nope")
    assert refusal(token(api_client, wrong, "198.51.100.1")) == (
        "Client authentication failed."
    )
    assert not RefusedAddress.objects.exists()


def test_a_granted_request_writes_nothing_about_addresses(api_client, app, owner):
    allow(app, owner, "203.0.113.0/24")
    with CaptureQueriesContext(connection) as captured:
        assert token(api_client, app, "203.0.113.9").status_code == 200
    table = RefusedAddress._meta.db_table
    assert not [q for q in captured.captured_queries if table in q["sql"]]


def test_only_the_latest_ten_refused_addresses_are_kept(api_client, app, owner):
    allow(app, owner, "203.0.113.0/24")
    for n in range(12):
        refusal(token(api_client, app, f"198.51.100.{n}"))
    kept = set(
        RefusedAddress.objects.filter(app=app.app).values_list("address", flat=True)
    )
    assert kept == {f"198.51.100.{n}" for n in range(2, 12)}


def test_introspection_from_outside_the_allowlist_is_refused(api_client, app, owner):
    issued = get_token(api_client, app)["access_token"]
    allow(app, owner, "203.0.113.0/24")
    response = post(
        api_client, "/oauth/introspect", {"token": issued}, app, "198.51.100.1"
    )
    assert "not allowed" in refusal(response)


# Every instance, at once: the per-process memory of apps (state.py) -------------------------


@pytest.mark.django_db(transaction=True)
def test_a_changed_allowlist_applies_to_the_next_request(api_client, app, owner):
    assert token(api_client, app).status_code == 200
    assert token(api_client, app).status_code == 200  # answered from memory
    assert len(state.apps) == 1

    allow(app, owner, "203.0.113.0/24")
    assert "127.0.0.1" in refusal(token(api_client, app))

    allow(app, owner, "203.0.113.0/24", "127.0.0.0/8")
    assert token(api_client, app).status_code == 200

    allow(app, owner)
    assert token(api_client, app, "198.51.100.1").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_remembered_app_keeps_the_one_statement_path_within_its_allowlist_only(
    api_client, app, owner
):
    allow(app, owner, "127.0.0.0/8")
    assert token(api_client, app).status_code == 200
    with CaptureQueriesContext(connection) as captured:
        assert token(api_client, app).status_code == 200
    assert len(captured.captured_queries) == 1
    # The same remembered app, from another address: refused (by the general path) all the same.
    assert "198.51.100.1" in refusal(token(api_client, app, "198.51.100.1"))
    assert RefusedAddress.objects.get(app=app.app).address == "198.51.100.1"


@pytest.mark.django_db(transaction=True)
def test_a_remembered_secret_is_refused_once_its_expiry_passes(
    api_client, app, monkeypatch
):
    expires_at = timezone.now() + timedelta(minutes=5)
    OAuthApp.objects.filter(pk=app.app.pk).update(secret_expires_at=expires_at)
    assert token(api_client, app).status_code == 200
    assert (
        token(api_client, app).status_code == 200
    )  # remembered, nothing changed since

    later = expires_at + timedelta(seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert "expired" in refusal(token(api_client, app))
