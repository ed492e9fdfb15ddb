"""Regenerate secret, Rotate with overlap, End overlap now: the pop-up shows the new secret once,
and the token endpoint, introspection and the API show the effect at once."""

import json
from datetime import timedelta

import pytest
from django.contrib.auth.hashers import check_password
from django.urls import reverse
from django.utils import timezone

from oauthapps import services
from oauthapps.models import OAuthApp
from orgs.models import AuditEvent
from tests.oauthapps.effects import (
    api_status,
    is_active,
    shown_secret,
    token,
    token_response,
)


def url(name: str, org, app) -> str:
    return reverse(f"oauthapps:{name}", args=[org.pk, app.pk])


@pytest.fixture
def creds(org, make_app, other_org):
    return make_app(
        org, name="Billing Sync", scopes=["org:member"], add_to=[org, other_org]
    )


@pytest.fixture
def other_org(db):
    from tests.factories import OrganizationFactory

    return OrganizationFactory(name="Other Org")


def fingerprint(app: OAuthApp) -> str:
    app.refresh_from_db()
    return services.secret_fingerprint(app)


def regenerate(client, org, app, **data):
    return client.post(
        url("app_regenerate_secret", org, app),
        {"fingerprint": fingerprint(app), **data},
    )


# --- Regenerate -----------------------------------------------------------------------------------


def test_regenerate_shows_the_new_secret_once_in_the_credentials_pop_up(
    client_as, org, owner, creds
):
    response = regenerate(client_as(owner), org, creds.app)
    assert response.status_code == 200
    html = response.content.decode()
    secret = shown_secret(response)
    assert secret and secret != creds.client_secret
    assert '<dialog id="credentials-dialog"' in html and "New client secret" in html
    assert html.count(secret) == 1
    assert (
        "data:application/json;base64," in html
    )  # Download JSON, built in this response
    assert f'data-replace-url="{url("app_detail", org, creds.app)}"' in html
    assert "no-store" in response["Cache-Control"]
    app = OAuthApp.objects.get()
    assert check_password(secret, app.client_secret) and secret not in app.client_secret
    # Never again: not on the page, not in the audit log.
    page = client_as(owner).get(url("app_detail", org, creds.app)).content.decode()
    assert secret not in page
    event = AuditEvent.objects.get(action="app.regenerate_secret")
    assert secret not in json.dumps(event.data) and event.actor == owner


def test_regenerate_refuses_the_old_secret_and_revokes_every_token(
    client_as, org, owner, creds, other_org, api_client
):
    here = token(api_client, creds.client_id, creds.client_secret, org)["access_token"]
    there = token(api_client, creds.client_id, creds.client_secret, other_org)[
        "access_token"
    ]
    assert api_status(api_client, here, org) == 200

    secret = shown_secret(regenerate(client_as(owner), org, creds.app))

    refused = token_response(api_client, creds.client_id, creds.client_secret)
    assert refused.status_code == 401
    assert json.loads(refused.content)["error"] == "invalid_client"
    assert api_status(api_client, here, org) == 401
    assert api_status(api_client, there, other_org) == 401
    assert not is_active(api_client, creds.client_id, secret, here)
    assert not is_active(api_client, creds.client_id, secret, there)
    fresh = token(api_client, creds.client_id, secret, org)["access_token"]
    assert api_status(api_client, fresh, org) == 200
    assert is_active(api_client, creds.client_id, secret, fresh)
    assert (
        AuditEvent.objects.get(action="app.regenerate_secret").data["tokens_revoked"]
        == 2
    )


def test_a_resubmitted_regenerate_makes_no_second_secret(client_as, org, owner, creds):
    client = client_as(owner)
    form = {"fingerprint": fingerprint(creds.app)}
    first = client.post(url("app_regenerate_secret", org, creds.app), form)
    secret = shown_secret(first)
    again = client.post(url("app_regenerate_secret", org, creds.app), form, follow=True)
    assert shown_secret(again) == ""
    assert "was already replaced after this page was loaded" in again.content.decode()
    assert check_password(secret, OAuthApp.objects.get().client_secret)
    assert AuditEvent.objects.filter(action="app.regenerate_secret").count() == 1


def test_regenerate_without_javascript_is_a_confirmation_page(
    client_as, org, owner, creds
):
    response = client_as(owner).get(url("app_regenerate_secret", org, creds.app))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Regenerate the client secret?" in html
    assert "The current secret stops working at once" in html
    assert f'value="{services.secret_fingerprint(creds.app)}"' in html
    assert (
        OAuthApp.objects.get().client_secret == creds.app.client_secret
    )  # GET changes nothing


def test_regenerate_without_the_fingerprint_changes_nothing(
    client_as, org, owner, creds
):
    response = client_as(owner).post(url("app_regenerate_secret", org, creds.app), {})
    assert response.status_code == 200
    assert shown_secret(response) == ""
    assert OAuthApp.objects.get().client_secret == creds.app.client_secret


def test_regenerate_needs_csrf(org, owner, creds):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    response = client.post(
        url("app_regenerate_secret", org, creds.app),
        {"fingerprint": services.secret_fingerprint(creds.app)},
    )
    assert response.status_code == 403
    assert OAuthApp.objects.get().client_secret == creds.app.client_secret


def test_regenerate_also_ends_a_running_overlap(
    client_as, org, owner, creds, api_client
):
    _, rotated = services.oauth_app_rotate_secret(app=creds.app, rotated_by=owner)
    secret = shown_secret(regenerate(client_as(owner), org, creds.app))
    for old in (creds.client_secret, rotated):
        assert token_response(api_client, creds.client_id, old).status_code == 401
    assert token_response(api_client, creds.client_id, secret, org).status_code == 200


