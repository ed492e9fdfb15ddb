"""The one sign-in lockout: django-axes counts failed sign-ins and locks a person out.

It counts wrong passwords (axes sits in front of allauth's backend) and wrong second-factor codes
(accounts.forms sends them to axes as failed sign-ins), in the database (shared by every
instance), per email address and source address together (`AXES_LOCKOUT_PARAMETERS`), so a
stranger cannot lock someone out from everywhere, only from where the stranger is. After
`CONSOLE_SIGNIN_FAILURE_LIMIT` failures the pair is locked for `CONSOLE_SIGNIN_LOCKOUT_MINUTES`,
and the lockout page (429, Retry-After) says so; a completed sign-in resets the count. Staff can
lift a lockout in Django admin (Access attempts) or with `manage.py axes_reset`.

allauth's own failed-login limit is switched off (`ACCOUNT_RATE_LIMITS`), so there is one count.
"""

import math

from allauth.account import app_settings as account_settings
from axes.backends import AxesStandaloneBackend
from axes.exceptions import AxesBackendPermissionDenied
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

# Where an email address may sit in authenticate() credentials or in a sign-in form's POST:
# allauth passes `email`, its form posts `login`, Django admin and old scripts use `username`.
_EMAIL_KEYS = ("email", "login", "username")


class LockoutBackend(AxesStandaloneBackend):
    """The axes check in front of allauth's authentication backend.

    `authenticate()` without a request comes from code in the process (a management command, the
    test client's `login()`), never from a sign-in form: there is nobody to lock out, so the
    check is skipped instead of refusing, as the stock backend does.
    """

    def authenticate(self, request: HttpRequest | None, *args, **kwargs) -> None:
        if request is None:
            return None
        return super().authenticate(request, *args, **kwargs)


def username(request: HttpRequest, credentials: dict | None = None) -> str | None:
    """AXES_USERNAME_CALLABLE: the email address, trimmed and lower-cased (as allauth matches it),
    so changing its case does not start a fresh count.

    After a completed sign-in axes names the account by its username to reset the count; the
    signed-in user's email is used then, as an account's username may differ from its address
    (it keeps its first one when the address changes)."""
    user = getattr(request, "user", None)
    if (
        user is not None
        and user.is_authenticated
        and credentials == {"username": user.get_username()}
        and user.email
    ):
        return user.email.strip().lower()
    for source in (credentials or {}, getattr(request, "POST", {})):
        for key in _EMAIL_KEYS:
            value = source.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip().lower()
    return None


def is_locked_out(request: HttpRequest, email: str) -> bool:
    """Is this email address locked out from where the request comes from? Flags the request so
    the axes middleware answers with the lockout page."""
    try:
        LockoutBackend().authenticate(request, email=email)
    except AxesBackendPermissionDenied:
        request.axes_locked_out = True  # type: ignore[attr-defined]
        return True
    return False


def record_failure(request: HttpRequest, email: str) -> None:
    """Count a failed sign-in step that is not a password (a wrong second-factor code) towards the
    lockout, exactly as a wrong password counts."""
    user_login_failed.send(
        sender=__name__, credentials={"email": email}, request=request
    )


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict | None = None,
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the sign-in page's lockout message, as a page of its own."""
    minutes = settings.CONSOLE_SIGNIN_LOCKOUT_MINUTES
    response = render(
        request,
        "account/lockout.html",
        {
            "failure_limit": settings.AXES_FAILURE_LIMIT,
            "lockout_minutes": minutes,
        },
        status=429,
    )
    response["Retry-After"] = str(math.ceil(minutes * 60))
    return response


_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _window_seconds(rate: str) -> int:
    """The window of an allauth rate such as "5/m/key" or "1/180s/key", in seconds."""
    duration = rate.split("/")[1]
    return int(float(duration[:-1] or 1) * _SECONDS[duration[-1]])


def rate_limit_retry_after() -> int:
    """When allauth's rate limits let a request through again, at the latest: their longest
    window (the 429 does not say which limit was hit)."""
    windows = [
        _window_seconds(rate.strip())
        for rates in account_settings.RATE_LIMITS.values()
        if rates
        for rate in rates.split(",")
        if rate.strip()
    ]
    return max(windows, default=60)


def too_many_requests(request: HttpRequest) -> HttpResponse:
    """`handler429`, which allauth's rate limits (sign-up, password reset, reauthentication, …)
    answer through: the console's page, with Retry-After like every 429 of the console."""
    response = render(request, "429.html", status=429)
    response["Retry-After"] = str(rate_limit_retry_after())
    return response
