"""The invitation and password-reset emails through a real SMTP server (aiosmtpd on loopback):
the message arrives in plain text and HTML, and its link does what it says."""

from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from orgs.models import Membership
from tests.accounts.conftest import link_in, text_body
from tests.factories import PASSWORD, UserFactory

NEW_PASSWORD = "a-brand-new-passphrase"


def test_an_invitation_arrives_by_smtp_and_its_link_joins_the_org(
    smtp_server, client_as, org, owner
):
    client_as(owner).post(
        reverse("accounts:invitation_create", args=[org.pk]),
        {"email": "smtp-new@example.com", "role": "member", "is_developer": "on"},
    )
    (message,) = smtp_server.to("smtp-new@example.com")
    assert "invited you to Acme Corp" in message["Subject"]
    assert message.get_body(preferencelist=("html",)) is not None
    path = link_in(message, "/invitations/")

    newcomer = Client()
    newcomer.get(path)
    newcomer.post(
        reverse("account_signup"),
        {"email": "smtp-new@example.com", "password1": PASSWORD, "next": path},
    )
    newcomer.post(path)
    joined = Membership.objects.get(user__email="smtp-new@example.com")
    assert (joined.organization, joined.role, joined.is_developer) == (
        org,
        Membership.Role.MEMBER,
        True,
    )


def test_a_forgotten_password_is_reset_through_the_emailed_link(smtp_server, db):
    person = UserFactory(email="forgetful@example.com")
    client = Client()
    response = client.post(
        reverse("account_reset_password"), {"email": "Forgetful@Example.com"}
    )
    assert response.url == reverse("account_reset_password_done")
    (message,) = smtp_server.to("forgetful@example.com")
    assert "password" in message["Subject"].lower()
    assert message.get_body(preferencelist=("html",)) is not None
    path = link_in(message, "/accounts/password/reset/key/")

    form_page = client.get(path, follow=True)  # allauth moves the key out of the URL
    action = form_page.context["action_url"]
    response = client.post(
        action, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}, follow=True
    )
    assert "Your password has been changed" in response.content.decode()
    person.refresh_from_db()
    assert person.check_password(NEW_PASSWORD)
    # The link worked once.
    again = client.get(path, follow=True)
    assert "This link does not work" in again.content.decode()
    assert (
        Client()
        .post(
            reverse("account_login"), {"login": person.email, "password": NEW_PASSWORD}
        )
        .status_code
        == 302
    )


def test_a_reset_for_an_unknown_address_looks_the_same(smtp_server, db):
    """No enumeration: the same page; the unknown address gets a note, not a link."""
    response = Client().post(
        reverse("account_reset_password"), {"email": "stranger@example.com"}
    )
    assert response.url == reverse("account_reset_password_done")
    (message,) = smtp_server.to("stranger@example.com")
    assert "/accounts/password/reset/key/" not in text_body(message)
    assert not User.objects.filter(email="stranger@example.com").exists()
