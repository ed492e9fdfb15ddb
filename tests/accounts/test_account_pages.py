"""The account pages (allauth's views, our templates): console-styled with a strict CSP, and
what a person does on them: sessions, password and email changes, rate limits with
Retry-After."""

import importlib
import io

import pytest
from allauth.account.models import EmailAddress
from allauth.account.utils import user_pk_to_url_str
from django.apps import apps as django_apps
from django.contrib.auth.models import User
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from console.settings import email_mailer
from tests.accounts.conftest import link_in
from tests.factories import PASSWORD, UserFactory
from tests.test_settings_deploy import (
    EVENT_HANDLER,
    INLINE_SCRIPT,
    STYLE_ATTRIBUTE,
    _csp,
)

SMTP = "django.core.mail.backends.smtp.EmailBackend"
CONSOLE = "django.core.mail.backends.console.EmailBackend"
ANONYMOUS_PAGES = ["account_login", "account_signup", "account_reset_password"]
SIGNED_IN_PAGES = [
    "account_email",
    "account_change_password",
    "account_logout",
    "mfa_index",
    "usersessions_list",
    "account_reauthenticate",
    "mfa_activate_totp",
]


def assert_console_page(response) -> None:
    assert response.status_code == 200
    assert _csp(response)["script-src"] == "'self'"
    html = response.content.decode()
    assert 'class="topbar"' in html  # the console's shell, not allauth's bare layout
    assert not INLINE_SCRIPT.search(html)
    assert not EVENT_HANDLER.search(html)
    assert not STYLE_ATTRIBUTE.search(html)


@pytest.mark.parametrize("url_name", ANONYMOUS_PAGES)
def test_entrance_pages_are_console_pages(client, db, url_name):
    assert_console_page(client.get(reverse(url_name)))


@pytest.mark.parametrize("url_name", SIGNED_IN_PAGES)
def test_account_pages_are_console_pages(client_as, owner, url_name):
    client = client_as(owner)
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    assert_console_page(client.get(reverse(url_name)))


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/\\evil.example"]
)
def test_next_never_leads_off_the_console(client, db, target):
    """Signing in, reauthenticating and signing out all honour `next` only within the console."""
    person = UserFactory(email="ada@example.com")
    signed_in = client.post(
        reverse("account_login"),
        {"login": person.email, "password": PASSWORD, "next": target},
    )
    confirmed = client.post(
        reverse("account_reauthenticate"), {"password": PASSWORD, "next": target}
    )
    signed_out = client.post(reverse("account_logout"), {"next": target})
    for response in (signed_in, confirmed, signed_out):
        assert response.status_code == 302
        assert response.url.startswith("/") and not response.url.startswith(
            ("//", "/\\")
        )


def test_signing_out_other_sessions(db):
    person = UserFactory(email="ada@example.com")
    here, there = Client(), Client()
    for client in (here, there):
        client.post(
            reverse("account_login"), {"login": person.email, "password": PASSWORD}
        )
    page = here.get(reverse("usersessions_list"))
    assert len(page.context["sessions"]) == 2
    here.post(reverse("usersessions_list"))
    assert "_auth_user_id" in here.session
    assert there.get(reverse("home")).status_code == 302  # back to sign in
    assert "_auth_user_id" not in there.session


def test_changing_the_password_signs_out_the_other_sessions(client_as, db):
    person = UserFactory(email="ada@example.com")
    client, elsewhere = client_as(person), client_as(person)
    page = client.get(reverse("account_change_password")).content.decode()
    assert "every other session is signed out" in page
    new = "another-long-passphrase"
    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": new, "password2": new},
    )
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.check_password(new)
    assert client.get(reverse("account_email")).status_code == 200  # still signed in
    assert elsewhere.get(reverse("account_email")).url.startswith(
        reverse("account_login")
    )


