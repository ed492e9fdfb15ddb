"""Invitations: Owners and Administrators invite by email; the link works once, for 7 days, for
the invited address only; every step is audited and tells the inviter."""

from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from console.accounts import services
from console.accounts.models import Invitation
from orgs.models import AuditEvent, Membership, Notification
from tests.accounts.conftest import link_in
from tests.factories import PASSWORD, UserFactory

Role = Membership.Role


def invite(client, org, email="new@example.com", role="admin", developer=True):
    data = {"email": email, "role": role}
    if developer:
        data["is_developer"] = "on"
    return client.post(reverse("accounts:invitation_create", args=[org.pk]), data)


def accept_path(message) -> str:
    return link_in(message, "/invitations/")


@pytest.fixture
def invited(client_as, org, owner):
    """An Owner invited new@example.com as a Developer Administrator; the email's link."""
    invite(client_as(owner), org)
    (message,) = mail.outbox
    return accept_path(message)


def test_the_email_carries_the_org_the_role_and_a_link_in_text_and_html(
    client_as, org, owner
):
    invite(client_as(owner), org)
    (message,) = mail.outbox
    assert message.to == ["new@example.com"]
    assert "owner@example.com invited you to Acme Corp" in message.subject
    assert "as Administrator (Developer)" in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    path = accept_path(message)
    assert f'href="http://testserver{path}"' in html
    # The key travels only in the email: the database keeps its hash.
    key = path.rstrip("/").rsplit("/", 1)[1]
    assert not Invitation.objects.filter(key_hash__contains=key).exists()


def test_a_newcomer_signs_up_from_the_link_and_joins_with_the_invited_role(
    client, org, invited
):
    page = client.get(invited)
    assert page.status_code == 200
    assert "Join Acme Corp" in page.content.decode()
    signup = client.get(f"{reverse('account_signup')}?next={invited}")
    assert 'value="new@example.com"' in signup.content.decode()  # prefilled

    response = client.post(
        reverse("account_signup"),
        {"email": "new@example.com", "password1": PASSWORD, "next": invited},
    )
    # The link proved the address: signed in at once, no second email to confirm it.
    assert response.status_code == 302 and response.url == invited
    assert EmailAddress.objects.get(email="new@example.com").verified
    assert len(mail.outbox) == 1

    response = client.post(invited, follow=True)
    org_url = reverse("orgs:org_overview", args=[org.pk])
    assert response.redirect_chain == [(org_url, 302)]
    assert "You joined as Administrator" in response.content.decode()
    joined = Membership.objects.get(organization=org, user__email="new@example.com")
    assert (joined.role, joined.is_developer) == (Role.ADMIN, True)


def test_someone_with_an_account_signs_in_and_accepts(client, org, invited):
    person = UserFactory(email="new@example.com")
    client.post(reverse("account_login"), {"login": person.email, "password": PASSWORD})
    assert "Accept invitation" in client.get(invited).content.decode()
    client.post(invited)
    assert Membership.objects.filter(organization=org, user=person).exists()


def test_the_link_works_once(client_as, org, invited):
    person = UserFactory(email="new@example.com")
    client = client_as(person)
    assert client.post(invited).status_code == 302
    again = client.get(invited)
    assert again.status_code == 410
    assert "already been accepted" in again.content.decode()
    assert Membership.objects.filter(organization=org, user=person).count() == 1


def test_signed_in_as_another_address_is_a_clear_choice_never_a_join(
    client_as, org, invited
):
    someone_else = UserFactory(email="else@example.com")
    client = client_as(someone_else)
    page = client.get(invited).content.decode()
    assert "This invitation is for new@example.com" in page
    assert "Sign out and continue as new@example.com" in page
    response = client.post(invited)  # a forged accept
    assert response.status_code == 200
    assert "you are signed in as else@example.com" in response.content.decode()
    assert not Membership.objects.filter(user=someone_else, organization=org).exists()
    assert Invitation.objects.get().is_pending


def test_an_address_only_waiting_for_confirmation_is_not_enough(
    client_as, org, invited
):
    """Typing the invited address as a new email (unconfirmed) does not make the invitation
    yours: the page offers the choice, and accepting changes nothing."""
    UserFactory(email="new@example.com")  # its confirmed owner
    someone_else = UserFactory(email="else@example.com")
    EmailAddress.objects.create(user=someone_else, email="new@example.com")
    client = client_as(someone_else)
    assert (
        "Sign out and continue as new@example.com"
        in client.get(invited).content.decode()
    )
    response = client.post(invited)
    assert response.status_code == 200
    assert "you are signed in as else@example.com" in response.content.decode()
    assert not Membership.objects.filter(user=someone_else, organization=org).exists()
    assert not EmailAddress.objects.get(
        user=someone_else, email="new@example.com"
    ).verified
    assert Invitation.objects.get().is_pending


