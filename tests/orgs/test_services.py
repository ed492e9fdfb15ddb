import pytest
from django.core.exceptions import ValidationError

from orgs import services
from orgs.models import (
    AuditEvent,
    Membership,
    Notification,
    Organization,
    OrganizationService,
    Service,
)
from orgs.permissions import assignable_roles, can_assign_role, can_manage_member
from tests.factories import MembershipFactory, UserFactory

Role = Membership.Role


def membership(user, org) -> Membership:
    return Membership.objects.select_related("user", "organization").get(
        user=user, organization=org
    )


# Organizations


def test_org_create_makes_the_creator_its_only_owner(db):
    user = UserFactory()
    org = services.org_create(name="  Initech  ", created_by=user)
    assert org.name == "Initech"
    assert list(org.memberships.values_list("user", "role")) == [(user.pk, Role.OWNER)]
    assert AuditEvent.objects.filter(organization=org, action="org.create").exists()


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_org_create_rejects_bad_names_and_creates_nothing(db, name):
    user = UserFactory()
    with pytest.raises(ValidationError):
        services.org_create(name=name, created_by=user)
    assert not Organization.objects.exists()
    assert not Membership.objects.exists()


# Last-owner protection


def test_last_owner_cannot_be_demoted(org, owner):
    target = membership(owner, org)
    with pytest.raises(ValidationError, match="last Owner of Acme Corp"):
        services.membership_change(
            membership=target, role=Role.ADMIN, is_developer=False, changed_by=owner
        )
    assert membership(owner, org).role == Role.OWNER
    assert not AuditEvent.objects.filter(action="member.change").exists()


def test_last_owner_cannot_be_removed(org, owner, member):
    with pytest.raises(ValidationError, match="must keep at least one Owner"):
        services.membership_remove(membership=membership(owner, org), removed_by=owner)
    assert Membership.objects.filter(user=owner, organization=org).exists()
    assert not AuditEvent.objects.filter(action="member.remove").exists()


def test_an_owner_can_step_down_once_another_owner_exists(org, owner, member):
    services.membership_change(
        membership=membership(member, org),
        role=Role.OWNER,
        is_developer=False,
        changed_by=owner,
    )
    services.membership_change(
        membership=membership(owner, org),
        role=Role.MEMBER,
        is_developer=True,
        changed_by=owner,
    )
    assert membership(owner, org).role == Role.MEMBER
    assert membership(owner, org).is_developer
    services.membership_remove(membership=membership(owner, org), removed_by=owner)
    assert list(org.memberships.values_list("role", flat=True)) == [Role.OWNER]


def test_changing_only_the_developer_flag_of_the_last_owner_is_fine(org, owner):
    services.membership_change(
        membership=membership(owner, org),
        role=Role.OWNER,
        is_developer=True,
        changed_by=owner,
    )
    assert membership(owner, org).is_developer


def test_role_change_is_audited_with_before_and_after(org, owner, member):
    services.membership_change(
        membership=membership(member, org),
        role=Role.ADMIN,
        is_developer=True,
        changed_by=owner,
    )
    event = AuditEvent.objects.get(action="member.change")
    assert event.actor == owner
    assert event.target_label == member.email
    assert event.data == {
        "before": {"role": "member", "is_developer": False},
        "after": {"role": "admin", "is_developer": True},
    }


def test_invalid_role_is_rejected(org, owner, member):
    with pytest.raises(ValidationError):
        services.membership_change(
            membership=membership(member, org),
            role="emperor",
            is_developer=False,
            changed_by=owner,
        )
    assert membership(member, org).role == Role.MEMBER


# Who manages whom (the permissions module)


def test_administrators_manage_non_owners_only(org, owner, administrator, member):
    admin_membership = membership(administrator, org)
    assert can_manage_member(admin_membership, membership(member, org))
    assert can_manage_member(admin_membership, admin_membership)
    assert not can_manage_member(admin_membership, membership(owner, org))


def test_members_manage_nobody(org, owner, member, developer):
    member_membership = membership(member, org)
    for target in (owner, developer, member):
        assert not can_manage_member(member_membership, membership(target, org))


