"""The toolkit's OAuth2Validator, narrowed to what this console offers and made lean.

- Clients are confidential server-to-server apps: they authenticate with HTTP Basic
  (client_secret_basic) or form fields (client_secret_post), never both, and only use
  client_credentials. A disabled app fails authentication (invalid_client). An app registered
  for private_key_jwt authenticates with a client assertion instead, and only so: that branch is
  oauthapps/client_assertions.py (one more INSERT, the assertion's single-use jti).
- The secret is checked with Django's check_password (constant time) against the app's hash and,
  during a rotation overlap, against the previous secret's hash.
- One query loads the app with the grants and service slugs the org rules need (DESIGN.md §6), one
  INSERT records the issued token. Nothing else touches the database on this path. On a warm
  worker the query only confirms that nothing changed since this process last read the app
  (selectors.oauth_app_for_token_request, state.py).
- The rules are also module functions (`basic_credentials`, `choose_grant`, `effective_scopes`, …):
  the token endpoint's fast path (fast.py) applies the same ones to what the process remembers.
"""

import base64
import binascii
import uuid
from urllib.parse import unquote_plus

from django.contrib.auth.hashers import check_password
from django.utils import timezone
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.common import Request
from oauthlib.oauth2.rfc6749 import errors

from oauthapps import client_assertions
from oauthapps import scopes as scope_grammar
from oauthapps.models import OAuthApp
from oauthapps.tokens import access_tokens, selectors
from oauthapps.tokens.services import issued_token_record, issued_token_revoke

# error_description must stay within RFC 6749 §5.2's character set: never echo raw input.
MAX_ECHOED_SCOPES = 10


def basic_credentials(header: str) -> tuple[str, str] | None:
    """(client_id, secret) from an `Authorization: Basic` header value, None without a header.

    A Basic header that cannot be decoded is a failed authentication, reported as ("", "").
    RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
    """
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return ("", "")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ("", "")
    client_id, separator, secret = decoded.partition(":")
    if not separator:
        return ("", "")
    return unquote_plus(client_id), unquote_plus(secret)


def client_credentials(
    authorization: str,
    form_client_id: str | None,
    form_secret: str | None,
    *,
    request: Request | None = None,
) -> tuple[str, str]:
    """(client_id, secret) as the request presents them, in exactly one way: HTTP Basic, or
    client_id and client_secret in the body (RFC 6749 §2.3.1); raises the §5.2 error otherwise.
    The secret is not checked here."""
    basic = basic_credentials(authorization)
    # RFC 6749 §3.2: a parameter sent without a value counts as omitted.
    form_secret = form_secret or None
    if basic is not None:
        if form_secret is not None:
            raise errors.InvalidRequestError(
                description="Use one way to authenticate the client: HTTP Basic or client_secret in the body, not both.",
                request=request,
            )
        client_id, secret = basic
        if form_client_id and form_client_id != client_id:
            raise errors.InvalidRequestError(
                description="The client_id in the body differs from the one in the Authorization header.",
                request=request,
            )
    else:
        client_id, secret = form_client_id or "", form_secret
    if not client_id or secret is None:
        raise errors.InvalidClientError(
            description="Authenticate the client: HTTP Basic with the client ID and secret, "
            "or client_id and client_secret in the body.",
            request=request,
        )
    return client_id, secret


def parse_org_id(raw: str | None) -> tuple[uuid.UUID | None, bool]:
    """The orgId parameter as a UUID, and whether it was well formed (absent counts as well formed)."""
    if not raw:
        return None, True
    try:
        return uuid.UUID(raw), True
    except (ValueError, TypeError, AttributeError):
        return None, False


def matching_secret_generation(app: OAuthApp, secret: str) -> int | None:
    """The generation of the app's secret that `secret` is (the current one, or the previous one
    during a rotation's overlap), None if it is neither. Tokens record it (models.IssuedToken).
    An app that authenticates with private_key_jwt has no secret that works."""
    if app.uses_private_key_jwt:
        return None
    if check_password(secret, app.client_secret):
        return app.secret_generation
    if (
        app.previous_client_secret
        and app.previous_secret_expires_at
        and app.previous_secret_expires_at > timezone.now()
        and check_password(secret, app.previous_client_secret)
    ):
        return app.secret_generation - 1  # a rotation made the current one from it
    return None


