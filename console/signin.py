"""Sign-in throttling: django-axes locks a person out after repeated failed sign-ins.

django-axes counts failures in the database (shared by every instance) per email address and
source address together (`AXES_LOCKOUT_PARAMETERS`), so a stranger cannot lock someone out from
everywhere, only from where the stranger is. After `CONSOLE_SIGNIN_FAILURE_LIMIT` failures the
pair is locked for `CONSOLE_SIGNIN_LOCKOUT_MINUTES`, and the lockout page (429, Retry-After) says
so; a successful sign-in resets the count. Staff can lift a lockout in Django admin (Access
attempts) or with `manage.py axes_reset`.
"""

import math

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


class LockoutBackend(AxesStandaloneBackend):
    """The axes check in front of orgs.backends.EmailBackend.

    `authenticate()` without a request comes from code in the process (a management command, the
    test client's `login()`), never from a sign-in form: there is nobody to lock out, so the
    check is skipped instead of refusing, as the stock backend does.
    """

    def authenticate(self, request: HttpRequest | None, *args, **kwargs) -> None:
        if request is None:
            return None
        return super().authenticate(request, *args, **kwargs)


def username(request: HttpRequest, credentials: dict | None = None) -> str | None:
    """AXES_USERNAME_CALLABLE: the email as EmailBackend matches it (trimmed, any case), so
    changing its case does not start a fresh count."""
    source = credentials if credentials else getattr(request, "POST", {})
    value = source.get(settings.AXES_USERNAME_FORM_FIELD)
    return value.strip().lower() if isinstance(value, str) else None


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict | None = None,
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the sign-in page's lockout message, as a page of its own."""
    minutes = settings.CONSOLE_SIGNIN_LOCKOUT_MINUTES
    response = render(
        request,
        "registration/lockout.html",
        {
            "failure_limit": settings.AXES_FAILURE_LIMIT,
            "lockout_minutes": minutes,
        },
        status=429,
    )
    response["Retry-After"] = str(math.ceil(minutes * 60))
    return response
