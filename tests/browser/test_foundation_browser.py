"""A newcomer's first minutes: sign up, confirm the email, create an org, add a service, create a
second org, switch."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from orgs.models import Membership, Organization
from tests.accounts.conftest import link_in
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD, MembershipFactory, UserFactory

# serialized_rollback reloads the service catalog (a data migration) that transactional tests flush.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def create_org(page, name: str) -> Organization:
    page.get_by_label("Organization name").fill(name)
    page.get_by_role("button", name="Create organization").click()
    expect(page.get_by_role("heading", level=1, name=name)).to_be_visible()
    return Organization.objects.get(name=name)


def test_sign_up_create_orgs_add_a_service_and_switch(page, screenshot):
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Email").fill("newcomer@example.com")
    page.get_by_label("Password").fill("a-long-enough-passphrase")
    screenshot(page, "signup")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    (message,) = mail.outbox
    page.goto(link_in(message, "/accounts/confirm-email/"))
    page.get_by_role("button", name="Confirm").click()

    expect(
        page.get_by_role("heading", name="Create your first organization")
    ).to_be_visible()
    screenshot(page, "first-org")
    first = create_org(page, "Browser Co")
    expect(
        page.get_by_text("Organization Browser Co created. You are its Owner.")
    ).to_be_visible()
    expect(page.get_by_text("Your role: Owner")).to_be_visible()
    screenshot(page, "overview")

    page.get_by_role("navigation", name="Organization").get_by_role(
        "link", name="Services"
    ).click()
    compute = page.locator("tr[data-service=compute]")
    compute.get_by_role("button", name="Add service").click()
    expect(page.get_by_text("Compute added to Browser Co.")).to_be_visible()
    expect(compute.get_by_text("In this organization")).to_be_visible()
    screenshot(page, "services")

    page.get_by_role("navigation", name="Organization").get_by_role(
        "link", name="Members"
    ).click()
    expect(page.locator("tr[data-member='newcomer@example.com']")).to_contain_text(
        "you"
    )
    screenshot(page, "members")

    page.locator("details.menu summary").click()
    page.get_by_role("link", name="Create organization").click()
    expect(page.get_by_role("heading", name="Create an organization")).to_be_visible()
    second = create_org(page, "Second Co")
    switcher = page.get_by_label("Active organization")
    expect(switcher).to_have_value(str(second.pk))
    expect(
        page.get_by_role("button", name="Switch")
    ).to_be_hidden()  # JS submits on change

    switcher.select_option(label="Browser Co")
    page.wait_for_url(f"**/orgs/{first.pk}/")
    expect(page.get_by_role("heading", level=1, name="Browser Co")).to_be_visible()
    expect(switcher).to_have_value(str(first.pk))
    screenshot(page, "switched")

    page.reload()
    expect(page.get_by_label("Active organization")).to_have_value(str(first.pk))
    page.goto("/")
    page.wait_for_url(f"**/orgs/{first.pk}/")
    assert set(
        Membership.objects.filter(user__email="newcomer@example.com").values_list(
            "organization__name", "role"
        )
    ) == {("Browser Co", "owner"), ("Second Co", "owner")}


def test_switcher_works_without_javascript(page_without_js, screenshot):
    user = UserFactory(email="nojs@example.com")
    first = MembershipFactory(
        user=user, role="owner", organization__name="Alpha"
    ).organization
    second = MembershipFactory(
        user=user, role="member", organization__name="Beta"
    ).organization
    page = page_without_js
    sign_in(page, user.email, PASSWORD)
    page.wait_for_url(f"**/orgs/{first.pk}/")
    page.get_by_label("Active organization").select_option(label="Beta")
    page.get_by_role("button", name="Switch").click()
    page.wait_for_url(f"**/orgs/{second.pk}/")
    expect(page.get_by_role("heading", level=1, name="Beta")).to_be_visible()
    screenshot(page, "switched-without-js")


def test_removing_a_member_asks_for_confirmation(page, screenshot):
    owner = MembershipFactory(user__email="boss@example.com", role="owner")
    org = owner.organization
    MembershipFactory(organization=org, user__email="leaving@example.com")
    sign_in(page, "boss@example.com", PASSWORD)
    page.goto(f"/orgs/{org.pk}/members/")
    row = page.locator("tr[data-member='leaving@example.com']")
    row.get_by_role("button", name="Remove").click()
    dialog = page.get_by_role("dialog", name="Remove leaving@example.com?")
    expect(dialog).to_be_visible()
    screenshot(page, "confirm-remove")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert Membership.objects.filter(user__email="leaving@example.com").exists()

    row.get_by_role("button", name="Remove").click()
    dialog.get_by_role("button", name="Remove member").click()
    expect(page.get_by_text("leaving@example.com removed from")).to_be_visible()
    assert not Membership.objects.filter(user__email="leaving@example.com").exists()


def test_notification_center_from_the_bell(page, screenshot):
    from orgs import services

    owner = MembershipFactory(user__email="bell@example.com", role="owner")
    org = owner.organization
    services.notification_send(
        user=owner.user,
        org=org,
        title="App X was added to your organization",
        body="It asks for services the organization does not contain.",
        level="warning",
        link=f"/orgs/{org.pk}/services/",
    )
    services.notification_send(user=owner.user, title="Welcome")
    sign_in(page, "bell@example.com", PASSWORD)
    expect(page.get_by_test_id("unread-count")).to_have_text("2")
    page.get_by_role("link", name=re.compile("Notifications, 2 unread")).click()
    screenshot(page, "notifications")
    page.get_by_role("button", name="Open").click()
    page.wait_for_url(f"**/orgs/{org.pk}/services/")
    expect(page.get_by_test_id("unread-count")).to_have_text("1")
    page.get_by_role("link", name=re.compile("Notifications")).click()
    page.get_by_role("button", name="Mark all as read").click()
    expect(page.get_by_text("Marked 1 notification as read.")).to_be_visible()
    expect(page.get_by_test_id("unread-count")).to_have_count(0)
