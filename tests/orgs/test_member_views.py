import pytest
from django.core import mail
from django.urls import reverse

from console.accounts.models import Invitation
from orgs.models import AuditEvent, Membership
from tests.factories import MembershipFactory, UserFactory

Role = Membership.Role


def membership(user, org) -> Membership:
    return Membership.objects.get(user=user, organization=org)


def members_url(org):
    return reverse("orgs:member_list", args=[org.pk])


def invite_url(org):
    return reverse("accounts:invitation_create", args=[org.pk])


def change_url(org, target):
    return reverse("orgs:member_change", args=[org.pk, target.pk])


def remove_url(org, target):
    return reverse("orgs:member_remove", args=[org.pk, target.pk])


# member_list


def test_members_page_lists_everyone_with_roles_owners_first(
    client_as, org, owner, administrator, developer, member
):
    response = client_as(member).get(members_url(org))
    assert response.status_code == 200
    emails = [m.user.email for m, _ in response.context["rows"]]
    assert emails == [
        "owner@example.com",
        "administrator@example.com",
        "developer@example.com",
        "member@example.com",
    ]
    html = response.content.decode()
    assert "Administrator" in html and "Developer" in html


def test_members_see_the_list_read_only(client_as, org, owner, member):
    html = client_as(member).get(members_url(org)).content.decode()
    assert "Invite a member" not in html
    assert 'name="role"' not in html
    assert "Remove" not in html
    assert "Only Owners and Administrators can change" in html


def test_owner_sees_add_form_and_row_controls(client_as, org, owner, member):
    response = client_as(owner).get(members_url(org))
    html = response.content.decode()
    assert "Invite a member" in html
    assert html.count('name="role"') == 3  # the invite form + one per row
    assert [value for value, _ in response.context["roles"]] == [
        "owner",
        "admin",
        "member",
    ]


def test_administrator_gets_no_controls_on_owner_rows_and_no_owner_role(
    client_as, org, owner, administrator, member
):
    response = client_as(administrator).get(members_url(org))
    rows = {m.user.email: can for m, can in response.context["rows"]}
    assert rows == {
        "owner@example.com": False,
        "administrator@example.com": True,
        "member@example.com": True,
    }
    assert '<option value="owner"' not in response.content.decode()


def test_member_list_rejects_post(client_as, org, owner):
    assert client_as(owner).post(members_url(org)).status_code == 405


def test_member_list_is_404_for_outsiders(client_as, org, owner, outsider):
    assert client_as(outsider).get(members_url(org)).status_code == 404


# invitation_create (adding a member is now inviting them by email: with or without an account)


def test_owner_invites_a_member_by_email(client_as, org, owner):
    UserFactory(email="new@example.com")
    response = client_as(owner).post(
        invite_url(org),
        {"email": "NEW@example.com", "role": "admin", "is_developer": "on"},
        follow=True,
    )
    assert response.redirect_chain == [(members_url(org), 302)]
    assert "Invitation sent to new@example.com." in response.content.decode()
    invitation = Invitation.objects.get()
    assert (invitation.email, invitation.role, invitation.is_developer) == (
        "new@example.com",
        Role.ADMIN,
        True,
    )
    assert [message.to for message in mail.outbox] == [["new@example.com"]]
    # Joining is the invited person's choice: nobody is a member before they accept.
    assert not Membership.objects.filter(user__email="new@example.com").exists()


def test_invite_rejects_get(client_as, org, owner):
    assert client_as(owner).get(invite_url(org)).status_code == 405


def test_invite_is_404_for_outsiders(client_as, org, owner, outsider):
    response = client_as(outsider).post(
        invite_url(org), {"email": "p@example.com", "role": "member"}
    )
    assert response.status_code == 404
    assert not Invitation.objects.exists()


