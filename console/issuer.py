"""The console's public URL: its OAuth issuer (the tokens' `iss`; their `aud` is it plus /api/v1)
and the base of every URL handed to scripts (the credentials JSON, the app page's snippets, the
OpenAPI document, the OAuth metadata).

One rule, one function: CONSOLE_ISSUER when it is set (production must set it: settings refuse to
start without it when DEBUG is off). In development without it, the scheme, host and port the
request came in on, so `make run PORT=8765` hands out URLs and tokens that work on port 8765.
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest


def issuer(request: HttpRequest | None = None) -> str:
    """The issuer, without a trailing slash. `request` is needed only in development without
    CONSOLE_ISSUER (what else calls this, e.g. a management command, needs CONSOLE_ISSUER)."""
    if settings.CONSOLE_ISSUER:
        return settings.CONSOLE_ISSUER
    if request is None:
        raise ImproperlyConfigured(
            "CONSOLE_ISSUER is not set and there is no request to take the console's URL "
            "from: set CONSOLE_ISSUER to the URL the console is served at, e.g. "
            "http://127.0.0.1:8000."
        )
    return f"{request.scheme}://{request.get_host()}"
