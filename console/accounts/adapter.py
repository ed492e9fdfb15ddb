"""Policy for django-allauth: how accounts are named, how mail looks, who reauthenticates how.

allauth runs the flows (sign-up, verification, sign-in, reset, MFA); this adapter only decides
what the console decides. Its views are never forked.
"""

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import User
from django.core.mail import EmailMessage
from django.http import HttpRequest

from console.accounts import emails
from console.http import client_address

USERNAME_MAX_LENGTH = User._meta.get_field("username").max_length


def user_display(user: AbstractBaseUser) -> str:
    """ACCOUNT_USER_DISPLAY: people are known by their email address."""
    return getattr(user, "email", "") or str(user)


class AccountAdapter(DefaultAccountAdapter):
    def populate_username(self, request: HttpRequest, user: AbstractBaseUser) -> None:
        """The username is the email address, as for every account made before allauth (admin
        lists and `createsuperuser` show it); allauth's unique name when that is taken or long."""
        email = (user.email or "").strip().lower()
        if (
            email
            and len(email) <= USERNAME_MAX_LENGTH
            and not User.objects.filter(username__iexact=email).exists()
        ):
            user.username = email
            return
        super().populate_username(request, user)

    def get_client_ip(self, request: HttpRequest) -> str:
        """The same client address the token endpoint's rate limits and the lockout use (it
        honours CONSOLE_TRUSTED_PROXY_COUNT)."""
        return client_address(request) or "unknown"

    def render_mail(
        self,
        template_prefix: str,
        email: str | list[str],
        context: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> EmailMessage:
        """allauth's plain-text message, with the console's HTML version beside it."""
        message = super().render_mail(template_prefix, email, context, headers)
        return emails.with_html_alternative(message)

    def get_reauthentication_methods(self, user: AbstractBaseUser) -> list[dict]:
        """Someone with a second factor confirms it is them with that factor, not a password (the
        sensitive console actions ask for a fresh second factor, see orgs.permissions)."""
        methods = super().get_reauthentication_methods(user)
        second_factor = [m for m in methods if m["id"].startswith("mfa_")]
        return second_factor or methods


class MFAAdapter(DefaultMFAAdapter):
    def get_totp_label(self, user: AbstractBaseUser) -> str:
        """The account's name in the authenticator app: the email address."""
        return user_display(user)