@pytest.mark.parametrize("persona", ["member", "developer"])
def test_invite_is_403_without_rights(request, client_as, org, owner, persona):
    user = request.getfixturevalue(persona)
    response = client_as(user).post(
        invite_url(org), {"email": "p@example.com", "role": "member"}
    )
    assert response.status_code == 403
    assert not Invitation.objects.exists()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"email": "not-an-email", "role": "member"},
            "email",
            "Enter a valid email address.",
        ),
        ({"email": "", "role": "member"}, "email", "This field is required."),
        (
            {"email": "member@example.com", "role": "admin"},
            "email",
            "already a member of Acme Corp",
        ),
        (
            {"email": "x@example.com", "role": "emperor"},
            "role",
            "Choose one of the listed roles",
        ),
    ],
)
def test_invite_with_bad_input_shows_errors_and_changes_nothing(
    client_as, org, owner, member, data, field, message
):
    before = list(Membership.objects.values_list("pk", "role"))
    response = client_as(owner).post(invite_url(org), data)
    assert response.status_code == 200
    assert message in " ".join(response.context["invite_form"].errors[field])
    assert message in response.content.decode()
    assert list(Membership.objects.values_list("pk", "role")) == before
    assert not Invitation.objects.exists()
    assert mail.outbox == []


def test_administrator_invites_members_but_not_owners(
    client_as, org, owner, administrator
):
    client = client_as(administrator)
    response = client.post(invite_url(org), {"email": "p@example.com", "role": "owner"})
    assert response.status_code == 200
    assert "Only Owners can make someone an Owner" in response.content.decode()
    assert not Invitation.objects.exists()

    response = client.post(invite_url(org), {"email": "p@example.com", "role": "admin"})
    assert response.status_code == 302
    assert Invitation.objects.get().role == Role.ADMIN


# member_change


def test_owner_changes_role_and_developer_flag(client_as, org, owner, member):
    target = membership(member, org)
    response = client_as(owner).post(
        change_url(org, target), {"role": "admin", "is_developer": "on"}, follow=True
    )
    assert response.redirect_chain == [(members_url(org), 302)]
    assert (
        "member@example.com is now Administrator (Developer)."
        in response.content.decode()
    )
    target.refresh_from_db()
    assert (target.role, target.is_developer) == (Role.ADMIN, True)


def test_unchecking_developer_clears_the_flag(client_as, org, owner, developer):
    target = membership(developer, org)
    client_as(owner).post(change_url(org, target), {"role": "member"})
    target.refresh_from_db()
    assert not target.is_developer


def test_change_member_rejects_get(client_as, org, owner, member):
    response = client_as(owner).get(change_url(org, membership(member, org)))
    assert response.status_code == 405


def test_change_member_is_404_for_outsiders(client_as, org, owner, member, outsider):
    target = membership(member, org)
    response = client_as(outsider).post(change_url(org, target), {"role": "owner"})
    assert response.status_code == 404
    assert membership(member, org).role == Role.MEMBER


def test_change_member_is_403_for_members(client_as, org, owner, member, developer):
    target = membership(developer, org)
    response = client_as(member).post(change_url(org, target), {"role": "admin"})
    assert response.status_code == 403
    assert membership(developer, org).role == Role.MEMBER


def test_membership_of_another_org_is_404(client_as, org, owner, outsider):
    foreign = Membership.objects.get(user=outsider)
    response = client_as(owner).post(change_url(org, foreign), {"role": "member"})
    assert response.status_code == 404
    assert client_as(owner).post(remove_url(org, foreign)).status_code == 404
    assert Membership.objects.get(user=outsider).role == Role.OWNER


def test_change_with_invalid_role_shows_an_error(client_as, org, owner, member):
    target = membership(member, org)
    response = client_as(owner).post(change_url(org, target), {"role": "superuser"})
    assert response.status_code == 200
    assert response.context["change_form"].errors["role"]
    assert "Could not change member@example.com" in response.content.decode()
    assert membership(member, org).role == Role.MEMBER


