"""Signing up and in, creating and switching organizations, the overview and the home redirect."""

import re

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from django.urls import reverse

from console.accounts.models import Invitation
from orgs.models import Membership, Organization
from orgs.selectors import ACTIVE_ORG_SESSION_KEY
from tests.factories import PASSWORD, MembershipFactory, UserFactory

Role = Membership.Role


def overview_url(org) -> str:
    return reverse("orgs:org_overview", args=[org.pk])


# Sign up → confirm the email → first org → Owner (allauth's sign-up, our templates)


def confirmation_link(message) -> str:
    return re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+)", message.body)[1]


def test_signing_up_leads_to_creating_the_first_org_as_its_owner(client, db):
    response = client.post(
        reverse("signup"),
        {"email": "Newcomer@Example.com", "password1": "a-long-enough-passphrase"},
        follow=True,
    )
    assert response.redirect_chain == [
        (reverse("account_email_verification_sent"), 302)
    ]
    assert "Check your email" in response.content.decode()
    user = User.objects.get()
    assert (user.email, user.username) == ("newcomer@example.com",) * 2
    assert "_auth_user_id" not in client.session  # not before the address is confirmed

    (message,) = mail.outbox
    assert message.to == ["newcomer@example.com"]
    link = confirmation_link(message)
    assert client.get(link).status_code == 200
    response = client.post(link, follow=True)
    assert response.redirect_chain[-1] == (reverse("orgs:org_create"), 302)
    assert "Create your first organization" in response.content.decode()
    assert client.session["_auth_user_id"] == str(user.pk)

    response = client.post(reverse("orgs:org_create"), {"name": "Newco"}, follow=True)
    org = Organization.objects.get()
    assert response.redirect_chain == [(overview_url(org), 302)]
    assert "Organization Newco created. You are its Owner." in response.content.decode()
    assert Membership.objects.get(organization=org).role == Role.OWNER
    assert client.session[ACTIVE_ORG_SESSION_KEY] == str(org.pk)


def test_signup_page_opens_for_anonymous_visitors(client, db):
    response = client.get(reverse("signup"))
    assert response.status_code == 200
    assert "Create an account" in response.content.decode()


def test_signup_rejects_put(client, db):
    assert client.put(reverse("signup")).status_code == 405


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"email": "new@example.com", "password1": "short"}, "password1", "too short"),
        (
            {"email": "new@example.com", "password1": "password123"},
            "password1",
            "too common",
        ),
        (
            {"email": "nope", "password1": "a-long-enough-passphrase"},
            "email",
            "valid email",
        ),
    ],
)
def test_signup_with_bad_input_shows_errors_and_creates_nobody(
    client, db, data, field, message
):
    UserFactory(email="taken@example.com")
    response = client.post(reverse("signup"), data)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert User.objects.count() == 1
    assert "_auth_user_id" not in client.session


def test_signing_up_with_a_taken_address_answers_like_a_new_one(client, db):
    """No account enumeration: the same page as for a new address; the address's owner gets
    an email saying someone tried, and no second account appears."""
    UserFactory(email="taken@example.com")
    data = {"password1": "a-long-enough-passphrase"}
    taken = client.post(reverse("signup"), {"email": "TAKEN@example.com", **data})
    new = Client().post(reverse("signup"), {"email": "fresh@example.com", **data})
    assert (taken.status_code, taken["Location"]) == (new.status_code, new["Location"])
    assert User.objects.filter(email__iexact="taken@example.com").count() == 1
    assert "_auth_user_id" not in client.session
    warning = next(m for m in mail.outbox if m.to == ["taken@example.com"])
    assert "already exists" in warning.body


def test_signed_in_people_skip_the_signup_page(client_as, owner):
    response = client_as(owner).get(reverse("signup"))
    assert response.status_code == 302
    assert response.url == reverse("home")


# Sign in and out


def test_sign_in_by_email_in_any_case(client, org, owner):
    response = client.post(
        reverse("login"),
        {"login": "OWNER@example.com", "password": PASSWORD},
        follow=True,
    )
    assert response.redirect_chain[-1] == (overview_url(org), 302)
    assert response.context["user"] == owner


