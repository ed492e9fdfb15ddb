"""Bearer-token access to the resource API: which scopes each endpoint needs, and the check.

A request passes when its access token (RFC 6750 `Authorization: Bearer`) has a valid signature,
has not expired (both checked offline, access_tokens.verify), is still active (one query:
not revoked, app not disabled, app still in the org; selectors.issued_token_active), belongs to the
organization in the URL (else 404, as for people) and carries a scope the endpoint accepts
(else 403 insufficient_scope). These scope rules are the API's whole policy, in one place.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any
from uuid import UUID

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from console.issuer import issuer
from oauthapps.scopes import ORG_SCOPE_VALUES
from oauthapps.tokens import access_tokens, selectors

REALM = "Cloud Services Console API"


@dataclass(frozen=True)
class ScopeRule:
    """What an endpoint needs: any one scope that `accepts` (scope, URL kwargs) is enough."""

    summary: str
    accepts: Callable[[str, dict[str, Any]], bool]
    listed: Callable[[dict[str, Any]], list[str]]

    def allows(self, scopes: frozenset[str], kwargs: dict[str, Any]) -> bool:
        return any(self.accepts(scope, kwargs) for scope in scopes)


ANY_ORG_ROLE = ScopeRule(
    summary="any organization role (org:owner, org:admin or org:member)",
    accepts=lambda scope, kwargs: scope in ORG_SCOPE_VALUES,
    listed=lambda kwargs: ["org:owner", "org:admin", "org:member"],
)
ORG_ADMIN = ScopeRule(
    summary="org:admin or org:owner",
    accepts=lambda scope, kwargs: scope in ("org:owner", "org:admin"),
    listed=lambda kwargs: ["org:owner", "org:admin"],
)
ANY_ROLE = ScopeRule(
    summary="any scope in the organization",
    accepts=lambda scope, kwargs: True,
    listed=lambda kwargs: [],
)
ANY_SERVICE_ROLE = ScopeRule(
    summary="any role of the service (svc:<service>:<role>)",
    accepts=lambda scope, kwargs: scope.startswith(f"svc:{kwargs['service_slug']}:"),
    listed=lambda kwargs: [],
)
SERVICE_ADMIN = ScopeRule(
    summary="the service's admin role (svc:<service>:admin)",
    accepts=lambda scope, kwargs: scope == f"svc:{kwargs['service_slug']}:admin",
    listed=lambda kwargs: [f"svc:{kwargs['service_slug']}:admin"],
)


def api_error(status: int, error: str, description: str) -> JsonResponse:
    response = JsonResponse(
        {"error": error, "error_description": description}, status=status
    )
    response["Cache-Control"] = "no-store"
    return response


def _challenge(response: JsonResponse, **params: str) -> JsonResponse:
    # RFC 6750 §3: the values we send never contain quotes or backslashes.
    attributes = [f'realm="{REALM}"'] + [
        f'{name}="{value}"' for name, value in params.items()
    ]
    response["WWW-Authenticate"] = "Bearer " + ", ".join(attributes)
    return response


def _unauthorized(description: str) -> JsonResponse:
    return _challenge(
        api_error(401, "invalid_token", description),
        error="invalid_token",
        error_description=description,
    )


def bearer_token(request: HttpRequest) -> str | None:
    # META, not request.headers: that builds a map of every header first, on every API call.
    scheme, _, value = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def token_access(
    rule: ScopeRule,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """View decorator for `/api/v1/orgs/<org_id>/…`: 401, 404 or 403 as described above, else sets
    `request.access_token` (the IssuedToken, with `organization`), `request.access_token_claims`
    and `request.org`."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, org_id: UUID, **kwargs: Any) -> HttpResponse:
            value = bearer_token(request)
            if value is None:
                # RFC 6750 §3.1: no error code when the request carried no token at all.
                return _challenge(
                    api_error(
                        401,
                        "unauthorized",
                        "This API needs an access token: send Authorization: Bearer <token>.",
                    )
                )
            try:
                claims = access_tokens.verify(value, issuer=issuer(request))
            except access_tokens.InvalidAccessToken as exc:
                return _unauthorized(str(exc))
            token = selectors.issued_token_active(jti=claims.jti)
            if token is None:
                return _unauthorized("The access token has been revoked.")
            if token.organization_id != org_id:
                return api_error(404, "not_found", "No such organization.")
            if not rule.allows(claims.scopes, kwargs):
                description = f"This needs {rule.summary}."
                listed = rule.listed(kwargs)
                params = {"scope": " ".join(listed)} if listed else {}
                return _challenge(
                    api_error(403, "insufficient_scope", description),
                    error="insufficient_scope",
                    error_description=description,
                    **params,
                )
            request.access_token = token  # type: ignore[attr-defined]
            request.access_token_claims = claims  # type: ignore[attr-defined]
            request.org = token.organization  # type: ignore[attr-defined]
            return view(request, org_id, **kwargs)

        # Scripts call the API: no session login, no CSRF token (a bearer token is not ambient).
        return csrf_exempt(login_not_required(wrapper))

    return decorator
