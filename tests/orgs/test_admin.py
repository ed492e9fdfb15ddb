import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from orgs import services
from orgs.models import (
    AuditEvent,
    Membership,
    Notification,
    Organization,
    OrganizationService,
    Service,
)
from tests.factories import (
    MembershipFactory,
    NotificationFactory,
    OrganizationFactory,
    UserFactory,
)


@pytest.fixture
def staff(db) -> User:
    return UserFactory(email="staff@example.com", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(client_as, staff):
    return client_as(staff)


@pytest.fixture
def populated(org, owner, member):
    compute = Service.objects.get(slug="compute")
    services.organization_service_add(org=org, service=compute, added_by=owner)
    services.notification_send(user=member, title="Welcome aboard", org=org)
    return org


CHANGELISTS = [
    "admin:orgs_organization_changelist",
    "admin:orgs_membership_changelist",
    "admin:auth_user_changelist",
    "admin:orgs_service_changelist",
    "admin:orgs_notification_changelist",
    "admin:orgs_auditevent_changelist",
]


@pytest.mark.parametrize("url_name", CHANGELISTS)
def test_staff_sees_every_changelist(admin_client, populated, url_name):
    response = admin_client.get(reverse(url_name))
    assert response.status_code == 200


@pytest.mark.parametrize("url_name", CHANGELISTS)
def test_people_without_staff_status_are_sent_to_the_admin_login(
    client_as, owner, url_name
):
    response = client_as(owner).get(reverse(url_name))
    assert response.status_code == 302
    assert reverse("admin:login") in response.url


def test_organization_page_shows_members_and_services_inline(
    admin_client, populated, owner, member
):
    response = admin_client.get(
        reverse("admin:orgs_organization_change", args=[populated.pk])
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Memberships" in html
    assert "Organization services" in html
    assert str(owner.pk) in html and str(member.pk) in html
    assert 'value="owner" selected' in html


def test_user_page_shows_their_memberships(admin_client, populated, owner):
    response = admin_client.get(reverse("admin:auth_user_change", args=[owner.pk]))
    assert response.status_code == 200
    assert "Organization memberships" in response.content.decode()
    assert str(populated.pk) in response.content.decode()


def test_service_page_shows_its_roles_inline(admin_client, db):
    compute = Service.objects.get(slug="compute")
    response = admin_client.get(reverse("admin:orgs_service_change", args=[compute.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    for scope in ("svc:compute:viewer", "svc:compute:operator", "svc:compute:admin"):
        assert scope in html


def test_notification_and_membership_change_pages_open(admin_client, populated, member):
    notification = Notification.objects.get(user=member)
    membership = Membership.objects.get(user=member)
    for url in (
        reverse("admin:orgs_notification_change", args=[notification.pk]),
        reverse("admin:orgs_membership_change", args=[membership.pk]),
    ):
        assert admin_client.get(url).status_code == 200


@pytest.mark.parametrize(
    ("url_name", "query", "found", "not_found"),
    [
        (
            "admin:orgs_organization_changelist",
            "member@example",
            "Acme Corp",
            "Other Org",
        ),
        (
            "admin:auth_user_changelist",
            "owner@",
            "owner@example.com",
            "member@example.com",
        ),
        ("admin:orgs_service_changelist", "storage", "Object Storage", "Networking"),
        (
            "admin:orgs_notification_changelist",
            "Welcome",
            "Welcome aboard",
            "Unrelated",
        ),
        ("admin:orgs_auditevent_changelist", "service.add", "Compute", "member.add"),
    ],
)
def test_admin_search_finds_the_right_rows(
    admin_client, populated, url_name, query, found, not_found
):
    OrganizationFactory(name="Other Org")
    NotificationFactory(title="Unrelated")
    response = admin_client.get(reverse(url_name), {"q": query})
    html = response.content.decode()
    assert response.status_code == 200
    # The results table (the filter sidebar lists every action there is, found or not).
    results = html[html.index('id="result_list"') :]
    assert found in results
    assert not_found not in results


def test_admin_filters_memberships_by_role(admin_client, populated):
    response = admin_client.get(
        reverse("admin:orgs_membership_changelist"), {"role__exact": "owner"}
    )
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == list(
        Membership.objects.filter(role="owner")
    )


def test_audit_events_are_read_only(admin_client, populated):
    event = AuditEvent.objects.filter(action="service.add").get()
    assert admin_client.get(reverse("admin:orgs_auditevent_add")).status_code == 403
    change_url = reverse("admin:orgs_auditevent_change", args=[event.pk])
    response = admin_client.get(change_url)
    assert response.status_code == 200
    assert b'name="action"' not in response.content  # shown, not editable
    assert admin_client.post(change_url, {"action": "forged"}).status_code == 403
    delete_url = reverse("admin:orgs_auditevent_delete", args=[event.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    event.refresh_from_db()
    assert event.action == "service.add"


def _org_form_data(org: Organization, rows: list[dict]) -> dict:
    data = {
        "name": org.name,
        "memberships-TOTAL_FORMS": str(len(rows)),
        "memberships-INITIAL_FORMS": str(len(rows)),
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        "service_links-TOTAL_FORMS": "0",
        "service_links-INITIAL_FORMS": "0",
        "service_links-MIN_NUM_FORMS": "0",
        "service_links-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        for key, value in row.items():
            data[f"memberships-{index}-{key}"] = value
    return data


def test_admin_cannot_leave_an_organization_without_an_owner(
    admin_client, org, owner, member
):
    rows = [
        {
            "id": str(membership.pk),
            "organization": str(org.pk),
            "user": str(membership.user_id),
            "role": "member",
        }
        for membership in Membership.objects.filter(organization=org).order_by("pk")
    ]
    response = admin_client.post(
        reverse("admin:orgs_organization_change", args=[org.pk]),
        _org_form_data(org, rows),
    )
    assert response.status_code == 200
    assert "must keep at least one Owner" in response.content.decode()
    assert Membership.objects.get(user=owner).role == Membership.Role.OWNER

    rows[1]["role"] = "owner"  # promoting someone else first is fine
    response = admin_client.post(
        reverse("admin:orgs_organization_change", args=[org.pk]),
        _org_form_data(org, rows),
    )
    assert response.status_code == 302
    assert Membership.objects.get(user=member).role == Membership.Role.OWNER


def test_staff_see_and_lift_an_organizations_mfa_requirement(
    admin_client, org, owner, member
):
    """E.g. for an organization whose only Owner lost their authenticator app."""
    Organization.objects.filter(pk=org.pk).update(require_mfa=True)
    listed = admin_client.get(
        reverse("admin:orgs_organization_changelist"), {"require_mfa__exact": "1"}
    )
    assert org.name in listed.content.decode()
    rows = [
        {
            "id": str(membership.pk),
            "organization": str(org.pk),
            "user": str(membership.user_id),
            "role": membership.role,
        }
        for membership in Membership.objects.filter(organization=org).order_by("pk")
    ]
    response = admin_client.post(
        reverse("admin:orgs_organization_change", args=[org.pk]),
        _org_form_data(org, rows),  # the box left unticked
    )
    assert response.status_code == 302
    org.refresh_from_db()
    assert not org.require_mfa


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:orgs_organization_changelist",
        "admin:orgs_membership_changelist",
        "admin:auth_user_changelist",
        "admin:orgs_notification_changelist",
        "admin:orgs_auditevent_changelist",
    ],
)
def test_admin_changelists_do_not_query_per_row(
    admin_client, db, django_assert_max_num_queries, url_name
):
    compute = Service.objects.get(slug="compute")
    for _ in range(40):
        membership = MembershipFactory(role=Membership.Role.OWNER)
        OrganizationService.objects.create(
            organization=membership.organization, service=compute
        )
        NotificationFactory(user=membership.user, organization=membership.organization)
        services.audit_record(
            org=membership.organization,
            actor=membership.user,
            action="org.create",
            target=membership.organization,
        )
    with django_assert_max_num_queries(12):
        response = admin_client.get(reverse(url_name))
    assert response.status_code == 200
