"""Managing OAuth apps in a real Chromium: regenerate the secret (the old one is refused at the
token endpoint, the downloaded JSON works), rotate with overlap, add an app to another org by its
client ID and from its page, edit, delete — with screenshots of every page."""

import json
import re
from pathlib import Path

import pytest
import requests
from django.db import connection
from playwright.sync_api import expect

from oauthapps.models import AppGrant, OAuthApp
from oauthapps.services import oauth_app_add_to_org, oauth_app_create
from orgs.models import Membership, Notification
from tests.browser.conftest import ARTIFACTS, sign_in
from tests.factories import (
    PASSWORD,
    MembershipFactory,
    OrganizationFactory,
    OrganizationServiceFactory,
    ServiceFactory,
    ServiceRoleFactory,
)

# serialized_rollback, as in test_foundation_browser: the migrated catalog is restored, and a
# following serialized test is not handed content types a flush re-created under new ids.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

CATALOG = {
    "compute": ("Compute", ["viewer", "operator", "admin"]),
    "billing": ("Billing", ["viewer", "admin"]),
}
ROLE_NAMES = {"viewer": "Viewer", "operator": "Operator", "admin": "Administrator"}


@pytest.fixture(autouse=True)
def close_db_after_each_request():
    """The live server's threads close their database connection after every request. With
    persistent connections (DJANGO_DB_CONN_MAX_AGE, on for PostgreSQL) a thread still serving a
    browser's kept-alive connection would otherwise hold one when the test database is dropped."""
    settings_dict = connection.settings_dict
    saved = settings_dict["CONN_MAX_AGE"]
    settings_dict["CONN_MAX_AGE"] = 0
    yield
    settings_dict["CONN_MAX_AGE"] = saved


@pytest.fixture
def server(live_server, settings):
    """The live server is the console's public URL (token_endpoint in the JSON, iss, aud)."""
    settings.CONSOLE_ISSUER = live_server.url
    return live_server.url


@pytest.fixture
def catalog(org):
    """The services this module's apps name, as the catalog migration ships them."""
    services = {}
    for slug, (name, roles) in CATALOG.items():
        services[slug] = ServiceFactory(slug=slug, name=name)
        for position, role in enumerate(roles):
            ServiceRoleFactory(
                service=services[slug],
                slug=role,
                name=ROLE_NAMES[role],
                position=position,
            )
    OrganizationServiceFactory(organization=org, service=services["compute"])
    return services


@pytest.fixture
def app(org, owner, catalog):
    app, secret = oauth_app_create(
        organization=org,
        created_by=owner,
        name="Billing Sync",
        description="Nightly export of invoices.",
        access_token_ttl_minutes=30,
        scopes=["org:member", "svc:compute:viewer", "svc:billing:viewer"],
    )
    oauth_app_add_to_org(app=app, org=org, added_by=owner)
    app.plaintext_secret = secret
    return app


@pytest.fixture
def shot(screenshot, request):
    """shot(page, name): the whole page from the top; shot(page, name, modal=True): what the
    viewport shows, for a modal dialog over the page."""

    def take(page, name: str, *, modal: bool = False) -> None:
        if not modal:
            page.evaluate("window.scrollTo(0, 0)")
            screenshot(page, name)
            return
        folder = ARTIFACTS / request.node.name
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"modal-{name}.png"))

    return take


def token_request(server: str, client_id: str, secret: str, org_id=None):
    data = {"grant_type": "client_credentials"}
    if org_id:
        data["orgId"] = str(org_id)
    return requests.post(
        f"{server}/oauth/token", data=data, auth=(client_id, secret), timeout=10
    )


