"""Every page on a phone (390×844), a tablet (768×1024) and a desktop, checked by axe-core.

One visit per page: at phone size the page must not be wider than the phone, Sign out must be
reachable through the menu, and a screenshot is kept (test-artifacts/screenshots/); the same
page is then resized to a tablet (no sideways scrolling either) and to a desktop, and axe-core
(WCAG 2 A/AA) runs at phone and desktop size: no serious or critical violation anywhere.
Admin changelists are checked at 1440 px, the width the issue measured them at.
"""

from pathlib import Path
from types import SimpleNamespace

import axe_playwright_python
import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from console.accounts.services import email_address_verify
from oauthapps.services import oauth_app_add_to_org, oauth_app_create
from orgs import services as org_services
from orgs.models import AuditEvent, Membership, OrganizationService, Service
from tests.browser.conftest import ARTIFACTS, sign_in
from tests.factories import PASSWORD, MembershipFactory, OrganizationFactory
from tests.tokens.assertions import key_pair

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

AXE_SOURCE = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()
PHONE = {"width": 390, "height": 844}
TABLET = {"width": 768, "height": 1024}
DESKTOP = {"width": 1280, "height": 860}
WIDE = {"width": 1440, "height": 900}
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"],
    },
    "resultTypes": ["violations"],
}


@pytest.fixture
def screenshot(request):
    """Where this test's phone-size screenshots go (test-artifacts/screenshots/<test>/)."""
    folder = ARTIFACTS / request.node.name
    folder.mkdir(parents=True, exist_ok=True)
    return SimpleNamespace(folder=folder)


@pytest.fixture
def world(db):
    """An org whose Owner (also staff) has an app added to it, one from a partner, members,
    services, audit events and notifications: something on every page."""
    owner = User.objects.create_user(
        username="phone@example.com",
        email="phone@example.com",
        password=PASSWORD,
        is_staff=True,
        is_superuser=True,
    )
    email_address_verify(user=owner)  # sign-in asks for a confirmed address
    org = org_services.org_create(name="Pocket Corp", created_by=owner)
    compute = Service.objects.get(slug="compute")
    OrganizationService.objects.create(organization=org, service=compute)
    for n in range(3):
        MembershipFactory(organization=org, user__email=f"teammate{n}@example.com")
    app, _ = oauth_app_create(
        organization=org,
        created_by=owner,
        name="Invoice Exporter",
        description="Sends invoices to the ledger every night.",
        access_token_ttl_minutes=30,
        scopes=["org:member", "svc:compute:viewer", "svc:billing:viewer"],
    )
    oauth_app_add_to_org(app=app, org=org, added_by=owner)
    partner = OrganizationFactory(name="Partner Corp")
    MembershipFactory(organization=partner, user=owner, role=Membership.Role.OWNER)
    theirs, _ = oauth_app_create(
        organization=partner,
        created_by=owner,
        name="Partner Sync",
        access_token_ttl_minutes=60,
        scopes=["org:member"],
    )
    oauth_app_add_to_org(app=theirs, org=org, added_by=owner)
    keyed, _ = oauth_app_create(
        organization=org,
        created_by=owner,
        name="Key Signer",
        access_token_ttl_minutes=30,
        scopes=["org:member"],
        client_auth="private_key_jwt",
        public_keys=key_pair("RS256").records() + key_pair("ES256").records(),
    )
    AuditEvent.objects.create(
        organization=org, action="app.edit", actor=owner, actor_label=owner.email
    )
    return {"owner": owner, "org": org, "app": app, "theirs": theirs, "keyed": keyed}


def signed_in_context(browser, live_server, user: User, **options):
    context = browser.new_context(base_url=live_server.url, **options)
    context.add_init_script(AXE_SOURCE)
    context.set_default_timeout(15_000)
    sign_in(context.new_page(), user.email, PASSWORD)
    return context


def serious_violations(page) -> list[str]:
    result = page.evaluate("options => axe.run(document, options)", AXE_OPTIONS)
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


WIDEST = """limit => Array.from(document.querySelectorAll("body *"))
  .filter(el => el.getBoundingClientRect().right > limit + 1 && el.children.length === 0)
  .slice(0, 3).map(el => el.tagName.toLowerCase() + "." + el.className)"""


