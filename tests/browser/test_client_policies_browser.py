"""The secret expiry policy and the IP allowlist in a real Chromium: an Owner sets the
organization's policy (a bad value is a field error), regenerates a secret that then expires
(pop-up and JSON say when), and limits the app to networks (a bad CIDR is a field error); the
token endpoint refuses the console's own address until the allowlist includes it, and the app
page lists the refused address."""

import json
from pathlib import Path

import pytest
import requests
from django.db import connection
from playwright.sync_api import expect

from oauthapps.models import OAuthApp
from oauthapps.services import oauth_app_add_to_org, oauth_app_create
from orgs.models import Organization
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture(autouse=True)
def close_db_after_each_request():
    """As in test_app_management_browser: no persistent connection outlives a test."""
    settings_dict = connection.settings_dict
    saved = settings_dict["CONN_MAX_AGE"]
    settings_dict["CONN_MAX_AGE"] = 0
    yield
    settings_dict["CONN_MAX_AGE"] = saved


@pytest.fixture
def server(live_server, settings):
    settings.CONSOLE_ISSUER = live_server.url
    return live_server.url


@pytest.fixture
def app(org, owner):
    app, secret = oauth_app_create(
        organization=org,
        created_by=owner,
        name="Billing Sync",
        access_token_ttl_minutes=30,
        scopes=["org:member"],
    )
    oauth_app_add_to_org(app=app, org=org, added_by=owner)
    return app


def token_request(server: str, client_id: str, secret: str) -> requests.Response:
    return requests.post(
        f"{server}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
        timeout=10,
    )


def test_an_owner_sets_the_secret_policy_and_the_allowlist(
    page, server, org, owner, app, screenshot
):
    sign_in(page, owner.email, PASSWORD)
    page.goto(f"/orgs/{org.pk}/")
    card = page.get_by_test_id("secret-policy")
    expect(card).to_contain_text("never expire")

    # The organization's policy: a bad value is a field error, nothing saved.
    card.get_by_label("Client secrets expire after (days)").fill("10")
    card.get_by_role("button", name="Save expiry policy").click()
    expect(page.get_by_text("must expire after 30 to 730 days")).to_be_visible()
    screenshot(page, "policy-error")
    assert Organization.objects.get(pk=org.pk).secret_expiry_days is None
    card = page.get_by_test_id("secret-policy")
    card.get_by_label("Client secrets expire after (days)").fill("90")
    card.get_by_role("button", name="Save expiry policy").click()
    expect(
        page.get_by_text("New client secrets of Acme Corp expire after 90 days")
    ).to_be_visible()
    expect(page.get_by_test_id("secret-policy")).to_contain_text("90 days")
    screenshot(page, "policy-saved")
    assert Organization.objects.get(pk=org.pk).secret_expiry_days == 90

    # A new secret under the policy: the pop-up and the JSON say when it expires.
    page.goto(f"/orgs/{org.pk}/oauth-apps/{app.pk}/")
    expect(page.get_by_test_id("secret-expires")).to_have_text("Never")
    page.get_by_role("link", name="Regenerate secret").click()
    confirm = page.get_by_role("dialog", name="Regenerate the client secret?")
    with page.expect_response(lambda response: response.request.method == "POST"):
        confirm.get_by_role("button", name="Regenerate secret").click()
    dialog = page.get_by_role("dialog", name="New client secret")
    expect(dialog.get_by_test_id("secret-expiry-note")).to_contain_text(
        "This secret expires on"
    )
    secret = dialog.get_by_role("textbox", name="Client secret").input_value()
    with page.expect_download() as download_info:
        dialog.get_by_role("link", name="Download JSON").click()
    document = json.loads(Path(download_info.value.path()).read_text())
    expires_at = OAuthApp.objects.get(pk=app.pk).secret_expires_at
    assert document["client_secret_expires_at"] == expires_at.strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    dialog.get_by_role("link", name="Continue").click()
    expect(page.get_by_test_id("secret-expires")).not_to_have_text("Never")
    assert token_request(server, app.client_id, secret).status_code == 200

    # The IP allowlist: a CIDR that does not parse is a field error, nothing saved.
    page.get_by_role("link", name="Change allowlist").click()
    networks = page.get_by_label("IP allowlist")
    networks.fill("203.0.113.0/24\n10.0.0.300/8")
    page.get_by_role("button", name="Save changes").click()
    expect(
        page.get_by_text("10.0.0.300/8 is not an IPv4 or IPv6 address")
    ).to_be_visible()
    screenshot(page, "allowlist-error")
    assert OAuthApp.objects.get(pk=app.pk).allowed_networks == []
    page.get_by_label("IP allowlist").fill("203.0.113.0/24\n2001:db8::/32")
    page.get_by_role("button", name="Save changes").click()
    page.get_by_text("Billing Sync was saved").wait_for()
    expect(page.get_by_test_id("allowed-networks")).to_contain_text("2001:db8::/32")

    # This machine is not on the list: refused, and the page lists the address.
    refused = token_request(server, app.client_id, secret)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"
    assert "127.0.0.1 are not allowed" in refused.json()["error_description"]
    page.reload()
    expect(page.get_by_test_id("refused-addresses")).to_contain_text("127.0.0.1")
    screenshot(page, "refused-address")

    page.get_by_role("link", name="Change allowlist").click()
    page.get_by_label("IP allowlist").fill("203.0.113.0/24\n127.0.0.0/8")
    page.get_by_role("button", name="Save changes").click()
    page.get_by_text("Billing Sync was saved").wait_for()
    assert token_request(server, app.client_id, secret).status_code == 200