def test_only_owners_make_owners(org, owner, administrator, member):
    assert can_assign_role(membership(owner, org), Role.OWNER)
    assert not can_assign_role(membership(administrator, org), Role.OWNER)
    assert can_assign_role(membership(administrator, org), Role.ADMIN)
    assert not can_assign_role(membership(member, org), Role.MEMBER)
    assert [value for value, _ in assignable_roles(membership(owner, org))] == [
        "owner",
        "admin",
        "member",
    ]
    assert [value for value, _ in assignable_roles(membership(administrator, org))] == [
        "admin",
        "member",
    ]
    assert assignable_roles(membership(member, org)) == []


# Adding members (what an accepted invitation does; inviting is in tests/accounts/)


def test_add_member_gives_the_role_and_flag_and_is_audited(org, owner):
    person = UserFactory(email="dana@example.com")
    added = services.membership_add(
        org=org, user=person, role=Role.ADMIN, is_developer=True, added_by=owner
    )
    assert (added.user, added.role, added.is_developer) == (person, Role.ADMIN, True)
    event = AuditEvent.objects.get(action="member.add")
    assert event.data == {"role": "admin", "is_developer": True}
    assert event.actor == owner


def test_add_existing_member_twice_is_refused(org, owner, member):
    with pytest.raises(ValidationError) as excinfo:
        services.membership_add(
            org=org, user=member, role=Role.ADMIN, is_developer=False, added_by=owner
        )
    assert excinfo.value.message_dict == {
        "email": ["member@example.com is already a member of Acme Corp."]
    }
    assert membership(member, org).role == Role.MEMBER


def test_add_with_invalid_role_creates_nothing(org, owner):
    person = UserFactory()
    with pytest.raises(ValidationError):
        services.membership_add(
            org=org, user=person, role="root", is_developer=False, added_by=owner
        )
    assert not Membership.objects.filter(user=person).exists()
    assert not AuditEvent.objects.filter(action="member.add").exists()


# Services of an organization


def test_add_and_remove_a_service_is_idempotent_and_audited(org, owner):
    compute = Service.objects.get(slug="compute")
    services.organization_service_add(org=org, service=compute, added_by=owner)
    services.organization_service_add(org=org, service=compute, added_by=owner)
    assert list(org.services.all()) == [compute]
    services.organization_service_remove(org=org, service=compute, removed_by=owner)
    services.organization_service_remove(org=org, service=compute, removed_by=owner)
    assert not OrganizationService.objects.exists()
    assert list(AuditEvent.objects.order_by("id").values_list("action", flat=True)) == [
        "service.add",
        "service.remove",
    ]


def test_catalog_ships_five_services_with_two_to_four_roles(db):
    catalog = Service.objects.prefetch_related("roles")
    assert catalog.count() >= 5
    for service in catalog:
        assert 2 <= len(service.roles.all()) <= 4, service.slug
        assert "viewer" in {role.slug for role in service.roles.all()}


# Notifications


def test_notification_send_and_read(db):
    user = UserFactory()
    notification = services.notification_send(
        user=user, title="Hello", link="/notifications/"
    )
    assert not notification.is_read
    services.notification_mark_read(notification=notification)
    first_read = notification.read_at
    services.notification_mark_read(notification=notification)
    assert notification.read_at == first_read is not None


@pytest.mark.parametrize(
    "link",
    [
        "https://evil.example/",
        "//evil.example/path",
        "/\\evil.example",
        "javascript:alert(1)",
        "relative/path",
    ],
)
def test_notification_links_must_be_console_paths(db, link):
    user = UserFactory()
    with pytest.raises(ValidationError, match="console path"):
        services.notification_send(user=user, title="Hi", link=link)
    assert not Notification.objects.exists()


def test_notification_with_unknown_level_is_refused(db):
    with pytest.raises(ValidationError):
        services.notification_send(user=UserFactory(), title="Hi", level="panic")


def test_mark_all_read_touches_only_that_users_unread_notifications(db):
    alice, bob = UserFactory(), UserFactory()
    for _ in range(3):
        services.notification_send(user=alice, title="For Alice")
    services.notification_send(user=bob, title="For Bob")
    assert services.notifications_mark_all_read(user=alice) == 3
    assert services.notifications_mark_all_read(user=alice) == 0
    assert Notification.objects.get(user=bob).read_at is None


def test_an_org_of_another_owner_is_untouched_by_removals_elsewhere(org, owner):
    other = MembershipFactory(role=Role.OWNER)
    MembershipFactory(organization=other.organization, user=owner)
    services.membership_remove(
        membership=membership(owner, other.organization), removed_by=other.user
    )
    assert membership(owner, org).role == Role.OWNER
