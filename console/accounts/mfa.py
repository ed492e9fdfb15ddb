"""What the console needs to know about someone's second factor, from allauth.mfa.

The rules that use these facts (who must have MFA, which actions need a fresh code) live in
orgs.permissions; this module only reads allauth's records and sends people to its pages.
"""

import time
from urllib.parse import urlencode

from allauth.account.authentication import get_authentication_records
from allauth.core.exceptions import ReauthenticationRequired
from allauth.mfa.adapter import get_adapter
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.models import AnonymousUser, User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect


def has_mfa(user: User | AnonymousUser) -> bool:
    """Has the user turned on a second factor (an authenticator app)?"""
    return user.is_authenticated and get_adapter().is_mfa_enabled(user)


def is_second_factor_fresh(request: HttpRequest) -> bool:
    """Did the signed-in user enter a second-factor code in this session within
    ACCOUNT_REAUTHENTICATION_TIMEOUT (15 minutes), at sign-in or when asked again?"""
    records = get_authentication_records(request, request.user)
    used_at = [r["at"] for r in records if r.get("method") == "mfa"]
    return bool(used_at) and (
        time.time() - max(used_at) < settings.ACCOUNT_REAUTHENTICATION_TIMEOUT
    )


def ask_for_second_factor(request: HttpRequest) -> HttpResponse:
    """Send the user to enter a code; allauth then carries on with the request that asked (a
    POST is replayed). An htmx request is sent to the code page as a whole page."""
    if getattr(request, "htmx", False):
        query = urlencode({REDIRECT_FIELD_NAME: request.get_full_path()})
        return HttpResponseClientRedirect(f"{reverse('mfa_reauthenticate')}?{query}")
    raise ReauthenticationRequired()


def send_to_mfa_setup(request: HttpRequest, org_name: str) -> HttpResponse:
    """The page that turns on an authenticator app, with the reason why (as a whole page for an
    htmx request, not swapped into the fragment that asked)."""
    messages.warning(
        request,
        f"{org_name} requires two-factor authentication for Owners and Administrators. "
        "Set up an authenticator app to continue.",
    )
    if getattr(request, "htmx", False):
        return HttpResponseClientRedirect(reverse("mfa_activate_totp"))
    return redirect("mfa_activate_totp")