SIGN_OUT_BOX = """() => {
  const menu = document.querySelector("details.menu");
  menu.open = true;
  const button = [...menu.querySelectorAll("button")].find(b => b.textContent.trim() === "Sign out");
  const box = button && button.getBoundingClientRect().toJSON();
  menu.open = false;
  return box;
}"""


def too_wide(page, name: str, limit: int) -> str:
    """Why the page is wider than `limit`: its widest leaf elements, for the failure message."""
    return (
        f"{name}: {width(page)} px wide at {limit} px ({page.evaluate(WIDEST, limit)})"
    )


def check_phone_tablet_desktop(
    page, name: str, screenshot, problems: list[str]
) -> None:
    """The page as loaded at phone size: width, Sign out, screenshot, axe; then tablet, desktop."""
    page.set_viewport_size(PHONE)
    if width(page) > PHONE["width"]:
        problems.append(too_wide(page, name, PHONE["width"]))
    page.screenshot(path=str(screenshot.folder / f"{name}.png"))
    problems += [f"{name} (phone): {v}" for v in serious_violations(page)]
    if page.locator("details.menu").count():
        # Open the menu as a tap would, and see where Sign out lands (one round trip).
        box = page.evaluate(SIGN_OUT_BOX)
        if (
            not box
            or box["width"] == 0
            or box["left"] < 0
            or box["right"] > PHONE["width"]
        ):
            problems.append(f"{name}: Sign out is not reachable from the menu: {box}")
    page.set_viewport_size(TABLET)
    if width(page) > TABLET["width"]:
        problems.append(too_wide(page, name, TABLET["width"]))
    page.set_viewport_size(DESKTOP)
    problems += [f"{name} (desktop): {v}" for v in serious_violations(page)]


def console_pages(world) -> list[tuple[str, str]]:
    org, app, theirs, keyed = (
        world["org"],
        world["app"],
        world["theirs"],
        world["keyed"],
    )
    base = f"/orgs/{org.pk}"
    return [
        ("overview", f"{base}/"),
        ("members", f"{base}/members/"),
        ("services", f"{base}/services/"),
        ("apps", f"{base}/oauth-apps/"),
        ("apps-no-match", f"{base}/oauth-apps/?q=nothing-matches&page=abc"),
        ("app-page", f"{base}/oauth-apps/{app.pk}/"),
        ("app-page-added", f"{base}/oauth-apps/{theirs.pk}/"),
        ("app-edit", f"{base}/oauth-apps/{app.pk}/edit/"),
        ("app-delete", f"{base}/oauth-apps/{app.pk}/delete/"),
        ("app-regenerate", f"{base}/oauth-apps/{app.pk}/regenerate-secret/"),
        ("app-rotate", f"{base}/oauth-apps/{app.pk}/rotate-secret/"),
        ("app-add-to-orgs", f"{base}/oauth-apps/{app.pk}/add-to-organizations/"),
        ("app-remove", f"{base}/oauth-apps/{theirs.pk}/remove-from-organization/"),
        ("add-by-client-id", f"{base}/oauth-apps/add-by-client-id/"),
        ("app-page-keys", f"{base}/oauth-apps/{keyed.pk}/"),
        ("app-add-key", f"{base}/oauth-apps/{keyed.pk}/public-keys/add/"),
        (
            "app-remove-key",
            f"{base}/oauth-apps/{keyed.pk}/public-keys/remove/"
            f"?thumbprint={keyed.public_keys[0]['thumbprint']}",
        ),
        ("audit-log", f"{base}/audit-log/"),
        ("notifications", "/notifications/"),
        ("org-create", "/orgs/new/"),
    ]


@pytest.mark.parametrize("half", [0, 1])
def test_every_console_page_fits_a_phone_and_passes_axe(
    browser, live_server, world, screenshot, half
):
    context = signed_in_context(browser, live_server, world["owner"], viewport=PHONE)
    page = context.new_page()
    problems: list[str] = []
    for name, url in console_pages(world)[half::2]:
        page.goto(url)
        check_phone_tablet_desktop(page, name, screenshot, problems)
    if half == 1:
        walk_the_wizard(page, world, screenshot, problems)
    else:
        check_signed_out_and_admin_pages(browser, live_server, world, page, problems)
    context.close()
    assert not problems, "\n".join(problems)