def test_changing_the_email_waits_for_the_new_address_to_be_confirmed(client_as, db):
    person = UserFactory(email="ada@example.com")
    client = client_as(person)
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    response = client.post(
        reverse("account_email"), {"email": "ada@new.example", "action_add": ""}
    )
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.email == "ada@example.com"  # not before confirming
    message = next(m for m in mail.outbox if m.to == ["ada@new.example"])
    link = link_in(message, "/accounts/confirm-email/")
    client.post(link)
    person.refresh_from_db()
    assert person.email == "ada@new.example"
    assert list(
        EmailAddress.objects.filter(user=person).values_list("email", "verified")
    ) == [("ada@new.example", True)]


def test_allauth_rate_limits_answer_429_with_retry_after(client, db):
    UserFactory(email="ada@example.com")
    statuses = [
        client.post(reverse("account_reset_password"), {"email": "ada@example.com"})
        for _ in range(6)
    ]
    refused = statuses[-1]
    assert [r.status_code for r in statuses[:5]] == [302] * 5
    assert refused.status_code == 429
    # Never earlier than the refusing limit lets a request through again (5 a minute per
    # address): a client that waits as told is not refused by it again.
    assert int(refused["Retry-After"]) >= 60
    assert "Too many requests" in refused.content.decode()


@pytest.mark.parametrize("key", ["forged-key", "set-password"])
def test_a_forged_reset_link_gets_a_clear_page_and_changes_nothing(client, db, key):
    person = UserFactory(email="ada@example.com")
    url = reverse(
        "account_reset_password_from_key",
        kwargs={"uidb36": user_pk_to_url_str(person), "key": key},
    )
    new = "another-long-passphrase"
    for response in (
        client.get(url, follow=True),
        client.post(url, {"password1": new, "password2": new}, follow=True),
    ):
        assert response.status_code == 200
        assert "This link does not work" in response.content.decode()
    person.refresh_from_db()
    assert person.check_password(PASSWORD)


# Accounts made outside sign-up count as verified


def test_createsuperuser_makes_a_verified_account(db, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "root-passphrase-123")
    call_command(
        "createsuperuser",
        "--noinput",
        "--username=root@example.com",
        "--email=Root@Example.com",
        verbosity=0,
    )
    address = EmailAddress.objects.get(user__username="root@example.com")
    assert (address.email, address.verified, address.primary) == (
        "root@example.com",
        True,
        True,
    )
    assert Client().post(
        reverse("account_login"),
        {"login": "root@example.com", "password": "root-passphrase-123"},
    ).url == reverse("home")


def test_createsuperuser_without_an_email_says_they_cannot_sign_in(db, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "root-passphrase-123")
    err = io.StringIO()
    call_command(
        "createsuperuser",
        "--noinput",
        "--username=root",
        "--email=",
        verbosity=0,
        stderr=err,
    )
    assert "root has no email address, so they cannot sign in" in err.getvalue()
    assert not EmailAddress.objects.exists()


def test_create_oauth_app_with_create_org_makes_a_verified_owner(db, tmp_path):
    call_command(
        "create_oauth_app",
        "--org=Script Co",
        "--create-org",
        "--created-by=script@example.com",
        "--name=sync",
        "--scope=org:member",
        f"--output={tmp_path / 'c.json'}",
        stdout=open("/dev/null", "w"),  # noqa: SIM115
    )
    assert EmailAddress.objects.get(email="script@example.com").verified


def test_the_demo_owner_signs_in_through_the_sign_in_page(db, settings):
    from orgs.management.commands.demo_data import DEMO_PASSWORD, OWNER_EMAIL

    settings.DEBUG = True
    call_command("demo_data", stdout=open("/dev/null", "w"))  # noqa: SIM115
    response = Client().post(
        reverse("account_login"), {"login": OWNER_EMAIL, "password": DEMO_PASSWORD}
    )
    assert response.status_code == 302 and response.url == reverse("home")


