"""The oauthlib server and the toolkit backend that the token, introspection and revocation views use.

`ClientCredentialsServer` is the toolkit's OAUTH2_SERVER_CLASS: only the client-credentials grant,
bearer tokens minted by ACCESS_TOKEN_GENERATOR with the app's own lifetime, introspection and
revocation. `ConsoleOAuthLibCore` is its OAUTH2_BACKEND_CLASS: it rejects what must never reach
oauthlib (oversized or non-UTF-8 bodies, other content types, repeated parameters) with a clean
RFC 6749 §5.2 error, and answers a failed client authentication with the Basic challenge §5.2 asks
for instead of oauthlib's Bearer one (none to a client that sent a client assertion).

The token endpoint (the hot path) hands its request straight to oauthlib's client-credentials
grant: the grant, our validator and the token handler decide everything as before, and the
responses are the same bytes (tests/tokens/test_lean_token_path.py compares them). What it skips
is general-purpose work that costs more than the rest of oauthlib together: the toolkit copying
and oauthlib re-encoding every WSGI variable as a header, and url-encoding the already parsed form
only for oauthlib to parse it again. Only `Authorization` is read from the headers.
"""

from collections.abc import Callable
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

from console.issuer import issuer
from oauthapps.tokens import access_tokens

# A token request is a few hundred bytes; refuse anything far larger before parsing it.
MAX_BODY_BYTES = 16 * 1024
MAX_PARAMETERS = 32
BASIC_CHALLENGE = 'Basic realm="Cloud Services Console", charset="UTF-8"'
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
ERROR_HEADERS = {
    "Content-Type": "application/json",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
}

Response = tuple[dict[str, str], str, int]


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


def _error(error: errors.OAuth2Error, *, challenge: bool = True) -> Response:
    headers = dict(ERROR_HEADERS)
    if error.status_code == 401 and challenge:
        headers["WWW-Authenticate"] = BASIC_CHALLENGE
    return headers, error.json, error.status_code


def parse_form(request: HttpRequest) -> dict[str, str] | errors.OAuth2Error:
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
    content_type = request.content_type or ""
    if content_type.lower() != FORM_CONTENT_TYPE:
        return errors.InvalidRequestError(
            description="Send the parameters as application/x-www-form-urlencoded."
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


def basic_challenge(request: HttpRequest) -> bool:
    """Whether a 401 answer carries the Basic challenge: not to a client that authenticated
    with a client assertion (private_key_jwt), whom Basic credentials would not help (and whose
    libraries then report the challenge instead of the error)."""
    return "client_assertion" not in request.POST


def challenge(headers: dict[str, str], request: HttpRequest) -> None:
    """The WWW-Authenticate of a 401 from oauthlib: Basic, or none (see basic_challenge)."""
    if basic_challenge(request):
        headers["WWW-Authenticate"] = BASIC_CHALLENGE
    else:
        headers.pop("WWW-Authenticate", None)


class ConsoleOAuthLibCore(OAuthLibCore):
    def extract_headers(self, request: HttpRequest) -> dict[str, str]:
        # The issuer of this request (console.issuer), for the tokens' iss/aud and their checks.
        headers = super().extract_headers(request)
        headers[access_tokens.ISSUER_HEADER] = issuer(request)
        return headers

    def extract_body(self, request: HttpRequest) -> list[tuple[str, str]]:
        # Keep repeated parameters, so they can be refused rather than silently collapsed.
        return [
            (key, value) for key, values in request.POST.lists() for value in values
        ]

    def form_error(self, request: HttpRequest) -> errors.OAuth2Error | None:
        """What is wrong with the request body as a form, before any OAuth processing."""
        form = parse_form(request)
        return form if isinstance(form, errors.OAuth2Error) else None

    def _respond(self, request: HttpRequest, create: Callable[..., tuple]) -> Response:
        error = self.form_error(request)
        if error is not None:
            return _error(error)
        uri, http_method, body, headers = self._extract_params(request)
        try:
            headers, body, status = create(uri, http_method, body, headers)
        except errors.OAuth2Error as exc:
            return _error(exc, challenge=basic_challenge(request))
        if status == 401:
            challenge(headers, request)
        return headers, body, status

    def create_token_response(self, request: HttpRequest) -> Response:
        error = self.form_error(request)
        if error is not None:
            return _error(error)
        if request.META.get("QUERY_STRING"):
            # Refused by oauthlib's endpoint (invalid_request), with a `state` from the query
            # echoed back: let it say so itself.
            return self._respond(request, self.server.create_token_response)
        headers = {access_tokens.ISSUER_HEADER: issuer(request)}
        authorization = request.META.get("HTTP_AUTHORIZATION")
        if authorization is not None:
            headers["Authorization"] = authorization
        oauth_request = Request(
            request.path,
            http_method="POST",
            body=self.extract_body(request),
            headers=headers,
        )
        # What oauthlib's TokenEndpoint does before it hands the request to the grant.
        oauth_request.scopes = utils.scope_to_list(oauth_request.scope)
        oauth_request.extra_credentials = None
        try:
            headers, body, status = self.server.credentials_grant.create_token_response(
                oauth_request, self.server.bearer
            )
        except errors.OAuth2Error as exc:
            return _error(exc, challenge=basic_challenge(request))
        if status == 401:
            challenge(headers, request)
        return headers, body, status

    def create_token_response_through_oauthlib(self, request: HttpRequest) -> Response:
        """The same, through oauthlib's token endpoint and the toolkit's request extraction
        (what the lean path is compared with in the tests)."""
        return self._respond(request, self.server.create_token_response)

    def create_introspect_response(self, request: HttpRequest) -> Response:
        return self._respond(request, self.server.create_introspect_response)

    def create_revocation_response(self, request: HttpRequest) -> Response:
        return self._respond(request, self.server.create_revocation_response)
