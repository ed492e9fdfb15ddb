import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_owner_signs_in_and_sees_the_org(page, org, owner, screenshot):
    sign_in(page, owner.email, PASSWORD)
    page.wait_for_url(f"**/orgs/{org.pk}/")
    expect(page.get_by_role("heading", name="Acme Corp")).to_be_visible()
    screenshot(page, "overview")