# --- Rotate with overlap --------------------------------------------------------------------------


def rotate(client, org, app, hours="48"):
    return client.post(
        url("app_rotate_secret", org, app),
        {"fingerprint": fingerprint(app), "overlap_hours": hours},
    )


def test_rotate_keeps_the_old_secret_and_its_tokens_for_the_overlap(
    client_as, org, owner, creds, api_client
):
    issued = token(api_client, creds.client_id, creds.client_secret, org)[
        "access_token"
    ]
    before = timezone.now()
    response = rotate(client_as(owner), org, creds.app, hours="24")
    secret = shown_secret(response)
    assert secret
    html = response.content.decode()
    assert 'data-testid="overlap-note"' in html
    app = OAuthApp.objects.get()
    assert (
        before + timedelta(hours=24)
        <= app.previous_secret_expires_at
        <= timezone.now() + timedelta(hours=24)
    )
    assert app.previous_secret_expires_at.strftime("%b %-d, %Y, %H:%M") in html
    assert app.secret_created_at >= before  # the secret's age starts again
    # Both secrets work; the token issued before still works.
    assert (
        token_response(
            api_client, creds.client_id, creds.client_secret, org
        ).status_code
        == 200
    )
    assert token_response(api_client, creds.client_id, secret, org).status_code == 200
    assert api_status(api_client, issued, org) == 200
    event = AuditEvent.objects.get(action="app.rotate_secret")
    assert event.data["overlap_hours"] == 24 and secret not in json.dumps(event.data)


def test_the_old_secret_stops_when_the_overlap_expires(
    client_as, org, owner, creds, api_client
):
    secret = shown_secret(rotate(client_as(owner), org, creds.app))
    OAuthApp.objects.update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert (
        token_response(api_client, creds.client_id, creds.client_secret).status_code
        == 401
    )
    assert token_response(api_client, creds.client_id, secret, org).status_code == 200


def test_end_overlap_now_retires_the_old_secret_at_once(
    client_as, org, owner, creds, api_client
):
    client = client_as(owner)
    secret = shown_secret(rotate(client, org, creds.app))
    response = client.post(url("app_end_secret_overlap", org, creds.app), follow=True)
    assert "The previous secret was retired" in response.content.decode()
    assert (
        token_response(api_client, creds.client_id, creds.client_secret).status_code
        == 401
    )
    assert token_response(api_client, creds.client_id, secret, org).status_code == 200
    assert AuditEvent.objects.filter(action="app.end_secret_overlap").count() == 1
    again = client.post(url("app_end_secret_overlap", org, creds.app), follow=True)
    assert "There was no previous secret still working." in again.content.decode()


def test_the_overlap_defaults_to_48_hours(client_as, org, owner, creds):
    html = (
        client_as(owner).get(url("app_rotate_secret", org, creds.app)).content.decode()
    )
    assert 'name="overlap_hours" value="48"' in html


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ("0", "The overlap must be at least 1 hour."),
        ("169", "The overlap can be at most 168 hours (7 days)."),
        ("1.5", "Enter a whole number of hours, for example 48."),
        ("abc", "Enter a whole number of hours, for example 48."),
        ("", "Enter how many hours the current secret keeps working."),
    ],
)
def test_the_overlap_is_1_hour_to_7_days(client_as, org, owner, creds, hours, message):
    response = rotate(client_as(owner), org, creds.app, hours=hours)
    assert response.status_code == 200
    assert response.context["form"].errors["overlap_hours"] == [message]
    assert shown_secret(response) == ""
    assert OAuthApp.objects.get().client_secret == creds.app.client_secret


@pytest.mark.parametrize("hours", ["1", "168"])
def test_the_bounds_are_accepted(client_as, org, owner, creds, hours):
    assert shown_secret(rotate(client_as(owner), org, creds.app, hours=hours))


def test_rotating_again_during_an_overlap_is_refused(
    client_as, org, owner, creds, api_client
):
    client = client_as(owner)
    secret = shown_secret(rotate(client, org, creds.app))
    response = rotate(client, org, creds.app)
    assert response.status_code == 200
    assert shown_secret(response) == ""
    assert "End that overlap first" in response.content.decode()
    # Nothing changed: both secrets still work.
    assert (
        token_response(api_client, creds.client_id, creds.client_secret).status_code
        == 200
    )
    assert token_response(api_client, creds.client_id, secret, org).status_code == 200


def test_a_resubmitted_rotate_makes_no_second_secret(client_as, org, owner, creds):
    client = client_as(owner)
    form = {"fingerprint": fingerprint(creds.app), "overlap_hours": "48"}
    shown_secret(client.post(url("app_rotate_secret", org, creds.app), form))
    OAuthApp.objects.update(previous_client_secret="", previous_secret_expires_at=None)
    response = client.post(url("app_rotate_secret", org, creds.app), form)
    assert shown_secret(response) == ""
    assert "was already replaced" in response.content.decode()


def test_a_disabled_app_stays_refused_after_a_new_secret(
    client_as, org, owner, creds, api_client
):
    services.oauth_app_set_disabled(app=creds.app, is_disabled=True, changed_by=owner)
    secret = shown_secret(regenerate(client_as(owner), org, creds.app))
    assert token_response(api_client, creds.client_id, secret, org).status_code == 401
