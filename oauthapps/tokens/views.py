"""The token service's HTTP endpoints (DESIGN.md §6). Public: no session, no CSRF token; clients
authenticate with their own credentials where the RFCs ask for it. Token, introspection and
revocation are answered by the one pipeline (server.py), rate limits included."""

from collections.abc import Callable
from functools import cache

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters
from oauth2_provider.oauth2_backends import get_oauthlib_core

from console.http import json_methods
from console.issuer import issuer
from oauthapps import client_assertions
from oauthapps import scopes as scope_grammar
from oauthapps.selectors import known_scopes
from oauthapps.tokens import keys
from oauthapps.tokens.server import ConsoleOAuthLibCore

AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]
# The JWS algorithms of client assertions (private_key_jwt).
AUTH_SIGNING_ALGS = list(client_assertions.ALGORITHMS)
# Public documents: short enough that a rotated key or a new service shows up quickly.
PUBLIC_CACHE = "public, max-age=60"


@cache
def oauthlib_core() -> ConsoleOAuthLibCore:
    """The toolkit's backend (settings.OAUTH2_PROVIDER), built once: it keeps no per-request state."""
    return get_oauthlib_core()


def _url(request: HttpRequest, name: str) -> str:
    return issuer(request) + reverse(name)


def _pipeline_endpoint(answer: str, *sensitive: str) -> Callable[..., HttpResponse]:
    """A POST endpoint answered by the pipeline's method `answer` (create_token_response, ...)."""

    @json_methods("POST")
    @login_not_required
    @sensitive_post_parameters("client_secret", "client_assertion", *sensitive)
    def endpoint(request: HttpRequest) -> HttpResponse:
        headers, body, status = getattr(oauthlib_core(), answer)(request)
        return HttpResponse(body, status=status, headers=headers)

    return endpoint


token = _pipeline_endpoint("create_token_response")
introspect = _pipeline_endpoint("create_introspect_response", "token")
revoke = _pipeline_endpoint("create_revocation_response", "token")


def _public(body: dict) -> JsonResponse:
    response = JsonResponse(body)
    response["Cache-Control"] = PUBLIC_CACHE
    return response


@json_methods("GET")
@login_not_required
def authorization_server_metadata(request: HttpRequest) -> JsonResponse:
    return _public(
        {
            "issuer": issuer(request),
            "token_endpoint": _url(request, "oauth:token"),
            "jwks_uri": _url(request, "oauth:jwks"),
            "introspection_endpoint": _url(request, "oauth:introspect"),
            "revocation_endpoint": _url(request, "oauth:revoke"),
            "grant_types_supported": ["client_credentials"],
            # Required by RFC 8414; empty because there is no authorization endpoint.
            "response_types_supported": [],
            "token_endpoint_auth_methods_supported": AUTH_METHODS,
            "token_endpoint_auth_signing_alg_values_supported": AUTH_SIGNING_ALGS,
            "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
            "introspection_endpoint_auth_signing_alg_values_supported": AUTH_SIGNING_ALGS,
            "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
            "revocation_endpoint_auth_signing_alg_values_supported": AUTH_SIGNING_ALGS,
            "scopes_supported": scope_grammar.normalize(known_scopes()),
            "service_documentation": _url(request, "api:openapi"),
        }
    )


@json_methods("GET")
@login_not_required
def jwks(request: HttpRequest) -> JsonResponse:
    return _public(keys.jwks())


@json_methods("GET")
@login_not_required
def token_public_key(request: HttpRequest) -> JsonResponse:
    """The cloned console's key endpoint: `format=jwks` lists every published key, `format=pem`
    (its default) gives the current one."""
    key_format = request.GET.get("format", "pem")
    if key_format not in ("jwks", "pem"):
        description = "format must be jwks or pem."
        body = {"error": "invalid_request", "error_description": description}
        return JsonResponse(body, status=400)
    current = keys.signing_key()
    found = keys.jwks() if key_format == "jwks" else {"value": current.public_pem}
    return _public({"alg": current.algorithm, "issuer": issuer(request), **found})
