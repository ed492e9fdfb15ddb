"""The toolkit's OAuth2Validator, narrowed to what this console offers (DESIGN.md §6).

- Clients are confidential server-to-server apps: they authenticate with HTTP Basic
  (client_secret_basic) or form fields (client_secret_post), never both, or, when registered for
  it, with a client assertion only (private_key_jwt: oauthapps/client_assertions.py, whose
  single-use jti is one more INSERT). They only use client_credentials. A disabled app fails
  authentication (invalid_client).
- The secret is checked with Django's check_password (constant time) against the app's hash and,
  during a rotation overlap, against the previous secret's hash. A client whose secret matched
  is then held to its app's policies (oauthapps/policies.py: the secret's expiry, the IP
  allowlist): a refusal is invalid_client with a description saying which.
- For a token request the app, its grants and their organizations' services come from this
  process's memory (state.apps) or from the database (selectors.oauth_app_for_token_request);
  server.py says how a decision from memory is confirmed.
- Per-request state lives on the call being answered (calls.current() and its Decision).
"""

import uuid

from django.contrib.auth.hashers import check_password
from django.utils import timezone
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.common import Request
from oauthlib.oauth2.rfc6749 import errors

from oauthapps import client_assertions
from oauthapps import scopes as scope_grammar
from oauthapps.models import OAuthApp
from oauthapps.services.client_policies import client_policy_refusal
from oauthapps.tokens import access_tokens, calls, selectors
from oauthapps.tokens.services import issued_token_record, issued_token_revoke

# error_description must stay within RFC 6749 §5.2's character set: never echo raw input.
MAX_ECHOED_SCOPES = 10
# RFC 7662's answer: scope, client_id and token_type, then these claims, in this order.
INTROSPECTED_CLAIMS = ["exp", "iat", "sub", "aud", "iss", "jti", "org_id"]


def parse_org_id(raw: str | None) -> tuple[uuid.UUID | None, bool]:
    """The orgId parameter as a UUID, and whether it was well formed (absent counts as well formed)."""
    try:
        return (uuid.UUID(raw) if raw else None), True
    except (ValueError, TypeError, AttributeError):
        return None, False


def matching_secret_generation(app: OAuthApp, secret: str) -> int | None:
    """The generation of the app's secret that `secret` is (the current one, or the previous one
    during a rotation's overlap), None if it is neither. Tokens record it (models.IssuedToken)."""
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