def walk_the_wizard(page, world, screenshot, problems: list[str]) -> None:
    """Each step of Create New OAuth App at phone size, the error summary taking focus, the
    credentials dialog fitting the screen, and the optional last step."""
    org = world["org"]
    page.set_viewport_size(PHONE)
    page.goto(f"/orgs/{org.pk}/oauth-apps/new/")
    check_phone_tablet_desktop(page, "wizard-1-type", screenshot, problems)
    page.set_viewport_size(PHONE)
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Register")).to_be_visible()
    page.get_by_role("button", name="Next").click()  # no name: an error
    expect(page.locator("[data-error-summary]")).to_be_focused()
    check_phone_tablet_desktop(page, "wizard-2-register-error", screenshot, problems)
    page.set_viewport_size(PHONE)
    name = page.get_by_label("Name")
    assert name.get_attribute("aria-invalid") == "true"
    error_id = name.get_attribute("aria-describedby").split()[-1]
    assert error_id.endswith("_error") and page.locator(f"#{error_id}").is_visible()
    name.fill("Phone Made App")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Access Token TTL")).to_be_visible()
    check_phone_tablet_desktop(page, "wizard-3-ttl", screenshot, problems)
    page.set_viewport_size(PHONE)
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Define scopes")).to_be_visible()
    check_phone_tablet_desktop(page, "wizard-4-scopes", screenshot, problems)
    page.set_viewport_size(PHONE)
    page.locator("input[value='org:member']").check()
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Review and create")).to_be_visible()
    check_phone_tablet_desktop(page, "wizard-5-review", screenshot, problems)
    page.set_viewport_size(PHONE)
    page.get_by_role("button", name="Create").click()
    dialog = page.get_by_role("dialog", name="OAuth app created")
    expect(dialog).to_be_visible()
    box = dialog.bounding_box()
    if box["x"] < 0 or box["x"] + box["width"] > PHONE["width"]:
        problems.append(f"credentials dialog does not fit the phone: {box}")
    if width(page) > PHONE["width"]:
        problems.append(f"wizard-created: {width(page)} px wide")
    page.screenshot(path=str(screenshot.folder / "wizard-6-credentials.png"))
    problems += [f"credentials dialog: {v}" for v in serious_violations(page)]
    page.once("dialog", lambda d: d.accept())
    dialog.get_by_role("link", name="Continue").click()
    expect(
        page.get_by_role("heading", level=1, name="Add to organization")
    ).to_be_visible()
    check_phone_tablet_desktop(page, "wizard-7-add-to-org", screenshot, problems)


def check_signed_out_and_admin_pages(browser, live_server, world, page, problems):
    """Admin changelists fit 1440 px and show no secret hash; sign-in pages fit a phone."""
    app = world["app"]
    page.set_viewport_size(WIDE)
    for name, url in [
        ("admin-apps", "/admin/oauthapps/oauthapp/"),
        ("admin-app", f"/admin/oauthapps/oauthapp/{app.pk}/change/"),
        ("admin-tokens", "/admin/tokens/issuedtoken/"),
        ("admin-memberships", "/admin/orgs/membership/"),
        ("admin-audit", "/admin/orgs/auditevent/"),
    ]:
        page.goto(url)
        expect(page.locator("#site-name")).to_contain_text("Cloud Services Console")
        if width(page) > WIDE["width"]:
            problems.append(f"{name}: {width(page)} px wide at 1440")
        html = page.content()
        if "console_secret_sha256" in html or app.client_secret in html:
            problems.append(f"{name}: shows the client secret's hash")
    signed_out = browser.new_context(base_url=live_server.url, viewport=PHONE)
    signed_out.add_init_script(AXE_SOURCE)
    anonymous = signed_out.new_page()
    for name, url in [
        ("sign-in", "/accounts/login/"),
        ("sign-up", "/accounts/signup/"),
    ]:
        anonymous.goto(url)
        if width(anonymous) > PHONE["width"]:
            problems.append(f"{name}: {width(anonymous)} px wide")
        problems += [f"{name}: {v}" for v in serious_violations(anonymous)]
    signed_out.close()
