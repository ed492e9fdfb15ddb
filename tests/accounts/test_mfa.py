"""Two-factor authentication (allauth.mfa, TOTP + recovery codes): turning it on, signing in with
it, wrong codes counting towards the lockout, organizations that require it, and the fresh code
asked before sensitive actions."""

import pyotp
import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from django.conf import settings
from django.test import Client
from django.urls import reverse

from oauthapps.services import secret_fingerprint
from orgs.models import AuditEvent, Membership
from tests.accounts.conftest import enable_totp, valid_codes, wrong_code
from tests.factories import PASSWORD, MembershipFactory, UserFactory

LOGIN = reverse("account_login")
MFA_LOGIN = reverse("mfa_authenticate")


def sign_in_with_password(client: Client, email: str, ip: str = "192.0.2.7"):
    return client.post(LOGIN, {"login": email, "password": PASSWORD}, REMOTE_ADDR=ip)


def enter_code(client: Client, code: str, ip: str = "192.0.2.7"):
    return client.post(MFA_LOGIN, {"code": code}, REMOTE_ADDR=ip)


def test_turning_on_an_authenticator_app_through_the_pages(client_as, db):
    person = UserFactory(email="ada@example.com")
    client = client_as(person)
    activate = reverse("mfa_activate_totp")
    response = client.get(activate)  # allauth asks for the password first
    assert response.url.startswith(reverse("account_reauthenticate"))
    client.post(response.url, {"password": PASSWORD})
    page = client.get(activate)
    assert page.status_code == 200
    assert 'src="data:image/svg+xml;base64,' in page.content.decode()
    secret = page.context["form"].secret
    response = client.post(activate, {"code": pyotp.TOTP(secret).now()}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("mfa_view_recovery_codes")
    assert len(response.context["unused_codes"]) == 10
    assert Authenticator.objects.filter(user=person, type="totp").exists()


def test_signing_in_asks_for_the_code_after_the_password(client, db):
    person = UserFactory(email="ada@example.com")
    totp = enable_totp(person)
    response = sign_in_with_password(client, person.email)
    assert response.url == MFA_LOGIN
    assert "_auth_user_id" not in client.session
    assert enter_code(client, valid_codes(totp)[0]).status_code == 302
    assert client.session["_auth_user_id"] == str(person.pk)


def test_wrong_codes_count_towards_the_lockout(client, db):
    person = UserFactory(email="ada@example.com")
    totp = enable_totp(person)
    sign_in_with_password(client, person.email)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = enter_code(client, wrong_code(totp))
        assert response.status_code == 200
        assert "Incorrect code" in response.content.decode()
    response = enter_code(client, wrong_code(totp))
    assert response.status_code == 429
    assert int(response["Retry-After"]) == settings.CONSOLE_SIGNIN_LOCKOUT_MINUTES * 60
    # Locked: the right code is refused too, and so is starting over with the password.
    response = enter_code(client, valid_codes(totp)[0])
    assert response.status_code == 429 and "Retry-After" in response
    assert sign_in_with_password(Client(), person.email).status_code == 429
    assert "_auth_user_id" not in client.session


def test_recovery_codes_work_once_each(db):
    person = UserFactory(email="ada@example.com")
    enable_totp(person)
    codes = RecoveryCodes.activate(person).get_unused_codes()
    first = Client()
    sign_in_with_password(first, person.email)
    assert enter_code(first, codes[0]).status_code == 302
    again = Client()
    sign_in_with_password(again, person.email)
    response = enter_code(again, codes[0])
    assert response.status_code == 200
    assert "_auth_user_id" not in again.session
    assert enter_code(again, codes[1]).status_code == 302


# Organizations that require MFA


@pytest.fixture
def strict_org(org):
    org.require_mfa = True
    org.save()
    return org


def test_owners_without_mfa_are_sent_to_set_it_up_before_any_org_page(
    client_as, strict_org, owner
):
    client = client_as(owner)
    for name in ("orgs:org_overview", "orgs:member_list", "oauthapps:app_list"):
        response = client.get(reverse(name, args=[strict_org.pk]), follow=True)
        assert response.redirect_chain[0] == (reverse("mfa_activate_totp"), 302)
        assert "Acme Corp requires two-factor authentication" in (
            response.content.decode()
        )


def test_htmx_requests_are_sent_to_mfa_setup_as_a_whole_page(
    client_as, strict_org, owner
):
    response = client_as(owner).get(
        reverse("orgs:member_list", args=[strict_org.pk]),
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("mfa_activate_totp")


def test_owners_with_mfa_and_plain_members_get_in(client_as, strict_org, owner, member):
    enable_totp(owner)
    overview = reverse("orgs:org_overview", args=[strict_org.pk])
    assert client_as(owner).get(overview).status_code == 200
    assert client_as(member).get(overview).status_code == 200


def test_outsiders_still_get_404_from_an_org_that_requires_mfa(
    client_as, strict_org, outsider
):
    overview = reverse("orgs:org_overview", args=[strict_org.pk])
    assert client_as(outsider).get(overview).status_code == 404


def signed_in_with_code(user) -> Client:
    """A client that signed in with password and a code just now."""
    totp = enable_totp(user)
    client = Client()
    sign_in_with_password(client, user.email)
    enter_code(client, valid_codes(totp)[0])
    return client


def test_turning_the_policy_on_needs_mfa_of_your_own(client_as, org, owner):
    url = reverse("accounts:org_mfa_policy", args=[org.pk])
    response = client_as(owner).post(url, {"require_mfa": "on"}, follow=True)
    assert "Turn on two-factor authentication for your own account first" in (
        response.content.decode()
    )
    org.refresh_from_db()
    assert not org.require_mfa

    client = signed_in_with_code(owner)
    response = client.post(url, {"require_mfa": "on"}, follow=True)
    assert "requires two-factor authentication for Owners" in response.content.decode()
    org.refresh_from_db()
    assert org.require_mfa
    assert AuditEvent.objects.filter(action="org.require_mfa").exists()


# A fresh second factor for sensitive actions


def test_a_stale_second_factor_is_asked_again_then_the_action_goes_through(
    client_as, org, owner, make_app
):
    app = make_app(org, scopes=["org:member"]).app
    totp = enable_totp(owner)
    client = client_as(owner)  # signed in, but no code entered in this session
    url = reverse("oauthapps:app_regenerate_secret", args=[org.pk, app.pk])
    data = {"fingerprint": secret_fingerprint(app)}
    response = client.post(url, data)
    assert response.status_code == 302
    assert response.url.startswith(reverse("mfa_reauthenticate"))
    app.refresh_from_db()
    assert secret_fingerprint(app) == data["fingerprint"]  # nothing happened yet

    response = client.post(response.url, {"code": valid_codes(totp)[0]})
    assert response.status_code == 200  # the regenerate POST, replayed
    assert "New client secret" in response.content.decode()
    app.refresh_from_db()
    assert secret_fingerprint(app) != data["fingerprint"]


@pytest.mark.parametrize(
    ("url_name", "method", "target"),
    [
        ("oauthapps:app_create", "get", None),
        ("oauthapps:app_regenerate_secret", "post", "own_app"),
        ("oauthapps:app_rotate_secret", "post", "own_app"),
        ("oauthapps:app_add_to_org", "post", "own_app"),
        ("oauthapps:app_add_to_orgs", "post", "own_app"),
        ("oauthapps:app_add_by_client_id", "post", None),
        ("oauthapps:app_regrant", "post", "added_app"),
        ("orgs:member_change", "post", "membership"),
        ("accounts:org_mfa_policy", "post", None),
    ],
)
def test_every_sensitive_action_asks_for_a_fresh_code(
    client_as, org, owner, member, make_app, url_name, method, target
):
    enable_totp(owner)
    args: list = [org.pk]
    if target == "own_app":
        args.append(make_app(org, scopes=["org:member"]).app.pk)
    elif target == "added_app":
        other = MembershipFactory(role=Membership.Role.OWNER)
        added = make_app(
            other.organization,
            scopes=["org:member"],
            created_by=other.user,
            add_to=[org],
        )
        args.append(added.app.pk)
    elif target == "membership":
        args.append(Membership.objects.get(user=member).pk)
    before = AuditEvent.objects.count()
    response = getattr(client_as(owner), method)(reverse(url_name, args=args))
    assert response.status_code == 302
    assert response.url.startswith(reverse("mfa_reauthenticate"))
    assert AuditEvent.objects.count() == before  # nothing happened


def test_a_code_from_the_last_15_minutes_is_fresh_enough(org, owner, make_app):
    app = make_app(org, scopes=["org:member"]).app
    client = signed_in_with_code(owner)
    url = reverse("oauthapps:app_regenerate_secret", args=[org.pk, app.pk])
    assert client.get(url).status_code == 200


def test_changing_roles_asks_for_a_fresh_code_too(client_as, org, owner, member):
    enable_totp(owner)
    target = Membership.objects.get(user=member)
    url = reverse("orgs:member_change", args=[org.pk, target.pk])
    response = client_as(owner).post(url, {"role": "admin"})
    assert response.url.startswith(reverse("mfa_reauthenticate"))
    target.refresh_from_db()
    assert target.role == Membership.Role.MEMBER


def test_the_wizard_sends_htmx_to_the_code_page_as_a_whole_page(client_as, org, owner):
    enable_totp(owner)
    response = client_as(owner).post(
        reverse("oauthapps:app_create", args=[org.pk]),
        {"nav": "next"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert response["HX-Redirect"].startswith(reverse("mfa_reauthenticate"))


def test_people_without_a_second_factor_are_not_asked(client_as, org, owner):
    target = MembershipFactory(organization=org, user=UserFactory())
    url = reverse("orgs:member_change", args=[org.pk, target.pk])
    assert client_as(owner).post(url, {"role": "admin"}).status_code == 302
    target.refresh_from_db()
    assert target.role == Membership.Role.ADMIN