def test_wrong_password_is_refused(client, org, owner):
    response = client.post(
        reverse("login"), {"login": owner.email, "password": "wrong"}
    )
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert "_auth_user_id" not in client.session


def test_an_unknown_address_gets_the_same_answer_as_a_wrong_password(
    client, org, owner
):
    wrong = client.post(reverse("login"), {"login": owner.email, "password": "wrong"})
    unknown = client.post(
        reverse("login"), {"login": "nobody@example.com", "password": "wrong"}
    )
    assert (
        wrong.context["form"].non_field_errors()
        == unknown.context["form"].non_field_errors()
    )


def test_sign_out_is_a_post(client_as, owner):
    client = client_as(owner)
    response = client.get(reverse("logout"))  # only asks
    assert response.status_code == 200
    assert "_auth_user_id" in client.session
    response = client.post(reverse("logout"))
    assert response.url == reverse("login")
    assert "_auth_user_id" not in client.session


def test_anonymous_visitors_are_sent_to_sign_in(client, org):
    response = client.get(overview_url(org))
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={overview_url(org)}"


def test_an_unconfirmed_address_cannot_create_an_organization(client_as, db):
    person = UserFactory(email="unconfirmed@example.com", verified_email=False)
    response = client_as(person).post(reverse("orgs:org_create"), {"name": "Nope"})
    assert response.status_code == 200
    assert "Confirm your email address first" in response.content.decode()
    assert not Organization.objects.exists()
    assert mail.outbox[0].to == ["unconfirmed@example.com"]


# Creating organizations


def test_create_org_page_says_first_org_only_the_first_time(client_as, owner):
    html = client_as(owner).get(reverse("orgs:org_create")).content.decode()
    assert "Create an organization" in html
    assert "Create your first organization" not in html


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_create_org_with_a_bad_name_shows_an_error(client_as, owner, name):
    count = Organization.objects.count()
    response = client_as(owner).post(reverse("orgs:org_create"), {"name": name})
    assert response.status_code == 200
    assert response.context["form"].errors["name"]
    assert Organization.objects.count() == count


def test_create_org_rejects_put(client_as, owner):
    assert client_as(owner).put(reverse("orgs:org_create")).status_code == 405


# Switching organizations


def test_switching_sets_the_active_org_and_it_survives_reloads(client_as, org, owner):
    second = MembershipFactory(user=owner, role=Role.MEMBER).organization
    client = client_as(owner)
    response = client.post(reverse("orgs:org_switch"), {"org_id": str(second.pk)})
    assert response.url == overview_url(second)
    assert client.session[ACTIVE_ORG_SESSION_KEY] == str(second.pk)
    # "/" and every page without an org in its URL follow the active org
    assert client.get(reverse("home")).url == overview_url(second)
    notifications = client.get(reverse("orgs:notification_list"))
    assert notifications.context["active_org"] == second


def test_opening_an_org_page_makes_it_the_active_org(client_as, org, owner):
    second = MembershipFactory(user=owner, role=Role.MEMBER).organization
    client = client_as(owner)
    client.get(overview_url(second))
    assert client.get(reverse("home")).url == overview_url(second)


def test_header_switcher_lists_only_your_orgs_with_the_active_one_selected(
    client_as, org, owner, outsider
):
    second = MembershipFactory(user=owner, role=Role.MEMBER).organization
    response = client_as(owner).get(overview_url(second))
    html = response.content.decode()
    assert f'<option value="{second.pk}" selected>' in html
    assert f'<option value="{org.pk}" >' in html
    outsiders_org = Membership.objects.get(user=outsider).organization
    assert str(outsiders_org.pk) not in html


@pytest.mark.parametrize(
    "org_id", ["", "not-a-uuid", "00000000-0000-0000-0000-000000000000"]
)
def test_switching_to_an_unknown_org_is_404(client_as, owner, org_id):
    response = client_as(owner).post(reverse("orgs:org_switch"), {"org_id": org_id})
    assert response.status_code == 404


