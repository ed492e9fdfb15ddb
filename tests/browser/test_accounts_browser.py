"""Accounts as people meet them in Chromium: signing up (without JavaScript too), invitations
(with and without JavaScript), a forgotten password, and an organization that requires MFA (its
Owner sets up an authenticator app, signs out and signs in with a code). Links come from the
captured email; codes from pyotp."""

import re

import pyotp
import pytest
from django.core import mail
from playwright.sync_api import expect

from orgs.models import Membership, Organization
from tests.accounts.conftest import link_in, valid_codes
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD, MembershipFactory, UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

NEW_PASSWORD = "a-long-enough-passphrase"


def test_sign_up_confirm_and_create_an_org_without_javascript(page_without_js):
    page = page_without_js
    page.goto("/accounts/signup/")
    page.get_by_label("Email").fill("nojs-newcomer@example.com")
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    (message,) = mail.outbox
    page.goto(link_in(message, "/accounts/confirm-email/"))
    page.get_by_role("button", name="Confirm").click()
    page.get_by_label("Organization name").fill("No Script Co")
    page.get_by_role("button", name="Create organization").click()
    expect(page.get_by_role("heading", level=1, name="No Script Co")).to_be_visible()
    assert (
        Membership.objects.get(user__email="nojs-newcomer@example.com").role == "owner"
    )


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_invite_a_new_address_who_accepts_and_is_listed(
    browser, live_server, javascript
):
    owner = MembershipFactory(user__email="inviter@example.com", role="owner")
    org = owner.organization

    def context():
        made = browser.new_context(
            base_url=live_server.url, java_script_enabled=javascript
        )
        made.set_default_timeout(15_000)
        return made

    inviter_context, invitee_context = context(), context()
    inviter = inviter_context.new_page()
    sign_in(inviter, "inviter@example.com", PASSWORD)
    inviter.goto(f"/orgs/{org.pk}/members/")
    form = inviter.locator("form.member-add-form")
    form.get_by_label("Email address").fill("invitee@example.com")
    form.get_by_label("Role").select_option(label="Administrator")
    form.get_by_label("Developer").check()
    form.get_by_role("button", name="Send invitation").click()
    expect(
        inviter.get_by_text("Invitation sent to invitee@example.com.")
    ).to_be_visible()
    expect(
        inviter.locator("tr[data-invitation='invitee@example.com']")
    ).to_contain_text("Pending")

    (message,) = mail.outbox
    invitee = invitee_context.new_page()
    invitee.goto(link_in(message, "/invitations/"))
    expect(invitee.get_by_role("heading", name=f"Join {org.name}")).to_be_visible()
    invitee.get_by_role("link", name="Create an account").click()
    expect(invitee.get_by_label("Email")).to_have_value("invitee@example.com")
    invitee.get_by_label("Password").fill(NEW_PASSWORD)
    invitee.get_by_role("button", name="Create account").click()
    invitee.get_by_role("button", name="Accept invitation").click()
    expect(invitee.get_by_text("You joined as Administrator")).to_be_visible()

    inviter.reload()
    row = inviter.locator("tr[data-member='invitee@example.com']")
    expect(row.get_by_label("Role of invitee@example.com")).to_have_value("admin")
    expect(inviter.locator("tr[data-invitation]")).to_have_count(0)

    # Revoking another invitation: through the confirmation dialog with JavaScript, directly
    # without it.
    form.get_by_label("Email address").fill("second@example.com")
    form.get_by_role("button", name="Send invitation").click()
    inviter.locator("tr[data-invitation='second@example.com']").get_by_role(
        "button", name="Revoke"
    ).click()
    if javascript:
        dialog = inviter.get_by_role("dialog", name="Revoke the invitation to")
        dialog.get_by_role("button", name="Revoke invitation").click()
    expect(
        inviter.get_by_text("Invitation to second@example.com revoked.")
    ).to_be_visible()
    expect(inviter.locator("tr[data-invitation]")).to_have_count(0)
    inviter_context.close()
    invitee_context.close()


def test_reset_a_forgotten_password(page):
    UserFactory(email="forgetful@example.com")
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill("forgetful@example.com")
    page.get_by_role("button", name="Send reset link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    (message,) = mail.outbox
    page.goto(link_in(message, "/accounts/password/reset/key/"))
    page.locator("input[name=password1]").fill(NEW_PASSWORD)
    page.get_by_label("New Password (again)").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("heading", name="Password changed")).to_be_visible()
    sign_in(page, "forgetful@example.com", NEW_PASSWORD)
    expect(
        page.get_by_role("heading", name="Create your first organization")
    ).to_be_visible()


def test_an_org_requiring_mfa_sends_its_owner_to_set_up_totp_then_sign_in_with_it(
    page, screenshot
):
    owner = MembershipFactory(user__email="strict@example.com", role="owner")
    Organization.objects.filter(pk=owner.organization_id).update(
        name="Strict Co", require_mfa=True
    )
    sign_in(page, "strict@example.com", PASSWORD)
    expect(
        page.get_by_text("Strict Co requires two-factor authentication")
    ).to_be_visible()
    page.get_by_label("Password").fill(
        PASSWORD
    )  # allauth asks first: "Confirm it's you"
    page.get_by_role("button", name="Confirm").click()
    expect(page).to_have_url(re.compile(r"/accounts/2fa/totp/activate/"))
    totp = pyotp.TOTP(page.get_by_test_id("totp-secret").input_value())
    first, second, _ = valid_codes(totp)
    page.get_by_label("Authenticator code").fill(first)
    screenshot(page, "activate-totp")
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_test_id("recovery-codes").locator("li")).to_have_count(10)
    page.get_by_role("link", name="Continue to the console").click()
    expect(page.get_by_role("heading", level=1, name="Strict Co")).to_be_visible()

    page.locator("details.menu summary").click()
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "strict@example.com", PASSWORD)
    expect(
        page.get_by_role("heading", name="Two-factor authentication")
    ).to_be_visible()
    page.get_by_label("Code").fill(second)  # each code works once: the next step's
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1, name="Strict Co")).to_be_visible()