def choose_grant(
    grants: list[selectors.OrgGrant],
    *,
    requested_org_id: uuid.UUID | None,
    org_id_valid: bool,
    owning_org_id: uuid.UUID,
    request: Request | None = None,
) -> selectors.OrgGrant:
    """The grant that gives the token its organization (DESIGN.md §6), from the grants that
    selectors.oauth_app_for_token_request found; raises the RFC 6749 §5.2 error otherwise."""
    if not org_id_valid:
        raise errors.InvalidRequestError(
            description="orgId must be an organization ID (a UUID).",
            request=request,
        )
    if requested_org_id is not None:
        if not grants:
            raise errors.InvalidGrantError(
                description=f"The app has not been added to organization {requested_org_id}.",
                request=request,
            )
        return grants[0]
    if not grants:
        raise errors.InvalidGrantError(
            description="The app has not been added to any organization yet. An Owner adds it from the app's page.",
            request=request,
        )
    if grants[0].org_id == owning_org_id or len(grants) == 1:
        return grants[0]
    raise errors.InvalidRequestError(
        description="The app was added to several organizations: choose one with the orgId parameter.",
        request=request,
    )


def effective_scopes(
    scope: str | None,
    grant: selectors.OrgGrant,
    *,
    request: Request | None = None,
) -> list[str]:
    """The token's scopes (DESIGN.md §3): the requested ones (default: all granted in the
    organization), minus those of services it lacks; raises invalid_scope otherwise."""
    requested = scope.split() if scope else None
    if requested is not None:
        malformed = [
            value for value in requested if not scope_grammar.is_well_formed(value)
        ]
        if malformed:
            raise errors.InvalidScopeError(
                description="Scopes look like org:<role> or svc:<service>:<role>, separated by spaces.",
                request=request,
            )
        not_granted = sorted(set(requested) - set(grant.scopes))
        if not_granted:
            raise errors.InvalidScopeError(
                description="The app was not granted these scopes in the organization: "
                + " ".join(not_granted[:MAX_ECHOED_SCOPES]),
                request=request,
            )
    effective = scope_grammar.effective(requested, grant.scopes, grant.service_slugs)
    if not effective:
        raise errors.InvalidScopeError(
            description="No scope is left: the organization does not contain the services these scopes are for.",
            request=request,
        )
    return effective


def may_use_client_credentials(app: OAuthApp) -> bool:
    return app.app_type == OAuthApp.AppType.SERVER_TO_SERVER and app.allows_grant_type(
        OAuthApp.GRANT_CLIENT_CREDENTIALS
    )


