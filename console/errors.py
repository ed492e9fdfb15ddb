"""The error handlers (`handler500`, `handler400`, `handler403`, `handler404`): what people and
scripts see when a request fails.

Scripts talking to the token service and the resource API get JSON, never an HTML page: a database
outage is `503 {"error": "temporarily_unavailable"}` with `Retry-After`, anything else
`500 {"error": "server_error"}` (RFC 6749 §4.1.2.1's codes, §5.2's shape). People get the
console's own page, rendered without the request's context processors (they query the database
that may be the thing that is down).

No handler reads the request's body: a body Django could not parse (a form in another charset, too
many fields, a broken multipart body) is what often brings a request here, and reading it again
would fail again, inside the handler (a 500). Django's stock handlers do read it (their CSRF
decorator checks the form's token), so these render the console's pages themselves.
"""

import sys

from django.core.exceptions import DisallowedHost
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string

# Paths served to programs (the token service, its aliases and metadata, the resource API).
JSON_PATH_PREFIXES = ("/oauth/", "/csp/gateway/", "/.well-known/", "/api/")
OUTAGE_RETRY_AFTER_SECONDS = 5


def is_database_outage(exc: BaseException | None) -> bool:
    """Whether an exception means the database cannot be reached (as opposed to a bug)."""
    # Django wraps the driver's errors: a refused or dropped connection (a restart) is an
    # OperationalError, a connection already closed an InterfaceError.
    return isinstance(exc, OperationalError | InterfaceError)


FALLBACK_PAGE = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>{title}</title>"
    "<h1>{title}</h1><p>Try again in a moment.</p></html>"
)


def _page(outage: bool) -> str:
    """The console's error page; a bare one if even that cannot be rendered (an error page must
    not fail in turn)."""
    try:
        return render_to_string("500.html", {"is_outage": outage})
    except Exception:
        title = "Temporarily unavailable" if outage else "Something went wrong"
        return FALLBACK_PAGE.format(title=title)


def _bad_request_page() -> str:
    try:
        return render_to_string("400.html")
    except Exception:
        return FALLBACK_PAGE.format(title="Bad request")


def server_error(request: HttpRequest) -> HttpResponse:
    outage = is_database_outage(sys.exc_info()[1])
    status = 503 if outage else 500
    if request.path.startswith(JSON_PATH_PREFIXES):
        if outage:
            body = {
                "error": "temporarily_unavailable",
                "error_description": "The service cannot reach its database; retry shortly.",
            }
        else:
            body = {
                "error": "server_error",
                "error_description": "The server hit an unexpected error.",
            }
        response: HttpResponse = JsonResponse(body, status=status)
        response["Cache-Control"] = "no-store"
    else:
        response = HttpResponse(_page(outage), status=status)
    if outage:
        response["Retry-After"] = str(OUTAGE_RETRY_AFTER_SECONDS)
    return response


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """A request Django itself refused to parse (e.g. a form body in another charset, too many
    fields): JSON `invalid_request` for programs, a plain 400 page for people (rendered without
    the request: nothing of it can be trusted to read)."""
    if request.path.startswith(JSON_PATH_PREFIXES):
        if isinstance(exception, DisallowedHost):
            description = "The Host header names no site this server answers for."
        else:
            description = (
                "The request could not be parsed. Send a UTF-8 "
                "application/x-www-form-urlencoded body (or JSON where the API takes it)."
            )
        response = JsonResponse(
            {"error": "invalid_request", "error_description": description}, status=400
        )
        response["Cache-Control"] = "no-store"
        return response
    return HttpResponse(_bad_request_page(), status=400)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """A member whose role does not allow this: the console's page, with the reason the
    permission check gave (orgs/permissions.py says who may, where it can)."""
    return render(request, "403.html", {"exception": str(exception)}, status=403)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """No such URL: JSON `not_found` for programs (an API path with a malformed ID, say), the
    console's own page for people."""
    if request.path.startswith(JSON_PATH_PREFIXES):
        response = JsonResponse(
            {
                "error": "not_found",
                "error_description": "There is nothing at this URL.",
            },
            status=404,
        )
        response["Cache-Control"] = "no-store"
        return response
    return render(request, "404.html", status=404)
