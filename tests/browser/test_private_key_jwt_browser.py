"""The wizard in a real Chromium choosing Private key JWT with a pasted PEM, through the
credentials pop-up (client ID only) to the app page's keys, and a token with that key."""

import json
import re
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from oauthapps.models import OAuthApp
from tests.browser.conftest import sign_in
from tests.browser.test_wizard_browser import expect_step, submit
from tests.factories import PASSWORD
from tests.tokens.assertions import assertion, assertion_form, key_pair

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_owner_creates_a_private_key_jwt_app_with_a_pasted_pem(
    page, org, owner, screenshot, live_server, settings
):
    settings.CONSOLE_ISSUER = live_server.url
    key = key_pair("ES256")
    sign_in(page, owner.email, PASSWORD)
    page.goto(f"/orgs/{org.pk}/oauth-apps/new/")

    # 1. Select app type, then Client authentication: the key fields show for Private key JWT
    expect_step(page, "Select app type")
    expect(page.get_by_role("radio", name=re.compile("^Client secret"))).to_be_checked()
    keys = page.get_by_label("Public keys")
    expect(keys).to_be_hidden()
    page.get_by_role("radio", name=re.compile("^Private key JWT")).check()
    expect(keys).to_be_visible()
    keys.fill('{"keys": [')  # a malformed JWKS first
    submit(page, "Next")
    expect_step(page, "Select app type")
    expect(page.get_by_text("That is not valid JSON")).to_be_visible()
    expect(
        page.get_by_role("radio", name=re.compile("^Private key JWT"))
    ).to_be_checked()
    screenshot(page, "malformed-jwks")
    page.get_by_label("Public keys").fill(key.public_pem)
    screenshot(page, "pasted-pem")
    submit(page, "Next")

    expect_step(page, "Register")
    page.get_by_label("Name").fill("Key Sync")
    submit(page, "Next")
    expect_step(page, "Access Token TTL")
    submit(page, "Next")
    expect_step(page, "Define scopes")
    page.locator("[data-scope-group=org]").get_by_role(
        "checkbox", name=re.compile("^Member ")
    ).check()
    submit(page, "Next")

    # Review: the key and its fingerprint; Back keeps the pasted PEM
    expect_step(page, "Review and create")
    review = page.locator("[data-review=client-auth]")
    expect(review).to_contain_text("Private key JWT")
    expect(review).to_contain_text(key.thumbprint)
    screenshot(page, "review")
    for _ in range(4):
        submit(page, "Back")
    expect_step(page, "Select app type")
    expect(page.get_by_label("Public keys")).to_have_value(key.public_pem)
    for _ in range(4):
        submit(page, "Next")
    expect_step(page, "Review and create")
    submit(page, "Create")

    # The pop-up: the client ID, no secret
    dialog = page.get_by_role("dialog", name="OAuth app created")
    dialog.wait_for()
    app = OAuthApp.objects.get()
    assert app.uses_private_key_jwt
    expect(dialog.get_by_role("textbox", name="Client ID")).to_have_value(app.client_id)
    expect(dialog.get_by_role("textbox", name="Client secret")).to_have_count(0)
    expect(dialog.get_by_text("This app has no client secret")).to_be_visible()
    expect(dialog).to_contain_text(key.thumbprint)
    screenshot(page, "credentials")
    with page.expect_download() as download_info:
        dialog.get_by_role("link", name="Download JSON").click()
    document = json.loads(Path(download_info.value.path()).read_text())
    assert document["token_endpoint_auth_method"] == "private_key_jwt"
    assert "client_secret" not in document
    assert document["client_id"] == app.client_id

    dialog.get_by_role("link", name="Continue").click()
    page.get_by_role("button", name=f"Add to {org.name}").click()
    page.wait_for_url(f"**/orgs/{org.pk}/oauth-apps/{app.pk}/")
    expect(page.get_by_test_id("fingerprint")).to_have_text(key.thumbprint)
    expect(page.get_by_test_id("client-auth")).to_contain_text("Private key JWT")
    screenshot(page, "app-page")

    # The app gets a token with the private key matching what was pasted.
    token_endpoint = document["token_endpoint"]
    response = requests.post(
        token_endpoint,
        data=assertion_form(assertion(key, app.client_id, token_endpoint)),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "org:member"


def test_adding_and_removing_a_key_on_the_app_page(page, org, owner, screenshot):
    from oauthapps.services import oauth_app_create

    first, second = key_pair("RS256"), key_pair("EdDSA")
    app, _ = oauth_app_create(
        organization=org,
        created_by=owner,
        name="Rotating Keys",
        access_token_ttl_minutes=30,
        scopes=["org:member"],
        client_auth="private_key_jwt",
        public_keys=first.records(),
    )
    sign_in(page, owner.email, PASSWORD)
    page.goto(f"/orgs/{org.pk}/oauth-apps/{app.pk}/")

    page.get_by_role("link", name="Add public key").click()
    dialog = page.get_by_role("dialog", name="Add a public key")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Public key").fill(second.public_pem)
    dialog.get_by_role("button", name="Add key").click()
    expect(page.get_by_text("Public key added")).to_be_visible()
    expect(page.get_by_test_id("fingerprint")).to_have_count(2)
    expect(page.get_by_role("link", name="Add public key")).to_have_count(0)
    screenshot(page, "two-keys")

    page.locator(f"[data-key='{first.thumbprint}']").get_by_role(
        "link", name="Remove"
    ).click()
    dialog = page.get_by_role("dialog", name="Remove this public key?")
    expect(dialog).to_contain_text(first.thumbprint)
    dialog.get_by_role("button", name="Remove key").click()
    expect(page.get_by_text("Public key removed")).to_be_visible()
    expect(page.get_by_test_id("fingerprint")).to_have_text(second.thumbprint)
    app.refresh_from_db()
    assert [record["thumbprint"] for record in app.public_keys] == [second.thumbprint]
