"""The console's HTTP vocabulary: the typed request of console pages (`AuthedRequest`) and the
method rule of the paths programs call (`json_methods`), and the address a request came from
(`client_ip`), as the rate limits and the sign-in lockout count it."""

import ipaddress
from collections.abc import Callable
from functools import lru_cache, wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django_htmx.middleware import HtmxDetails

from orgs.models import Membership, Organization


class AuthedRequest(HttpRequest):
    """A request that passed login and, for org pages, `org_access` (which sets org and membership)."""

    user: User
    htmx: HtmxDetails
    org: Organization
    membership: Membership


View = Callable[..., HttpResponse]


def json_methods(*methods: str) -> Callable[[View], View]:
    """View decorator for the paths programs call (OAuth, /.well-known, the API): any other method
    is answered 405 with `Allow` and a JSON error body, never an HTML page. GET allows HEAD.

    Also exempts the view from CSRF: these paths authenticate with the client's own credentials or
    a bearer token, never a session, and a method they refuse must meet this JSON answer rather
    than the HTML CSRF page.
    """
    allowed = set(methods) | ({"HEAD"} if "GET" in methods else set())
    allow_header = ", ".join(sorted(allowed))

    def decorator(view: View) -> View:
        @wraps(view)
        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in allowed:
                response = JsonResponse(
                    {
                        "error": "invalid_request",
                        "error_description": f"Use {' or '.join(sorted(methods))} here.",
                    },
                    status=405,
                )
                response["Allow"] = allow_header
                response["Cache-Control"] = "no-store"
                return response
            return view(request, *args, **kwargs)

        return csrf_exempt(checked)

    return decorator


def source_address(request: HttpRequest) -> str:
    """The address a request came from, as written (not yet parsed): REMOTE_ADDR, unless
    `CONSOLE_TRUSTED_PROXY_COUNT` proxies we run sit in front: then the address the outermost of
    them saw (X-Forwarded-For, counted from the right, since everything left of that was written
    by the client). Apps' IP allowlists match it (oauthapps/policies.py)."""
    address = request.META.get("REMOTE_ADDR", "") or ""
    proxies = settings.CONSOLE_TRUSTED_PROXY_COUNT
    if proxies > 0:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies:
            address = forwarded[-proxies]
    return address


def client_ip(request: HttpRequest) -> str:
    """The address a request came from (`source_address`), as the rate limits and the sign-in
    lockout count it: IPv6 addresses count per /64, the block one subscriber usually gets, so
    rotating addresses inside it does not reset the limits."""
    return _normalized(source_address(request))


@lru_cache(maxsize=1024)
def _normalized(address: str) -> str:
    """`address` as the limits count it (parsing costs more than all the rest of a check, and
    the same addresses come again and again)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return "unknown"
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def client_address(request: HttpRequest) -> str | None:
    """AXES_CLIENT_IP_CALLABLE: `client_ip`, or None when there is no address (a request made in
    the process, e.g. the test client's `force_login`), which axes stores as unknown."""
    address = client_ip(request)
    return None if address == "unknown" else address