class ConsoleOAuth2Validator(OAuth2Validator):
    def client_authentication_required(self, request: Request, *args, **kwargs) -> bool:
        return True  # every app is a confidential client

    def authenticate_client_id(
        self, client_id: str, request: Request, *args, **kwargs
    ) -> bool:
        return False  # no public clients

    def authenticate_client(self, request: Request, *args, **kwargs) -> bool:
        if client_assertions.presented(request):  # private_key_jwt (RFC 7523 §2.2)
            app = client_assertions.authenticate(
                request,
                issuer=request.headers.get(access_tokens.ISSUER_HEADER),
                load_app=lambda client_id: self._load_app(client_id, request),
            )
            request.console_secret_generation = app.secret_generation
            request.client, request.client_id = app, app.client_id
            return True
        client_id, secret = client_credentials(
            request.headers.get("Authorization", ""),
            request.client_id,
            request.client_secret,
            request=request,
        )
        app = self._load_app(client_id, request)
        if app is not None and app.uses_private_key_jwt and not app.is_disabled:
            raise errors.InvalidClientError(
                description=client_assertions.SECRET_NOT_ACCEPTED, request=request
            )
        generation = None
        if app is not None and not app.is_disabled:
            generation = matching_secret_generation(app, secret)
        # One answer for unknown, wrong and disabled: the response must not tell them apart.
        if generation is None:
            raise errors.InvalidClientError(
                description="Client authentication failed.", request=request
            )
        request.console_secret_generation = generation
        request.client = app
        request.client_id = app.client_id
        return True

    def _load_app(self, client_id: str, request: Request) -> OAuthApp | None:
        """The app, plus (for a token request) the grants the org rules choose from."""
        if request.grant_type != "client_credentials":
            return selectors.oauth_app_by_client_id(client_id=client_id)
        org_id, request.console_org_id_valid = parse_org_id(
            getattr(request, "orgId", None)
        )
        app, request.console_grants = selectors.oauth_app_for_token_request(
            client_id=client_id, org_id=org_id
        )
        request.console_requested_org_id = org_id
        return app

    def validate_grant_type(
        self,
        client_id: str,
        grant_type: str,
        client: OAuthApp,
        request: Request,
        *args,
        **kwargs,
    ) -> bool:
        return grant_type == "client_credentials" and may_use_client_credentials(client)

    def get_default_scopes(
        self, client_id: str, request: Request, *args, **kwargs
    ) -> list[str]:
        return []  # validate_scopes defaults to everything granted in the token's organization

    def validate_scopes(
        self,
        client_id: str,
        scopes: list[str],
        client: OAuthApp,
        request: Request,
        *args,
        **kwargs,
    ) -> bool:
        """Choose the token's organization (DESIGN.md §6), then its effective scope (§3).

        Raises the RFC 6749 §5.2 error with a description rather than returning False.
        """
        grant = choose_grant(
            request.console_grants,
            requested_org_id=request.console_requested_org_id,
            org_id_valid=request.console_org_id_valid,
            owning_org_id=request.client.organization_id,
            request=request,
        )
        request.scopes = effective_scopes(request.scope, grant, request=request)
        request.console_org_id = grant.org_id
        return True

    def save_bearer_token(self, token: dict, request: Request, *args, **kwargs) -> None:
        issued_token_record(
            jti=request.console_jti,
            app_id=request.client.pk,
            organization_id=request.console_org_id,
            scope=token["scope"],
            issued_at=request.console_issued_at,
            expires_at=request.console_expires_at,
            secret_generation=request.console_secret_generation,
        )

    def introspect_token(
        self, token: str, token_type_hint: str | None, request: Request, *args, **kwargs
    ) -> dict | None:
        """RFC 7662: the claims of an active token of the calling app; None (inactive) otherwise."""
        try:
            verified = access_tokens.verify(
                token, issuer=request.headers.get(access_tokens.ISSUER_HEADER)
            )
        except access_tokens.InvalidAccessToken:
            return None
        if verified.client_id != request.client.client_id:
            return None
        if selectors.issued_token_active(jti=verified.jti) is None:
            return None
        claims = verified.claims
        return {
            "scope": claims["scope"],
            "client_id": claims["client_id"],
            "token_type": "bearer",
            "exp": claims["exp"],
            "iat": claims["iat"],
            "sub": claims["sub"],
            "aud": claims["aud"],
            "iss": claims["iss"],
            "jti": claims["jti"],
            "org_id": claims["org_id"],
        }

    def revoke_token(
        self, token: str, token_type_hint: str | None, request: Request, *args, **kwargs
    ) -> None:
        """RFC 7009: revoke the calling app's token. Unknown or expired tokens need nothing done;
        another app's token is refused (unauthorized_client), as RFC 7009 §2.1 asks."""
        try:
            verified = access_tokens.verify(
                token, issuer=request.headers.get(access_tokens.ISSUER_HEADER)
            )
        except access_tokens.InvalidAccessToken:
            return
        if verified.client_id != request.client.client_id:
            raise errors.UnauthorizedClientError(
                description="The token was issued to another client.", request=request
            )
        issued_token_revoke(app=request.client, jti=verified.jti)
