"""The console's HTTP vocabulary: the typed request of console pages (`AuthedRequest`) and the
method rule of the paths programs call (`json_methods`)."""

from collections.abc import Callable
from functools import wraps
from typing import Any

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