def test_switching_to_someone_elses_org_is_404(client_as, org, owner, outsider):
    client = client_as(outsider)
    response = client.post(reverse("orgs:org_switch"), {"org_id": str(org.pk)})
    assert response.status_code == 404
    assert client.session.get(ACTIVE_ORG_SESSION_KEY) != str(org.pk)


def test_switch_rejects_get(client_as, owner):
    assert client_as(owner).get(reverse("orgs:org_switch")).status_code == 405


def test_losing_membership_moves_you_to_another_org(client_as, org, member):
    other = MembershipFactory(user=member, role=Role.MEMBER).organization
    client = client_as(member)
    client.post(reverse("orgs:org_switch"), {"org_id": str(org.pk)})
    Membership.objects.filter(user=member, organization=org).delete()
    assert client.get(overview_url(org)).status_code == 404
    assert client.get(reverse("home")).url == overview_url(other)


def test_losing_your_last_membership_leads_to_create_one(client_as, org, member):
    client = client_as(member)
    client.post(reverse("orgs:org_switch"), {"org_id": str(org.pk)})
    Membership.objects.filter(user=member).delete()
    assert client.get(reverse("home")).url == reverse("orgs:org_create")
    html = client.get(reverse("orgs:org_create")).content.decode()
    assert "Create your first organization" in html


def test_home_rejects_post(client_as, owner):
    assert client_as(owner).post(reverse("home")).status_code == 405


# Overview


def test_overview_shows_the_org_your_role_and_counts(client_as, org, owner, developer):
    response = client_as(developer).get(overview_url(org))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Acme Corp" in html
    assert str(org.pk) in html
    assert "Your role: <strong>Member</strong> · Developer" in html
    assert response.context["member_count"] == 2
    assert response.context["service_count"] == 0


def test_overview_rejects_post(client_as, org, owner):
    assert client_as(owner).post(overview_url(org)).status_code == 405


def test_overview_is_404_for_outsiders_and_unknown_orgs(client_as, org, outsider):
    client = client_as(outsider)
    assert client.get(overview_url(org)).status_code == 404
    unknown = reverse(
        "orgs:org_overview", args=["00000000-0000-0000-0000-000000000000"]
    )
    assert client.get(unknown).status_code == 404


def test_404_page_offers_a_way_back(client_as, org, outsider):
    response = client_as(outsider).get(overview_url(org))
    assert "Go to my organizations" in response.content.decode()
    assert "Acme Corp" not in response.content.decode()


def test_shell_has_the_org_navigation_with_oauth_apps(client_as, org, owner):
    html = client_as(owner).get(overview_url(org)).content.decode()
    for label in ("Overview", "Members", "Services", "OAuth Apps"):
        assert f">{label}</a>" in html
    assert reverse("oauthapps:app_list", args=[org.pk]) in html


# CSRF


@pytest.mark.parametrize(
    ("url_name", "args"),
    [
        ("accounts:invitation_create", ["org"]),
        ("orgs:service_add", ["org", "compute"]),
        ("orgs:org_create", []),
        ("orgs:notifications_read_all", []),
    ],
)
def test_state_changes_need_a_csrf_token(org, owner, url_name, args):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    url = reverse(url_name, args=[org.pk if a == "org" else a for a in args])
    response = client.post(
        url, {"email": "x@example.com", "role": "member", "name": "X"}
    )
    assert response.status_code == 403
    assert org.services.count() == 0
    assert Organization.objects.count() == 1
    assert not Invitation.objects.exists()


def test_forms_carry_the_csrf_token(client_as, org, owner):
    html = (
        client_as(owner)
        .get(reverse("orgs:member_list", args=[org.pk]))
        .content.decode()
    )
    # Every POST form; the list's search form is a GET (its token would end up in URLs).
    post_forms = re.findall(r"<form[^>]*method=\"post\"", html)
    assert post_forms
    assert len(post_forms) == html.count('name="csrfmiddlewaretoken"')
