"""The token service's one pipeline: django-oauth-toolkit's backend, oauthlib's server and grant,
our validator (DESIGN.md §6). Every token, introspection and revocation answer comes out of it.

- `Call` is a request as read once: its form (parsed and checked once), the client's credentials
  (read once, from Basic or the form), the address it came from and the issuer it was sent to.
  The rate limiter and every step of the pipeline use it (`oauthlib_request.console`); nothing
  else parses the body or the Authorization header.
- `ConsoleOAuthLibCore` (OAUTH2_BACKEND_CLASS) reads the Call, applies the rate limits, builds
  oauthlib's request from the Call (the toolkit would copy and re-encode every WSGI variable, then
  oauthlib would parse the body again) and lets the server answer. The validator may decide from
  what this process remembers of the client (state.apps); the one statement that records the token
  confirms that nothing changed since (services.issued_token_record). When it did, or when a
  remembered answer is a refusal, the memory is dropped and the pipeline runs again on what the
  database says now: the answer is always the database's of the moment.
- `ClientCredentialsServer` (OAUTH2_SERVER_CLASS): only the client-credentials grant, tokens from
  ACCESS_TOKEN_GENERATOR with the app's own lifetime, introspection and revocation. Its
  `*_response_for` methods are oauthlib's endpoint methods taking the request already built.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from django.http import HttpRequest
from oauth2_provider.oauth2_backends import OAuthLibCore
from oauthlib.common import Request
from oauthlib.oauth2 import (
    BearerToken,
    ClientCredentialsGrant,
    IntrospectEndpoint,
    RevocationEndpoint,
    TokenEndpoint,
)
from oauthlib.oauth2.rfc6749 import errors, utils

from console import ratelimit
from console.http import client_ip
from console.issuer import issuer
from oauthapps.tokens import access_tokens, selectors
from oauthapps.tokens.clients import Credentials, read_credentials
from oauthapps.tokens.services import Unconfirmed

# A token request is a few hundred bytes; refuse anything far larger before parsing it.
MAX_BODY_BYTES = 16 * 1024
MAX_PARAMETERS = 32
BASIC_CHALLENGE = 'Basic realm="Cloud Services Console", charset="UTF-8"'
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
JSON_HEADERS = {
    "Content-Type": "application/json",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
}
# A decision from memory that the database did not confirm is taken again from the database;
# the third time, the answer stands (changes that fast are an attack on the service itself).
ATTEMPTS = 3

Response = tuple[dict[str, str], str, int]


@dataclass
class Decision:
    """What the validator decided in one pass of the pipeline, for the steps after it."""

    from_memory: bool = False
    memory_key: tuple | None = None  # what state.apps remembers the client under
    version: int = 0  # the token state version the app was read at (state.py)
    app: object = None
    grants: list = field(default_factory=list)
    org_id: object = None
    secret_generation: int = 0
    token: access_tokens.NewToken | None = None


@dataclass
class Call:
    """A token-service request as read once (see the module docstring)."""

    endpoint: str  # "token", "introspect" or "revoke"
    uri: str
    form: dict[str, str]
    credentials: Credentials
    ip: str
    issuer: str
    error: errors.OAuth2Error | None = None
    decision: Decision = field(default_factory=Decision)
    trust_memory: bool = True

    @classmethod
    def read(cls, request: HttpRequest, endpoint: str) -> "Call":
        form = _form(request)
        error = form if isinstance(form, errors.OAuth2Error) else None
        form = {} if error is not None else form
        return cls(
            endpoint=endpoint,
            uri=request.get_full_path(),
            form=form,
            credentials=read_credentials(
                request.META.get("HTTP_AUTHORIZATION", ""),
                form.get("client_id"),
                form.get("client_secret"),
            ),
            ip=client_ip(request),
            issuer=issuer(request),
            error=error,
        )

    def oauthlib_request(self) -> Request:
        """oauthlib's request, built from what was read (a new one for every pass)."""
        headers = {}
        if self.credentials.authorization:
            headers["Authorization"] = self.credentials.authorization
        request = Request(
            self.uri, http_method="POST", body=list(self.form.items()), headers=headers
        )
        self.decision = Decision()
        request.console = self
        return request


def _form(request: HttpRequest) -> dict[str, str] | errors.OAuth2Error:
    """The request body's parameters (each sent once), or what is wrong with it as a form, before
    any OAuth processing. An empty body is an empty form."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY_BYTES:
        return errors.InvalidRequestError(description="The request body is too large.")
    body = request.body
    if not body:
        return {}
    if (request.content_type or "").lower() != FORM_CONTENT_TYPE:
        return errors.InvalidRequestError(
            description="Send the parameters as application/x-www-form-urlencoded."
        )
    if request.content_params.get("charset", "utf-8").lower() not in ("utf-8", "utf8"):
        # A form has no other charset (as Django's own form parsing rules).
        return errors.InvalidRequestError(
            description="The request body is not valid UTF-8."
        )
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            errors="strict",
            max_num_fields=MAX_PARAMETERS,
        )
    except UnicodeDecodeError:
        return errors.InvalidRequestError(
            description="The request body is not valid UTF-8."
        )
    except ValueError:
        return errors.InvalidRequestError(
            description="The request has too many parameters."
        )
    form = dict(pairs)
    if len(form) != len(pairs):
        return errors.InvalidRequestError(
            description="A parameter is repeated; send each parameter once."
        )
    return form


def access_token_lifetime(request: Request) -> int:
    """expires_in: the app's TTL, in seconds."""
    return request.client.access_token_ttl_minutes * 60


