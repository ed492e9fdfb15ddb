"""The Members list in a real browser, with JavaScript (htmx: live search swaps only the table
and keeps the address true, Back works) and without it (a plain GET form, links)."""

import re

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from orgs.models import Membership
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD, MembershipFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def org(db):
    """An org with its Owner and 40 members (two pages of 25)."""
    owner = MembershipFactory(
        user__email="lists@example.com", role=Membership.Role.OWNER
    )
    users = User.objects.bulk_create(
        User(username=f"crew{n:02d}@example.com", email=f"crew{n:02d}@example.com")
        for n in range(40)
    )
    Membership.objects.bulk_create(
        Membership(organization=owner.organization, user=user, is_developer=n % 4 == 0)
        for n, user in enumerate(users)
    )
    return owner.organization


def emails(page) -> list[str]:
    return page.locator("tr[data-member]").evaluate_all(
        "rows => rows.map(row => row.dataset.member)"
    )


def test_live_search_sort_and_pages_with_javascript(page, live_server, org):
    sign_in(page, "lists@example.com", PASSWORD)
    members = f"/orgs/{org.pk}/members/"
    page.goto(members)
    expect(page.get_by_test_id("page-status")).to_contain_text(
        "Page 1 of 2 · 41 members"
    )
    marker = page.evaluate(
        "() => (window.fullLoads = 1)"
    )  # gone after a full page load

    # Typing searches as you type (debounced): only the table is swapped, the URL follows.
    with page.expect_response(lambda r: "q=crew1" in r.url) as answer:
        page.get_by_label("Search members").press_sequentially("crew1", delay=20)
    assert answer.value.request.headers.get("hx-request") == "true"
    expect(page).to_have_url(re.compile(r"\?q=crew1"))
    expect(page.locator("tr[data-member]")).to_have_count(10)
    assert page.evaluate("() => window.fullLoads") == marker

    # A filter and a sort header keep the search.
    page.get_by_role("search").get_by_label("Developer").select_option(
        label="Developers"
    )
    expect(page).to_have_url(re.compile(r"q=crew1.*developer=yes"))
    expect(page.locator("tr[data-member]")).to_have_count(2)
    page.get_by_role("link", name="Email", exact=True).click()
    expect(page).to_have_url(re.compile(r"sort=email"))
    page.get_by_role("link", name="Email", exact=True).click()
    expect(page).to_have_url(re.compile(r"sort=-email"))
    assert emails(page) == ["crew16@example.com", "crew12@example.com"]
    assert page.evaluate("() => window.fullLoads") == marker

    # Back walks the same states; the search box keeps what was typed.
    page.go_back()
    expect(page).to_have_url(re.compile(r"sort=email"))
    expect(page.locator("tr[data-member]").first).to_have_attribute(
        "data-member", "crew12@example.com"
    )
    # Clearing: the form empty, every member again, over two pages.
    page.get_by_label("Search members").fill("")
    page.get_by_role("search").get_by_label("Developer").select_option(label="Anyone")
    expect(page.get_by_test_id("page-status")).to_contain_text("41 members")
    page.get_by_role("link", name="Next").click()
    expect(page.get_by_test_id("page-status")).to_contain_text("Page 2 of 2")
    expect(page.locator("tr[data-member]")).to_have_count(16)


def test_search_sort_pages_and_bad_input_without_javascript(
    page_without_js, live_server, org, screenshot
):
    page = page_without_js
    sign_in(page, "lists@example.com", PASSWORD)
    page.goto(f"/orgs/{org.pk}/members/?page=abc&per_page=7&sort=nope")
    expect(page.get_by_test_id("list-notes")).to_contain_text("not a number")
    expect(page.get_by_test_id("list-notes")).to_contain_text("sort order is unknown")
    screenshot(page, "bad-input")
    page.get_by_label("Search members").fill("crew2")
    page.get_by_label("Per page").select_option("50")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"q=crew2.*per_page=50"))
    expect(page.locator("tr[data-member]")).to_have_count(10)
    page.get_by_role("link", name="Member since").click()
    expect(page).to_have_url(re.compile(r"per_page=50.*sort=joined"))
    # The search form carries the sort the table shows.
    page.get_by_label("Search members").fill("crew3")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"q=crew3.*sort=joined"))
    page.get_by_label("Search members").fill("nobody-here")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("No members match")).to_be_visible()
    page.get_by_test_id("clear-filters").click()
    expect(page.get_by_test_id("page-status")).to_contain_text(
        "Page 1 of 2 · 41 members"
    )
    page.get_by_role("link", name="Last").click()
    expect(page.locator("tr[data-member]")).to_have_count(16)