def test_regenerate_refuses_the_old_secret_and_the_downloaded_json_works(
    page, server, org, owner, app, shot
):
    old = token_request(server, app.client_id, app.plaintext_secret)
    assert old.status_code == 200
    old_token = old.json()["access_token"]
    api = f"{server}/api/v1/orgs/{org.pk}"
    auth = {"Authorization": f"Bearer {old_token}"}
    assert requests.get(api, headers=auth, timeout=10).status_code == 200

    sign_in(page, owner.email, PASSWORD)
    page.goto(f"/orgs/{org.pk}/oauth-apps/{app.pk}/")
    page.get_by_role("heading", name="Billing Sync").wait_for()
    expect(page.get_by_test_id("last-used")).not_to_have_text("Never")
    expect(page.get_by_test_id("tokens-24h")).to_have_text("1")
    shot(page, "app-page")

    page.get_by_role("link", name="Regenerate secret").click()
    confirm = page.get_by_role("dialog", name="Regenerate the client secret?")
    confirm.wait_for()
    assert confirm.evaluate("el => el.matches(':modal')")
    shot(page, "regenerate-confirm", modal=True)
    with page.expect_response(lambda response: response.request.method == "POST"):
        confirm.get_by_role("button", name="Regenerate secret").click()

    dialog = page.get_by_role("dialog", name="New client secret")
    dialog.wait_for()
    assert dialog.evaluate("el => el.matches(':modal')")
    # The address is the app page again: a reload re-sends nothing.
    expect(page).to_have_url(re.compile(rf"/orgs/{org.pk}/oauth-apps/{app.pk}/$"))
    secret = dialog.get_by_role("textbox", name="Client secret").input_value()
    assert secret and secret != app.plaintext_secret
    shot(page, "new-secret", modal=True)

    with page.expect_download() as download_info:
        dialog.get_by_role("link", name="Download JSON").click()
    document = json.loads(Path(download_info.value.path()).read_text())
    assert document["client_secret"] == secret

    # The old secret stops at once; its token is revoked; the downloaded file works.
    refused = token_request(server, app.client_id, app.plaintext_secret)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"
    assert requests.get(api, headers=auth, timeout=10).status_code == 401
    fresh = requests.post(
        document["token_endpoint"],
        data={"grant_type": "client_credentials", "orgId": document["org_id"]},
        auth=(document["client_id"], document["client_secret"]),
        timeout=10,
    )
    assert fresh.status_code == 200
    headers = {"Authorization": f"Bearer {fresh.json()['access_token']}"}
    assert requests.get(api, headers=headers, timeout=10).status_code == 200

    dialog.get_by_role("link", name="Continue").click()
    page.get_by_role("heading", name="Billing Sync").wait_for()
    assert secret not in page.content()
    page.reload()
    assert secret not in page.content()
    assert OAuthApp.objects.get().secret_created_at > app.secret_created_at


def test_regenerate_without_javascript_confirms_on_its_own_page(
    page_without_js, server, org, owner, app, shot
):
    page = page_without_js
    sign_in(page, owner.email, PASSWORD)
    page.goto(f"/orgs/{org.pk}/oauth-apps/{app.pk}/")
    page.get_by_role("link", name="Regenerate secret").click()
    page.wait_for_url(f"**/oauth-apps/{app.pk}/regenerate-secret/")
    shot(page, "regenerate-page-no-js")
    page.get_by_role("button", name="Regenerate secret").click()
    dialog = page.get_by_role("dialog", name="New client secret")
    expect(dialog).to_be_visible()
    secret = dialog.get_by_role("textbox", name="Client secret").input_value()
    shot(page, "new-secret-no-js")
    assert token_request(server, app.client_id, secret).status_code == 200
    assert token_request(server, app.client_id, app.plaintext_secret).status_code == 401
    # Resending the form (a reload without JS) makes no second secret.
    page.reload()
    expect(page.get_by_text("was already replaced")).to_be_visible()
    assert token_request(server, app.client_id, secret).status_code == 200