def _lowercase_token_type(token: dict) -> dict:
    token["token_type"] = (
        "bearer"  # DESIGN.md §6 (token types are case-insensitive anyway)
    )
    return token


class ClientCredentialsServer(TokenEndpoint, IntrospectEndpoint, RevocationEndpoint):
    def __init__(
        self,
        request_validator,
        token_generator: Callable[[Request], str] | None = None,
        **kwargs,
    ) -> None:
        # The toolkit also passes settings for grants we do not offer (refresh, device): ignored.
        self.credentials_grant = ClientCredentialsGrant(request_validator)
        self.credentials_grant.register_token_modifier(_lowercase_token_type)
        self.bearer = BearerToken(
            request_validator,
            token_generator or access_tokens.generate,
            expires_in=access_token_lifetime,
        )
        TokenEndpoint.__init__(
            self,
            default_grant_type="client_credentials",
            grant_types={"client_credentials": self.credentials_grant},
            default_token_type=self.bearer,
        )
        # Hints are only hints (RFC 7009 §2.1, RFC 7662 §2.1): accept both, look at the token.
        IntrospectEndpoint.__init__(
            self,
            request_validator,
            supported_token_types=["access_token", "refresh_token"],
        )
        RevocationEndpoint.__init__(
            self,
            request_validator,
            supported_token_types=["access_token", "refresh_token"],
        )

    def token_response_for(self, request: Request) -> Response:
        """TokenEndpoint.create_token_response, from the request already built."""
        self.validate_token_request(request)
        request.scopes = utils.scope_to_list(request.scope)
        request.extra_credentials = None
        return self.credentials_grant.create_token_response(request, self.bearer)

    def introspect_response_for(self, request: Request) -> Response:
        """IntrospectEndpoint.create_introspect_response, from the request already built."""
        try:
            self.validate_introspect_request(request)
        except errors.OAuth2Error as error:
            return _error(error)
        claims = self.request_validator.introspect_token(
            request.token, request.token_type_hint, request
        )
        body = {"active": False} if claims is None else {"active": True, **claims}
        return dict(JSON_HEADERS), json.dumps(body), 200

    def revocation_response_for(self, request: Request) -> Response:
        """RevocationEndpoint.create_revocation_response, from the request already built."""
        try:
            self.validate_revocation_request(request)
        except errors.OAuth2Error as error:
            return _error(error)
        self.request_validator.revoke_token(
            request.token, request.token_type_hint, request
        )
        return {}, "", 200


def _error(error: errors.OAuth2Error) -> Response:
    headers = dict(JSON_HEADERS)
    if error.status_code == 401:
        headers["WWW-Authenticate"] = BASIC_CHALLENGE
    return headers, error.json, error.status_code


class ConsoleOAuthLibCore(OAuthLibCore):
    def create_token_response(self, request: HttpRequest) -> Response:
        return self._answer(request, "token", self.server.token_response_for)

    def create_introspect_response(self, request: HttpRequest) -> Response:
        return self._answer(request, "introspect", self.server.introspect_response_for)

    def create_revocation_response(self, request: HttpRequest) -> Response:
        return self._answer(request, "revoke", self.server.revocation_response_for)

    def _answer(
        self,
        request: HttpRequest,
        endpoint: str,
        respond: Callable[[Request], Response],
    ) -> Response:
        call = Call.read(request, endpoint)
        verdict = ratelimit.check(
            endpoint=endpoint, ip=call.ip, client_id=call.credentials.client_id
        )
        if verdict.retry_after:
            return ratelimit.refusal(verdict)
        if call.error is not None:
            headers, body, status = _error(call.error)
        else:
            headers, body, status = self._decide(call, respond)
        if status == 401:
            headers["WWW-Authenticate"] = BASIC_CHALLENGE
            ratelimit.record_failure(ip=call.ip)
        return headers, body, status

    def _decide(self, call: Call, respond: Callable[[Request], Response]) -> Response:
        """Run the pipeline; again from the database when a decision taken from memory was not
        confirmed, or was a refusal (see the module docstring)."""
        for attempt in range(1, ATTEMPTS + 1):
            last = attempt == ATTEMPTS
            request = call.oauthlib_request()
            try:
                headers, body, status = respond(request)
            except errors.OAuth2Error as error:
                return _error(error)
            except Unconfirmed:
                selectors.forget_client(call)
                call.trust_memory = False
                continue
            except selectors.BROKEN_CONNECTION_ERRORS:
                # The pooled connection broke while idle (PostgreSQL restarted): a new one, once.
                if last or not selectors.reconnect_if_broken():
                    raise
                call.trust_memory = False
                continue
            if status != 200 and call.decision.from_memory and not last:
                selectors.forget_client(call)
                call.trust_memory = False
                continue
            return headers, body, status
        return _error(
            errors.TemporarilyUnavailableError(
                description="The client's registration is changing; try again."
            )
        )