@pytest.mark.parametrize("state", ["expired", "revoked", "forged"])
def test_dead_links_get_a_clear_page_and_change_nothing(client_as, org, invited, state):
    person = UserFactory(email="new@example.com")
    invitation = Invitation.objects.get()
    if state == "expired":
        Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    elif state == "revoked":
        services.invitation_revoke(invitation=invitation, revoked_by=person)
    path = invited.replace(invited[-6:], "XXXXX/") if state == "forged" else invited
    client = client_as(person)
    before = list(AuditEvent.objects.values_list("pk", flat=True))
    for response in (client.get(path), client.post(path)):
        assert response.status_code == (404 if state == "forged" else 410)
        assert "This invitation link does not work" in response.content.decode()
    assert not Membership.objects.filter(user=person, organization=org).exists()
    assert list(AuditEvent.objects.values_list("pk", flat=True)) == before


def test_resending_sends_a_new_link_and_ends_the_old_one(
    client_as, org, owner, invited
):
    invitation = Invitation.objects.get()
    url = reverse("accounts:invitation_resend", args=[org.pk, invitation.pk])
    response = client_as(owner).post(url, follow=True)
    assert "Invitation sent again to new@example.com." in response.content.decode()
    new_link = accept_path(mail.outbox[1])
    assert new_link != invited
    assert Client().get(invited).status_code == 404
    assert Client().get(new_link).status_code == 200


def test_revoking_ends_the_link(client_as, org, owner, invited):
    invitation = Invitation.objects.get()
    url = reverse("accounts:invitation_revoke", args=[org.pk, invitation.pk])
    response = client_as(owner).post(url, follow=True)
    assert "Invitation to new@example.com revoked." in response.content.decode()
    assert Client().get(invited).status_code == 410
    assert not response.context["invitations"]


def test_pending_invitations_are_listed_for_those_who_manage_members(
    client_as, org, owner, member, invited
):
    members = reverse("orgs:member_list", args=[org.pk])
    html = client_as(owner).get(members).content.decode()
    assert 'data-invitation="new@example.com"' in html
    assert "Resend" in html and "Revoke" in html
    assert "new@example.com" not in client_as(member).get(members).content.decode()


def test_administrators_cannot_resend_or_revoke_an_owner_invitation(
    client_as, org, owner, administrator
):
    invite(client_as(owner), org, email="boss@example.com", role="owner")
    invitation = Invitation.objects.get()
    client = client_as(administrator)
    for name in ("accounts:invitation_resend", "accounts:invitation_revoke"):
        response = client.post(reverse(name, args=[org.pk, invitation.pk]))
        assert response.status_code == 403
    invitation.refresh_from_db()
    assert invitation.is_pending and len(mail.outbox) == 1


def test_inviting_an_address_already_invited_says_so(client_as, org, owner, invited):
    response = invite(client_as(owner), org)
    assert response.status_code == 200
    assert "already has a pending invitation" in response.content.decode()
    assert Invitation.objects.count() == 1


def test_an_address_with_an_expired_invitation_can_be_invited_again(
    client_as, org, owner, invited
):
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert invite(client_as(owner), org).status_code == 302
    assert Invitation.objects.filter(revoked_at__isnull=True).count() == 1


def test_every_step_is_audited_and_tells_the_inviter(client_as, org, owner, invited):
    invitation = Invitation.objects.get()
    client = client_as(owner)
    client.post(reverse("accounts:invitation_resend", args=[org.pk, invitation.pk]))
    person = UserFactory(email="new@example.com")
    client_as(person).post(accept_path(mail.outbox[1]))
    assert list(
        AuditEvent.objects.filter(action__startswith="invitation.")
        .order_by("id")
        .values_list("action", "actor__email")
    ) == [
        ("invitation.create", "owner@example.com"),
        ("invitation.resend", "owner@example.com"),
        ("invitation.accept", "new@example.com"),
    ]
    titles = list(
        Notification.objects.filter(user=owner)
        .order_by("id")
        .values_list("title", flat=True)
    )
    assert titles == [
        "Invitation sent to new@example.com",
        "Invitation to new@example.com sent again",
        "new@example.com accepted your invitation to Acme Corp",
    ]
    other = UserFactory()
    services.invitation_revoke(
        invitation=Invitation.objects.create(
            organization=org,
            email="x@example.com",
            role="member",
            key_hash="0" * 64,
            invited_by=owner,
            expires_at=timezone.now() + timedelta(days=1),
        ),
        revoked_by=other,
    )
    assert AuditEvent.objects.filter(action="invitation.revoke").exists()
    assert Notification.objects.filter(
        user=owner, title="Invitation to x@example.com revoked"
    ).exists()


def test_an_email_failure_saves_nothing(client_as, org, owner, settings):
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 1},
        }
    }
    response = invite(client_as(owner), org)
    assert response.status_code == 200
    assert "could not be sent, so nothing was saved" in response.content.decode()
    assert not Invitation.objects.exists()
    assert not AuditEvent.objects.filter(action="invitation.create").exists()
    assert not User.objects.filter(email="new@example.com").exists()


def test_the_audit_log_names_invitation_steps(client_as, org, owner, invited):
    page = client_as(owner).get(reverse("oauthapps:audit_log", args=[org.pk]))
    html = page.content.decode()
    assert "Invited member" in html
    assert "new@example.com to Acme Corp" in html
