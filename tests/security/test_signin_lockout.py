"""Sign-in throttling (django-axes, accounts/lockout.py): repeated failures lock an email address
out from the address they came from, with a clear page; the right password still works before
that, and from elsewhere; staff can lift it. (The sign-in form is allauth's: its email field is
`login`.)"""

import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from tests.factories import PASSWORD, UserFactory

LOGIN = reverse("login")


@pytest.fixture
def person(db):
    return UserFactory(email="ada@example.com", username="ada@example.com")


@pytest.fixture
def limit(settings) -> int:
    return settings.AXES_FAILURE_LIMIT


def sign_in(client: Client, email: str, password: str, ip: str = "192.0.2.1"):
    return client.post(LOGIN, {"login": email, "password": password}, REMOTE_ADDR=ip)


def fail(client: Client, times: int, email: str = "ada@example.com", ip="192.0.2.1"):
    """`times` wrong passwords; the one reaching the limit is already answered with the lockout."""
    for attempt in range(1, times + 1):
        response = sign_in(client, email, "wrong-password", ip)
        if attempt < settings.AXES_FAILURE_LIMIT:
            assert response.status_code == 200
            assert "you specified are not correct" in response.content.decode()
        else:
            assert response.status_code == 429


def test_the_right_password_signs_in_by_email_in_any_case(client, person):
    response = sign_in(client, "ADA@example.com", PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(person.pk)


def test_a_few_failures_do_not_stop_the_right_password(client, person, limit):
    fail(client, limit - 1)
    assert sign_in(client, "ada@example.com", PASSWORD).status_code == 302


def test_too_many_failures_lock_the_address_out_with_a_clear_page(
    client, person, limit, settings
):
    fail(client, limit - 1)
    response = sign_in(client, "ada@example.com", "wrong-password")

    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed sign-ins" in page
    assert f"locked for {settings.CONSOLE_SIGNIN_LOCKOUT_MINUTES} minutes" in page
    assert 'role="alert"' in page
    assert int(response["Retry-After"]) == settings.CONSOLE_SIGNIN_LOCKOUT_MINUTES * 60
    assert "_auth_user_id" not in client.session


def test_a_locked_out_person_cannot_sign_in_even_with_the_right_password(
    client, person, limit, settings
):
    fail(client, limit)
    response = sign_in(client, "ada@example.com", PASSWORD)
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()
    assert int(response["Retry-After"]) == settings.CONSOLE_SIGNIN_LOCKOUT_MINUTES * 60
    assert "_auth_user_id" not in client.session


def test_changing_the_case_of_the_email_does_not_reset_the_count(client, person, limit):
    for index in range(limit):
        email = "ada@example.com".upper() if index % 2 else " Ada@Example.com "
        sign_in(client, email, "wrong-password")
    assert sign_in(client, "ada@example.com", PASSWORD).status_code == 429


def test_the_lockout_holds_only_for_that_address(client, person, limit):
    fail(client, limit)
    # Someone guessing from one network does not lock Ada out from hers.
    assert (
        sign_in(Client(), "ada@example.com", PASSWORD, ip="198.51.100.9").status_code
        == 302
    )


@pytest.mark.parametrize("username", ["ada@example.com", "ada-before@example.com"])
def test_a_successful_sign_in_resets_the_count(client, person, limit, username):
    # An account whose address changed keeps its first username: the count is the address's.
    User.objects.filter(pk=person.pk).update(username=username)
    fail(client, limit - 1)
    assert sign_in(client, "ada@example.com", PASSWORD).status_code == 302
    other = Client()
    fail(other, limit - 1)
    assert sign_in(other, "ada@example.com", PASSWORD).status_code == 302


def test_the_lockout_ends_after_the_cool_off(client, person, limit, settings):
    fail(client, limit)
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time
        - timedelta(minutes=settings.CONSOLE_SIGNIN_LOCKOUT_MINUTES, seconds=1)
    )
    assert sign_in(client, "ada@example.com", PASSWORD).status_code == 302


def test_unknown_emails_are_throttled_the_same_way(client, db, limit):
    fail(client, limit, email="nobody@example.com")
    assert sign_in(client, "nobody@example.com", "x").status_code == 429


def test_admin_sign_in_is_throttled_too(client, limit, db):
    """Django admin signs in through the console's sign-in, so the same lockout guards it."""
    UserFactory(email="root@example.com", username="root@example.com", is_staff=True)
    admin_login = reverse("admin:login")
    response = client.post(
        admin_login,
        {"username": "root@example.com", "password": PASSWORD},
        REMOTE_ADDR="192.0.2.1",
    )
    assert response.status_code == 302
    assert response.url.startswith(f"{LOGIN}?next=")
    assert "_auth_user_id" not in client.session
    fail(client, limit, email="root@example.com")
    response = sign_in(client, "root@example.com", PASSWORD)
    assert response.status_code == 429
    assert client.get(reverse("admin:index")).status_code == 302


def test_staff_can_lift_a_lockout_from_admin(client, person, limit, client_as):
    fail(client, limit)
    staff = UserFactory(is_staff=True, is_superuser=True)
    admin = client_as(staff)
    changelist = admin.get(reverse("admin:axes_accessattempt_changelist"))
    assert changelist.status_code == 200
    assert "ada@example.com" in changelist.content.decode()

    attempt = AccessAttempt.objects.get()
    admin.post(
        reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"}
    )
    assert sign_in(client, "ada@example.com", PASSWORD).status_code == 302


def test_the_lockout_page_needs_no_inline_script_or_style(client, person, limit):
    fail(client, limit)
    page = sign_in(client, "ada@example.com", PASSWORD).content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)
    assert not re.search(r"\sstyle=|<style|\son[a-z]+=", page)


def test_failed_passwords_are_not_stored(client, person, limit):
    fail(client, limit)
    attempt = AccessAttempt.objects.get()
    assert "wrong-password" not in f"{attempt.get_data} {attempt.post_data}"