def test_rotate_with_overlap_keeps_both_secrets_until_the_overlap_ends(
    page, server, org, owner, app, shot
):
    sign_in(page, owner.email, PASSWORD)
    page.goto(f"/orgs/{org.pk}/oauth-apps/{app.pk}/")
    page.get_by_role("link", name="Rotate with overlap").click()
    dialog = page.get_by_role("dialog", name="Rotate the client secret with an overlap")
    expect(dialog.get_by_label("Overlap (hours)")).to_have_value("48")
    dialog.get_by_label("Overlap (hours)").fill("24")
    shot(page, "rotate-dialog", modal=True)
    dialog.get_by_role("button", name="Rotate secret").click()
    credentials = page.get_by_role("dialog", name="New client secret")
    expect(credentials).to_contain_text("previous secret keeps working until")
    secret = credentials.get_by_role("textbox", name="Client secret").input_value()
    credentials.get_by_role("link", name="Continue").click()
    page.get_by_test_id("overlap").wait_for()
    shot(page, "overlap")

    assert token_request(server, app.client_id, secret).status_code == 200
    assert token_request(server, app.client_id, app.plaintext_secret).status_code == 200
    page.get_by_role("button", name="End overlap now").click()
    page.get_by_text("The previous secret was retired").wait_for()
    assert token_request(server, app.client_id, app.plaintext_secret).status_code == 401
    assert token_request(server, app.client_id, secret).status_code == 200


def test_an_owner_of_another_org_adds_the_app_by_its_client_id(
    page, server, org, owner, app, shot
):
    partner = OrganizationFactory(name="Partner Corp")
    partner_owner = MembershipFactory(
        organization=partner,
        role=Membership.Role.OWNER,
        user__email="partner-owner@example.com",
    ).user
    co_owner = MembershipFactory(organization=partner, role=Membership.Role.OWNER).user

    sign_in(page, partner_owner.email, PASSWORD)
    page.goto(f"/orgs/{partner.pk}/oauth-apps/")
    shot(page, "partner-apps-empty")
    page.get_by_role("link", name="Add it by its client ID").click()
    page.get_by_label("Client ID").fill("not-a-client-id")
    page.get_by_role("button", name="Review the app").click()
    expect(page.get_by_text("No app has this client ID")).to_be_visible()
    page.get_by_label("Client ID").fill(app.client_id)
    page.get_by_role("button", name="Review the app").click()
    review = page.get_by_test_id("client-id-review")
    expect(review).to_contain_text("Billing Sync")
    expect(review).to_contain_text("Owned by")
    expect(review).to_contain_text(org.name)
    expect(
        page.get_by_text("Partner Corp does not contain Billing, Compute")
    ).to_be_visible()
    shot(page, "review-by-client-id")
    review.get_by_role("button", name="Grant and add to Partner Corp").click()

    page.wait_for_url(f"**/orgs/{partner.pk}/oauth-apps/{app.pk}/")
    expect(page.get_by_text("Billing Sync was added to Partner Corp.")).to_be_visible()
    expect(page.get_by_test_id("from-org")).to_have_text(f"From {org.name}")
    # Only the owning org's managers change it: no Edit, no secret buttons here.
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
    expect(page.get_by_role("link", name="Regenerate secret")).to_have_count(0)
    shot(page, "added-app-page")
    page.goto(f"/orgs/{partner.pk}/oauth-apps/")
    row = page.locator("[data-added-from]", has_text="Billing Sync")
    expect(row).to_have_attribute("data-added-from", org.name)
    shot(page, "partner-apps-list")

    assert AppGrant.objects.filter(app=app, organization=partner).exists()
    # Every Owner of Partner Corp is told (a warning: services are missing).
    for user in (partner_owner, co_owner):
        notification = Notification.objects.get(user=user, organization=partner)
        assert notification.level == "warning"
    token = token_request(server, app.client_id, app.plaintext_secret, partner.pk)
    assert token.status_code == 200
    assert token.json()["scope"] == "org:member"