def test_administrator_cannot_change_an_owner(client_as, org, owner, administrator):
    response = client_as(administrator).post(
        change_url(org, membership(owner, org)), {"role": "member"}
    )
    assert response.status_code == 403
    assert membership(owner, org).role == Role.OWNER


def test_administrator_cannot_make_an_owner(
    client_as, org, owner, administrator, member
):
    response = client_as(administrator).post(
        change_url(org, membership(member, org)), {"role": "owner"}
    )
    assert response.status_code == 200
    assert "Only Owners can make someone an Owner" in response.content.decode()
    assert membership(member, org).role == Role.MEMBER


def test_administrator_manages_other_administrators(
    client_as, org, owner, administrator
):
    other = MembershipFactory(organization=org, role=Role.ADMIN)
    response = client_as(administrator).post(change_url(org, other), {"role": "member"})
    assert response.status_code == 302
    other.refresh_from_db()
    assert other.role == Role.MEMBER


def test_last_owner_demoting_themselves_gets_a_clear_message(client_as, org, owner):
    response = client_as(owner).post(
        change_url(org, membership(owner, org)), {"role": "member"}, follow=True
    )
    html = response.content.decode()
    assert "owner@example.com is the last Owner of Acme Corp" in html
    assert "make someone else an Owner first" in html
    assert '<div class="toast toast-error" role="alert">' in html
    assert membership(owner, org).role == Role.OWNER


def test_only_owners_make_owners_and_then_the_old_owner_may_step_down(
    client_as, org, owner, member
):
    client = client_as(owner)
    client.post(change_url(org, membership(member, org)), {"role": "owner"})
    assert membership(member, org).role == Role.OWNER
    client.post(change_url(org, membership(owner, org)), {"role": "admin"})
    assert membership(owner, org).role == Role.ADMIN


# member_remove


def test_owner_removes_a_member(client_as, org, owner, member):
    response = client_as(owner).post(
        remove_url(org, membership(member, org)), follow=True
    )
    assert response.redirect_chain == [(members_url(org), 302)]
    assert "member@example.com removed from Acme Corp." in response.content.decode()
    assert not Membership.objects.filter(user=member, organization=org).exists()
    assert AuditEvent.objects.filter(
        action="member.remove", target_label=member.email
    ).exists()


def test_remove_member_rejects_get(client_as, org, owner, member):
    assert (
        client_as(owner).get(remove_url(org, membership(member, org))).status_code
        == 405
    )


def test_remove_member_is_404_for_outsiders(client_as, org, owner, member, outsider):
    response = client_as(outsider).post(remove_url(org, membership(member, org)))
    assert response.status_code == 404
    assert Membership.objects.filter(user=member, organization=org).exists()


def test_remove_member_is_403_for_members(client_as, org, owner, member, developer):
    response = client_as(member).post(remove_url(org, membership(developer, org)))
    assert response.status_code == 403
    assert Membership.objects.filter(user=developer, organization=org).exists()


def test_administrator_cannot_remove_an_owner(client_as, org, owner, administrator):
    response = client_as(administrator).post(remove_url(org, membership(owner, org)))
    assert response.status_code == 403
    assert Membership.objects.filter(user=owner, organization=org).exists()


def test_last_owner_cannot_remove_themselves(client_as, org, owner, member):
    response = client_as(owner).post(
        remove_url(org, membership(owner, org)), follow=True
    )
    assert response.redirect_chain == [(members_url(org), 302)]
    assert (
        "is the last Owner of Acme Corp, so you cannot remove them"
        in response.content.decode()
    )
    assert Membership.objects.filter(user=owner, organization=org).exists()


def test_leaving_an_org_moves_you_to_another_one(client_as, org, owner, administrator):
    other = MembershipFactory(user=administrator, role=Role.MEMBER).organization
    response = client_as(administrator).post(
        remove_url(org, membership(administrator, org)), follow=True
    )
    assert response.redirect_chain[-1] == (
        reverse("orgs:org_overview", args=[other.pk]),
        302,
    )
    assert "You left Acme Corp." in response.content.decode()
