"""The token service's HTTP endpoints (DESIGN.md §6). Public: no session, no CSRF token; clients
authenticate with their own credentials where the RFCs ask for it."""

from functools import cache

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_POST
from oauth2_provider.oauth2_backends import get_oauthlib_core

from console.issuer import issuer
from console.ratelimit import rate_limited
from oauthapps import client_assertions
from oauthapps import scopes as scope_grammar
from oauthapps.selectors import known_scopes
from oauthapps.tokens import fast, keys
from oauthapps.tokens.server import ConsoleOAuthLibCore

AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]
# The JWS algorithms of client assertions (private_key_jwt).
AUTH_SIGNING_ALGS = list(client_assertions.ALGORITHMS)
# Public documents: short enough that a rotated key or a new service shows up quickly.
PUBLIC_CACHE = "public, max-age=60"


@cache
def oauthlib_core() -> ConsoleOAuthLibCore:
    """The toolkit's backend around our server and validator (settings.OAUTH2_PROVIDER), built once
    per process: it holds no per-request state."""
    return get_oauthlib_core()


def _oauth_response(headers: dict[str, str], body: str, status: int) -> HttpResponse:
    response = HttpResponse(body, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


def _url(request: HttpRequest, name: str) -> str:
    return issuer(request) + reverse(name)


@require_POST
@rate_limited("token")
@csrf_exempt
@login_not_required
@sensitive_post_parameters("client_secret", "client_assertion")
def token(request: HttpRequest) -> HttpResponse:
    # A valid request from a client this process knows, confirmed in one statement (fast.py);
    # anything else, oauthlib decides.
    response = fast.token_response(request)
    if response is None:
        response = _oauth_response(*oauthlib_core().create_token_response(request))
    return response


@require_POST
@rate_limited("introspect")
@csrf_exempt
@login_not_required
@sensitive_post_parameters("client_secret", "client_assertion", "token")
def introspect(request: HttpRequest) -> HttpResponse:
    return _oauth_response(*oauthlib_core().create_introspect_response(request))


@require_POST
@rate_limited("revoke")
@csrf_exempt
@login_not_required
@sensitive_post_parameters("client_secret", "client_assertion", "token")
def revoke(request: HttpRequest) -> HttpResponse:
    return _oauth_response(*oauthlib_core().create_revocation_response(request))


@require_GET
@login_not_required
def authorization_server_metadata(request: HttpRequest) -> JsonResponse:
    metadata = {
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
    response = JsonResponse(metadata)
    response["Cache-Control"] = PUBLIC_CACHE
    return response


@require_GET
@login_not_required
def jwks(request: HttpRequest) -> JsonResponse:
    response = JsonResponse(keys.jwks())
    response["Cache-Control"] = PUBLIC_CACHE
    return response


@require_GET
@login_not_required
def token_public_key(request: HttpRequest) -> JsonResponse:
    """The cloned console's key endpoint: `format=jwks` lists every published key, `format=pem`
    (its default) gives the current one."""
    key_format = request.GET.get("format", "pem")
    if key_format == "jwks":
        body = {"alg": keys.ALGORITHM, "issuer": issuer(request), **keys.jwks()}
    elif key_format == "pem":
        body = {
            "alg": keys.ALGORITHM,
            "issuer": issuer(request),
            "value": keys.signing_key().public_pem,
        }
    else:
        return JsonResponse(
            {
                "error": "invalid_request",
                "error_description": "format must be jwks or pem.",
            },
            status=400,
        )
    response = JsonResponse(body)
    response["Cache-Control"] = PUBLIC_CACHE
    return response