class ConsoleOAuth2Validator(OAuth2Validator):
    def client_authentication_required(self, request: Request, *args, **kwargs) -> bool:
        return True  # every app is a confidential client

    def authenticate_client_id(self, client_id, request, *args, **kwargs) -> bool:
        return False  # no public clients

    def authenticate_client(self, request: Request, *args, **kwargs) -> bool:
        call = calls.current()
        if client_assertions.presented(request):  # private_key_jwt (RFC 7523 §2.2)
            app = client_assertions.authenticate(
                request,
                issuer=call.issuer,
                load_app=lambda client_id: self._app(call, client_id),
                record_use=not call.assertion_used,
            )
            call.assertion_used = True
            generation = app.secret_generation
        else:
            client_id, secret = call.credentials(request)
            app = self._app(call, client_id)
            generation = None
            if app is not None and not app.is_disabled:
                if app.uses_private_key_jwt:
                    raise errors.InvalidClientError(
                        description=client_assertions.SECRET_NOT_ACCEPTED,
                        request=request,
                    )
                generation = matching_secret_generation(app, secret)
            # One answer for unknown, wrong and disabled: the response must not tell them apart.
            if generation is None:
                raise errors.InvalidClientError(
                    description="Client authentication failed.", request=request
                )
        refusal = client_policy_refusal(
            app, generation, call.source_address, record=not call.decision.from_memory
        )
        if refusal is not None:
            raise errors.InvalidClientError(description=refusal, request=request)
        call.decision.secret_generation = generation
        request.client = app
        request.client_id = app.client_id
        return True

    def _app(self, call: calls.Call, client_id: str) -> OAuthApp | None:
        """The client's app; for a token request with the grants the org rules choose from,
        remembered or read now."""
        if call.endpoint != "token":
            return selectors.oauth_app_by_client_id(client_id=client_id)
        decision = call.decision
        # A malformed orgId is refused by validate_scopes, once the client is authenticated.
        org_id = parse_org_id(call.form.get("orgId"))[0]
        decision.memory_key = (client_id, org_id)
        remembered = call.trust_memory and selectors.remembered_app(client_id, org_id)
        if remembered:
            decision.from_memory = True
            decision.version, (app, decision.grants) = remembered
        else:
            decision.version, app, decision.grants = (
                selectors.oauth_app_for_token_request(
                    client_id=client_id, org_id=org_id
                )
            )
        return app

    def validate_grant_type(
        self, client_id, grant_type, client: OAuthApp, request, *args, **kwargs
    ) -> bool:
        return (
            grant_type == "client_credentials"
            and client.app_type == OAuthApp.AppType.SERVER_TO_SERVER
            and client.allows_grant_type(OAuthApp.GRANT_CLIENT_CREDENTIALS)
        )

    def get_default_scopes(self, client_id, request, *args, **kwargs) -> list[str]:
        return []  # validate_scopes defaults to everything granted in the token's organization

    def validate_scopes(
        self, client_id, scopes, client: OAuthApp, request: Request, *args, **kwargs
    ) -> bool:
        """Choose the token's organization (DESIGN.md §6), then its effective scope (§3): the
        requested scopes (default: all granted in the organization), minus those of services it
        lacks. Raises the RFC 6749 §5.2 error with a description rather than returning False."""
        call = calls.current()
        grant = self._grant(call, client, request)
        requested = request.scope.split() if request.scope else None
        if requested is not None:
            if not all(scope_grammar.is_well_formed(value) for value in requested):
                raise errors.InvalidScopeError(
                    description="Scopes look like org:<role> or svc:<service>:<role>, "
                    "separated by spaces.",
                    request=request,
                )
            not_granted = sorted(set(requested) - set(grant.scopes))
            if not_granted:
                raise errors.InvalidScopeError(
                    description="The app was not granted these scopes in the organization: "
                    + " ".join(not_granted[:MAX_ECHOED_SCOPES]),
                    request=request,
                )
        request.scopes = scope_grammar.effective(
            requested, grant.scopes, grant.service_slugs
        )
        if not request.scopes:
            raise errors.InvalidScopeError(
                description="No scope is left: the organization does not contain the services "
                "these scopes are for.",
                request=request,
            )
        call.decision.org_id = grant.org_id
        return True

    def _grant(self, call: calls.Call, client: OAuthApp, request: Request):
        """The grant that gives the token its organization (DESIGN.md §6), from those that
        selectors.oauth_app_for_token_request found."""
        grants = call.decision.grants
        requested_org_id, org_id_valid = parse_org_id(call.form.get("orgId"))
        if not org_id_valid:
            raise errors.InvalidRequestError(
                description="orgId must be an organization ID (a UUID).",
                request=request,
            )
        if not grants:
            raise errors.InvalidGrantError(
                description=f"The app has not been added to organization {requested_org_id}."
                if requested_org_id
                else "The app has not been added to any organization yet. An Owner adds it "
                "from the app's page.",
                request=request,
            )
        if (
            requested_org_id
            or grants[0].org_id == client.organization_id
            or len(grants) == 1
        ):
            return grants[0]
        raise errors.InvalidRequestError(
            description="The app was added to several organizations: choose one with the "
            "orgId parameter.",
            request=request,
        )

    def save_bearer_token(self, token: dict, request: Request, *args, **kwargs) -> None:
        """Record the token's row, if nothing changed since the app was read (else the token is
        dropped unsent and the pipeline decides again: services.Unconfirmed)."""
        decision = calls.current().decision
        issued_token_record(
            version=decision.version if decision.from_memory else None,
            token=decision.token,
            app_id=request.client.pk,
            organization_id=decision.org_id,
            secret_generation=decision.secret_generation,
        )

    def introspect_token(
        self, token, token_type_hint, request, *args, **kwargs
    ) -> dict | None:
        """RFC 7662: the claims of an active token of the calling app; None (inactive) otherwise."""
        try:
            verified = access_tokens.verify(token, issuer=calls.current().issuer)
        except access_tokens.InvalidAccessToken:
            return None
        if verified.client_id != request.client.client_id:
            return None
        if selectors.issued_token_active(jti=verified.jti) is None:
            return None
        claims = verified.claims
        answer = {"scope": claims["scope"], "client_id": claims["client_id"]}
        answer["token_type"] = "bearer"
        return answer | {name: claims[name] for name in INTROSPECTED_CLAIMS}

    def revoke_token(self, token, token_type_hint, request, *args, **kwargs) -> None:
        """RFC 7009: revoke the calling app's token. Unknown or expired tokens need nothing done;
        another app's token is refused (unauthorized_client), as RFC 7009 §2.1 asks."""
        try:
            verified = access_tokens.verify(token, issuer=calls.current().issuer)
        except access_tokens.InvalidAccessToken:
            return
        if verified.client_id != request.client.client_id:
            raise errors.UnauthorizedClientError(
                description="The token was issued to another client.", request=request
            )
        issued_token_revoke(app=request.client, jti=verified.jti)