def test_an_owner_adds_the_app_to_another_org_from_its_page(
    page, server, org, owner, app, shot
):
    second = OrganizationFactory(name="Second Org")
    MembershipFactory(organization=second, user=owner, role=Membership.Role.OWNER)
    not_mine = OrganizationFactory(name="Not Mine")
    MembershipFactory(organization=not_mine, user=owner, role=Membership.Role.MEMBER)

    sign_in(page, owner.email, PASSWORD)
    page.goto(f"/orgs/{org.pk}/oauth-apps/{app.pk}/")
    page.get_by_role("link", name="Add to organizations").first.click()
    page.get_by_role("heading", name="Add Billing Sync to organizations").wait_for()
    expect(page.locator("[data-org]").first).to_contain_text(
        re.compile(r"^\s*Second Org")
    )
    expect(page.locator("[data-org='Not Mine']")).to_have_count(0)  # not an Owner there
    shot(page, "add-to-orgs")
    page.get_by_label(re.compile("Second Org")).check()
    page.get_by_role("button", name="Add to selected organizations").click()
    page.wait_for_url(f"**/orgs/{org.pk}/oauth-apps/{app.pk}/")
    expect(page.get_by_text("Billing Sync was added to Second Org.")).to_be_visible()
    expect(page.locator("[data-grant='Second Org']")).to_be_visible()
    shot(page, "app-page-two-orgs")
    token = token_request(server, app.client_id, app.plaintext_secret, second.pk)
    assert token.status_code == 200

    # Remove it again from the grants table: that org's tokens are revoked.
    page.locator("[data-grant='Second Org']").get_by_role("link", name="Remove").click()
    dialog = page.get_by_role("dialog", name="Remove Billing Sync from Second Org?")
    shot(page, "remove-dialog", modal=True)
    dialog.get_by_role("button", name="Remove from Second Org").click()
    page.get_by_text("Billing Sync was removed from Second Org").wait_for()
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    response = requests.get(
        f"{server}/api/v1/orgs/{second.pk}", headers=bearer, timeout=10
    )
    assert response.status_code == 401


def test_edit_and_delete(page, server, org, owner, app, shot):
    sign_in(page, owner.email, PASSWORD)
    page.goto(f"/orgs/{org.pk}/oauth-apps/{app.pk}/")
    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_test_id("edit-effect")).to_contain_text(
        "New tokens follow the change"
    )
    page.get_by_label("Access Token TTL (minutes)").fill("301")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("The maximum is 300 minutes")).to_be_visible()
    shot(page, "edit-error")
    page.get_by_label("Access Token TTL (minutes)").fill("5")
    page.get_by_role("button", name="Save changes").click()
    page.get_by_text("Billing Sync was saved").wait_for()
    token = token_request(server, app.client_id, app.plaintext_secret)
    assert token.json()["expires_in"] == 300

    page.get_by_role("link", name="Delete app").click()
    dialog = page.get_by_role("dialog", name="Delete Billing Sync?")
    dialog.get_by_label("Type the app’s name to confirm").fill("Billing")
    dialog.get_by_role("button", name="Delete app").click()
    page.get_by_text(
        "That is not the app’s name"
    ).wait_for()  # the page form, with the error
    shot(page, "delete-error")
    page.get_by_label("Type the app’s name to confirm").fill("Billing Sync")
    page.get_by_role("button", name="Delete app").click()
    page.get_by_text("Billing Sync was deleted").wait_for()
    shot(page, "deleted")
    assert not OAuthApp.objects.exists()
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    response = requests.get(
        f"{server}/api/v1/orgs/{org.pk}", headers=bearer, timeout=10
    )
    assert response.status_code == 401

    page.get_by_role("link", name="Audit log").click()
    page.get_by_role("heading", name="Audit log").wait_for()
    expect(page.locator("[data-action='app.delete']")).to_have_count(1)
    shot(page, "audit-log")