def test_staff_made_accounts_in_admin_are_verified(client_as, db):
    staff = UserFactory(is_staff=True, is_superuser=True)
    admin = client_as(staff)
    admin.post(
        reverse("admin:auth_user_add"),
        {
            "username": "made@example.com",
            "usable_password": "false",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    made = User.objects.get(username="made@example.com")
    admin.post(
        reverse("admin:auth_user_change", args=[made.pk]),
        {
            "username": made.username,
            "email": "made@example.com",
            "is_active": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    assert EmailAddress.objects.get(user=made).verified


def test_staff_re_addressing_an_account_retires_the_old_address(client_as, db):
    """The old address no longer signs in, nor gets a password-reset link (a mailbox that
    changed hands must not take the account over)."""
    person = UserFactory(email="old@example.com", username="old@example.com")
    admin = client_as(UserFactory(is_staff=True, is_superuser=True))
    admin.post(
        reverse("admin:auth_user_change", args=[person.pk]),
        {
            "username": person.username,
            "email": "new@example.com",
            "is_active": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    assert list(
        EmailAddress.objects.filter(user=person).values_list("email", "verified")
    ) == [("new@example.com", True)]
    old, new = (
        Client().post(reverse("account_login"), {"login": email, "password": PASSWORD})
        for email in ("old@example.com", "new@example.com")
    )
    assert old.status_code == 200 and new.status_code == 302
    Client().post(reverse("account_reset_password"), {"email": "old@example.com"})
    (notice,) = [m for m in mail.outbox if m.to == ["old@example.com"]]
    assert "/accounts/password/reset/key/" not in notice.body


def test_the_data_migration_verifies_accounts_made_before_allauth(db):
    older = User.objects.create(username="old@example.com", email="Old@Example.com")
    clash = User.objects.create(username="clash", email="old@example.com")
    nobody = User.objects.create(username="nobody", email="")
    migration = importlib.import_module(
        "console.accounts.migrations.0002_existing_accounts_are_verified"
    )
    migration.verify_existing_accounts(django_apps, None)
    assert list(
        EmailAddress.objects.filter(user__in=[older, clash, nobody]).values_list(
            "user__username", "email", "verified", "primary"
        )
    ) == [("old@example.com", "old@example.com", True, True)]


@pytest.mark.parametrize(
    ("environ", "debug", "expected"),
    [
        (
            {"EMAIL_URL": "smtp://mailer:s%40cret@mail.example.com:587/?tls=True"},
            False,
            {
                "BACKEND": SMTP,
                "OPTIONS": {
                    "host": "mail.example.com",
                    "port": 587,
                    "username": "mailer",
                    "password": "s@cret",
                    "use_tls": True,
                    "use_ssl": False,
                    "timeout": 10,
                },
            },
        ),
        (
            {"EMAIL_HOST": "smtp.example.com", "EMAIL_PORT": "465", "EMAIL_USE_SSL": "1",
             "EMAIL_HOST_USER": "u", "EMAIL_HOST_PASSWORD": "p", "EMAIL_TIMEOUT": "3"},
            False,
            {
                "BACKEND": SMTP,
                "OPTIONS": {
                    "host": "smtp.example.com",
                    "port": 465,
                    "username": "u",
                    "password": "p",
                    "use_tls": False,
                    "use_ssl": True,
                    "timeout": 3,
                },
            },
        ),
        ({"EMAIL_URL": "console://"}, False, {"BACKEND": CONSOLE}),
        ({}, True, {"BACKEND": CONSOLE}),  # make run: links in the terminal
        ({}, False, {"BACKEND": SMTP, "OPTIONS": {
            "host": "localhost", "port": 25, "username": "", "password": "",
            "use_tls": False, "use_ssl": False, "timeout": 10}}),
    ],
)  # fmt: skip
def test_the_mailer_comes_from_the_environment(environ, debug, expected):
    assert email_mailer(environ, debug=debug) == expected


def test_a_bad_email_flag_fails_loudly():
    with pytest.raises(ImproperlyConfigured, match="EMAIL_USE_TLS"):
        email_mailer({"EMAIL_HOST": "h", "EMAIL_USE_TLS": "yes"}, debug=False)
