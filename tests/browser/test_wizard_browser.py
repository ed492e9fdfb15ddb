"""The documented procedure in a real Chromium: Organization › OAuth Apps › Create New OAuth App,
through the credentials pop-up and Download JSON, to Add to organization — with and without JS."""

import json
import re
from pathlib import Path

import pytest
from django.contrib.auth.hashers import check_password
from playwright.sync_api import expect

from oauthapps.models import AppGrant, OAuthApp
from orgs.models import AuditEvent
from tests.browser.conftest import sign_in
from tests.factories import (
    PASSWORD,
    OrganizationServiceFactory,
    ServiceFactory,
    ServiceRoleFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CATALOG = {
    "compute": ("Compute", ["viewer", "operator", "admin"]),
    "billing": ("Billing", ["viewer", "admin"]),
}
ROLE_NAMES = {"viewer": "Viewer", "operator": "Operator", "admin": "Administrator"}


@pytest.fixture
def catalog(org):
    """Transactional tests flush the migrated catalog between tests: put back what we click."""
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
def shot(screenshot):
    """A screenshot from the top of the page (the sticky header stays where it belongs)."""

    def take(page, name: str) -> None:
        page.evaluate("window.scrollTo(0, 0)")
        screenshot(page, name)

    return take


def test_owner_creates_an_app_downloads_credentials_and_adds_it_to_the_org(
    page, org, owner, catalog, shot
):
    sign_in(page, owner.email, PASSWORD)
    page.goto(f"/orgs/{org.pk}/oauth-apps/")
    shot(page, "apps-empty")
    page.get_by_role("link", name="Create New OAuth App").click()

    # 1. Select app type
    expect_step(page, "Select app type")
    expect(page.get_by_label(re.compile("Server to server app"))).to_be_checked()
    shot(page, "type")
    submit(page, "Next")

    # 2. Register: a blank name is refused, then a real one
    expect_step(page, "Register")
    submit(page, "Next")
    expect_step(page, "Register")
    expect(page.get_by_text("Enter a name for the app.")).to_be_visible()
    shot(page, "register-error")
    page.get_by_label("Name").fill("  Billing Sync  ")
    page.get_by_label("Description").fill("Nightly export of invoices.")
    shot(page, "register")
    submit(page, enter_in=page.get_by_label("Name"))  # Enter means Next, not Back

    # 3. Access Token TTL: default 30, 301 refused
    expect_step(page, "Access Token TTL")
    ttl = page.get_by_label("Access Token TTL (minutes)")
    expect(ttl).to_have_value("30")
    ttl.fill("301")
    submit(page, "Next")
    expect_step(page, "Access Token TTL")
    expect(page.get_by_text("The maximum is 300 minutes")).to_be_visible()
    shot(page, "ttl-error")
    page.get_by_label("Access Token TTL (minutes)").fill("45")
    shot(page, "ttl")
    submit(page, "Next")

    # 4. Define scopes: at least one; "select all roles" ticks a whole group
    expect_step(page, "Define scopes")
    submit(page, "Next")
    expect_step(page, "Define scopes")
    expect(
        page.get_by_role("alert").filter(has_text="Choose at least one scope")
    ).to_be_visible()
    billing = page.locator("[data-scope-group=billing]")
    expect(billing.get_by_text("Not in this organization")).to_be_visible()
    expect(
        page.locator("[data-scope-group=compute]").get_by_text(
            "Not in this organization"
        )
    ).to_have_count(0)
    role_box(page.locator("[data-scope-group=org]"), "Member").check()
    compute = page.locator("[data-scope-group=compute]")
    compute.get_by_label("Select all roles").check()
    for role in ("Viewer", "Operator", "Administrator"):
        expect(role_box(compute, role)).to_be_checked()
    role_box(compute, "Administrator").uncheck()
    expect(compute.get_by_label("Select all roles")).not_to_be_checked()
    role_box(billing, "Viewer").check()
    shot(page, "scopes")
    submit(page, "Next")

    # 5. Review; Back keeps what was ticked; Create
    expect_step(page, "Review and create")
    review = page.locator("[data-review=scopes]")
    expect(review).to_contain_text("Operator")
    expect(review).not_to_contain_text("Administrator")
    shot(page, "review")
    submit(page, "Back")
    expect_step(page, "Define scopes")
    expect(role_box(compute, "Operator")).to_be_checked()
    expect(role_box(billing, "Viewer")).to_be_checked()
    submit(page, "Next")
    expect_step(page, "Review and create")
    submit(page, "Create")

    # 6. The "OAuth app created" pop-up: a real modal, in the same response
    dialog = page.get_by_role("dialog", name="OAuth app created")
    dialog.wait_for()
    app = OAuthApp.objects.get()
    assert app.name == "Billing Sync"
    assert dialog.evaluate("el => el.matches(':modal')")
    page.wait_for_url(
        f"**/orgs/{org.pk}/oauth-apps/{app.pk}/"
    )  # pushed: reload is safe
    secret = dialog.get_by_role("textbox", name="Client secret").input_value()
    expect(dialog.get_by_role("textbox", name="Client ID")).to_have_value(app.client_id)
    assert check_password(secret, app.client_secret) and secret not in app.client_secret
    expect(dialog.get_by_role("button", name="Copy client secret")).to_be_visible()
    shot(page, "credentials")

    # Escape asks first; declining keeps the secret on screen. The question comes from the
    # dialog's "cancel" event, which may run after the key press returned: wait for it, not
    # for a fixed time (200 ms were not always enough on a busy machine). The handler answers
    # it at once, wherever it arrives (a question left open would block the page).
    page.once("dialog", lambda prompt: prompt.dismiss())
    with page.expect_event("dialog") as asked:
        page.keyboard.press("Escape")
    assert "will not be shown again" in asked.value.message
    expect(dialog).to_be_visible()
    assert dialog.evaluate("el => el.matches(':modal')")

    # Download JSON: the file a script reads (DESIGN.md §5)
    with page.expect_download() as download_info:
        dialog.get_by_role("link", name="Download JSON").click()
    download = download_info.value
    assert download.suggested_filename == "billing-sync-credentials.json"
    document = json.loads(Path(download.path()).read_text())
    assert document["type"] == "server_to_server"
    assert document["name"] == "Billing Sync"
    assert document["description"] == "Nightly export of invoices."
    assert document["client_id"] == app.client_id
    assert document["client_secret"] == secret
    assert check_password(document["client_secret"], app.client_secret)
    assert document["org_id"] == str(org.pk)
    assert document["token_endpoint"] == f"{document['issuer']}/oauth/token"
    assert document["scopes"] == [
        "org:member",
        "svc:billing:viewer",
        "svc:compute:operator",
        "svc:compute:viewer",
    ]
    assert document["access_token_ttl_minutes"] == 45
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", document["created_at"])

    # 7. Continue → Add to organization
    dialog.get_by_role("link", name="Continue").click()
    page.get_by_role("heading", name=f"Add Billing Sync to {org.name}").wait_for()
    expect(page.get_by_text("does not contain Billing")).to_be_visible()
    shot(page, "add-to-org")
    page.get_by_role("button", name=f"Add to {org.name}").click()
    page.wait_for_url(f"**/orgs/{org.pk}/oauth-apps/{app.pk}/")
    expect(page.get_by_text(f"Billing Sync was added to {org.name}.")).to_be_visible()
    expect(
        page.get_by_text(f"{org.name} does not contain Billing").first
    ).to_be_visible()
    expect(page.get_by_test_id("unread-count")).to_have_text("1")
    shot(page, "app-page")
    assert AppGrant.objects.get().organization == org
    assert set(AuditEvent.objects.values_list("action", flat=True)) >= {
        "app.create",
        "app.add_to_org",
    }

    # The secret is gone for good: reload and the list show no trace of it
    page.reload()
    assert secret not in page.content()
    page.goto(f"/orgs/{org.pk}/oauth-apps/")
    assert secret not in page.content()
    expect(page.get_by_role("link", name="Billing Sync")).to_be_visible()
    shot(page, "apps-list")


def test_the_wizard_works_without_javascript(
    page_without_js, org, owner, catalog, shot
):
    page = page_without_js
    sign_in(page, owner.email, PASSWORD)
    page.goto(f"/orgs/{org.pk}/oauth-apps/new/")
    expect_step(page, "Select app type")
    shot(page, "type-no-js")
    submit(page, "Next")
    expect_step(page, "Register")
    page.get_by_label("Name").fill("No Script Sync")
    shot(page, "register-no-js")
    submit(page, "Next")
    expect_step(page, "Access Token TTL")
    page.get_by_label("Access Token TTL (minutes)").fill("1.5")
    submit(page, "Next")
    expect(page.get_by_text("Enter a whole number of minutes")).to_be_visible()
    shot(page, "ttl-error-no-js")
    page.get_by_label("Access Token TTL (minutes)").fill("5")
    submit(page, "Next")
    expect_step(page, "Define scopes")
    # Without JS "select all roles" is expanded by the server.
    page.locator("[data-scope-group=billing]").get_by_label("Select all roles").check()
    shot(page, "scopes-no-js")
    submit(page, "Next")
    expect_step(page, "Review and create")
    review = page.locator("[data-review=scopes]")
    expect(review).to_contain_text("Viewer")
    expect(review).to_contain_text("Administrator")
    shot(page, "review-no-js")
    submit(page, "Back")
    expect_step(page, "Define scopes")
    billing = page.locator("[data-scope-group=billing]")
    expect(role_box(billing, "Viewer")).to_be_checked()
    expect(role_box(billing, "Administrator")).to_be_checked()
    submit(page, "Next")
    submit(page, "Create")

    dialog = page.get_by_role("dialog", name="OAuth app created")
    expect(dialog).to_be_visible()
    app = OAuthApp.objects.get()
    assert app.scopes == ["svc:billing:admin", "svc:billing:viewer"]
    expect(page).to_have_url(re.compile(rf"/orgs/{org.pk}/oauth-apps/new/$"))
    secret = dialog.get_by_role("textbox", name="Client secret").input_value()
    assert check_password(secret, app.client_secret)
    expect(dialog.get_by_role("button", name="Copy client secret")).to_be_hidden()
    shot(page, "credentials-no-js")
    with page.expect_download() as download_info:
        dialog.get_by_role("link", name="Download JSON").click()
    assert download_info.value.suggested_filename == "no-script-sync-credentials.json"
    assert (
        json.loads(Path(download_info.value.path()).read_text())["client_secret"]
        == secret
    )

    dialog.get_by_role("link", name="Continue").click()
    shot(page, "add-to-org-no-js")
    page.get_by_role("button", name=f"Add to {org.name}").click()
    page.wait_for_url(f"**/orgs/{org.pk}/oauth-apps/{app.pk}/")
    expect(page.get_by_text(f"No Script Sync was added to {org.name}.")).to_be_visible()
    assert secret not in page.content()
    shot(page, "app-page-no-js")
    assert AppGrant.objects.filter(app=app, organization=org).exists()


def role_box(group, role: str):
    """A role's checkbox in a scope group (its label also shows the scope and a description)."""
    return group.get_by_role("checkbox", name=re.compile(rf"^{role} "))


def submit(page, button: str = "", *, enter_in=None) -> None:
    """Click a wizard button (or press Enter in a field) and wait until the server's
    answer is on the page. The answer arriving is not enough: htmx swaps it in afterwards, in a
    task of its own, so a busy machine could still show the old step. The step on screen is
    marked first; the wait ends when an unmarked one replaced it (an htmx swap, or a new page
    without JavaScript)."""
    page.locator("#wizard").evaluate("el => el.setAttribute('data-answered', 'no')")
    if enter_in is not None:
        enter_in.press("Enter")
    else:
        page.get_by_role("button", name=button, exact=True).click()
    page.locator("#wizard:not([data-answered])").wait_for()


def expect_step(page, title: str) -> None:
    page.locator("#wizard h2", has_text=title).wait_for()
