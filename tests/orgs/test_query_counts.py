"""List pages cost a fixed number of queries however many rows they show (no N+1).

Budget per page: session + user (2), org with membership (1), the shell's switcher and bell (2),
then the page's own selectors (a paginated list: its count, its page's keys, its page's rows). (Opening another org
than the active one adds a session write.)
"""

import pytest
from django.urls import reverse

from orgs.models import Membership, OrganizationService, Service, ServiceRole
from tests.factories import MembershipFactory, NotificationFactory, OrganizationFactory

ROWS = 60


@pytest.fixture
def busy_org(org, owner):
    for n in range(ROWS):
        MembershipFactory(
            organization=org,
            role=[Membership.Role.ADMIN, Membership.Role.MEMBER][n % 2],
            is_developer=n % 3 == 0,
        )
    for n in range(ROWS):
        service = Service.objects.create(slug=f"extra-{n}", name=f"Extra {n}")
        for position, slug in enumerate(["viewer", "operator", "admin"]):
            ServiceRole.objects.create(
                service=service, slug=slug, name=slug, position=position
            )
        if n % 2:
            OrganizationService.objects.create(organization=org, service=service)
    for n in range(ROWS):
        NotificationFactory(
            user=owner, organization=OrganizationFactory(), title=f"N{n}"
        )
    for _ in range(ROWS):
        MembershipFactory(user=owner, role=Membership.Role.MEMBER)  # a long switcher
    return org


@pytest.mark.parametrize(
    ("url_name", "budget"),
    [
        ("orgs:member_list", 9),  # the page's count and keys, the open invitations
        ("orgs:service_list", 8),
        ("orgs:org_overview", 6),
    ],
)
def test_org_list_pages_have_a_fixed_query_budget(
    client_as, busy_org, owner, django_assert_max_num_queries, url_name, budget
):
    client = client_as(owner)
    url = reverse(url_name, args=[busy_org.pk])
    client.get(url)  # makes it the active org
    with django_assert_max_num_queries(budget):
        response = client.get(url)
    assert response.status_code == 200


def test_member_list_shows_every_row_a_page_at_a_time(client_as, busy_org, owner):
    url = reverse("orgs:member_list", args=[busy_org.pk])
    client = client_as(owner)
    assert len(client.get(url).context["rows"]) == 25
    everyone = client.get(url, {"per_page": 100})
    assert len(everyone.context["rows"]) == ROWS + 1
    assert f"{ROWS + 1} members" in everyone.content.decode()


def test_notification_list_has_a_fixed_query_budget(
    client_as, busy_org, owner, django_assert_max_num_queries
):
    client = client_as(owner)
    with django_assert_max_num_queries(7):
        response = client.get(reverse("orgs:notification_list"))
    assert len(response.context["rows"]) == 50


def test_member_changes_do_not_query_per_member(
    client_as, busy_org, owner, django_assert_max_num_queries
):
    target = Membership.objects.filter(organization=busy_org, role="member").first()
    client = client_as(owner)
    client.get(reverse("orgs:org_overview", args=[busy_org.pk]))  # active org set
    # (+1 since changing roles asks whether the actor uses a second factor)
    with django_assert_max_num_queries(15):
        response = client.post(
            reverse("orgs:member_change", args=[busy_org.pk, target.pk]),
            {"role": "admin"},
        )
    assert response.status_code == 302
