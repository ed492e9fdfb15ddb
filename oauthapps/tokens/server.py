"""The token service's one pipeline: django-oauth-toolkit's backend, oauthlib's server and grant,
our validator (DESIGN.md §6). Every token, introspection and revocation answer comes out of it.

- `ConsoleOAuthLibCore` (OAUTH2_BACKEND_CLASS) reads the request once (calls.Call), applies the
  rate limits, and hands oauthlib's endpoint the form already parsed (the toolkit would copy and
  re-encode every WSGI variable, then oauthlib would parse the body again). The validator may
  decide from what this process remembers of the client (state.apps); the one statement that
  records the token confirms that nothing changed since (services.issued_token_record). When it
  did, or when a remembered answer is a refusal, the memory is dropped and the pipeline runs again
  on what the database says now: the answer is always the database's of the moment.
- `ClientCredentialsServer` (OAUTH2_SERVER_CLASS): only the client-credentials grant, tokens from
  ACCESS_TOKEN_GENERATOR with the app's own lifetime, introspection and revocation.
"""

from collections.abc import Callable
from urllib.parse import urlsplit

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
from oauthlib.oauth2.rfc6749.endpoints.base import catch_errors_and_unavailability

from console import ratelimit
from oauthapps.tokens import access_tokens, selectors
from oauthapps.tokens.calls import Call, answering
from oauthapps.tokens.services import Unconfirmed

BASIC_CHALLENGE = 'Basic realm="Cloud Services Console", charset="UTF-8"'
ERROR_HEADERS = {
    "Content-Type": "application/json",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
}
# Passes of the pipeline for one request: a decision from memory that the database did not
# confirm is taken again from the database (whose decision is recorded as it is), and a pooled
# connection found broken is replaced once.
ATTEMPTS = 3

Response = tuple[dict[str, str], str, int]


def access_token_lifetime(request: Request) -> int:
    """expires_in: the app's TTL, in seconds."""
    return request.client.access_token_ttl_minutes * 60


def _lowercase_token_type(token: dict) -> dict:
    token["token_type"] = "bearer"  # DESIGN.md §6 (token types are case-insensitive)
    return token


class CallRequest(Request):
    """oauthlib's Request for a token call. Its form comes already parsed by calls.Call, which
    refuses repeated parameters, so none are duplicated; the query string (refused on a POST by
    the endpoint) is split once, where oauthlib would parse the URI again on every look."""

    duplicate_params = ()
    uri_query = ""

    def __init__(self, uri: str, http_method: str, body: list, headers: dict) -> None:
        self.uri_query = urlsplit(uri).query
        super().__init__(uri, http_method, body, headers)


class ClientCredentialsServer(TokenEndpoint, IntrospectEndpoint, RevocationEndpoint):
    def __init__(
        self,
        request_validator,
        token_generator: Callable[[Request], str] | None = None,
        **kwargs,
    ) -> None:
        # The toolkit also passes settings for grants we do not offer (refresh, device): ignored.
        grant = ClientCredentialsGrant(request_validator)
        grant.register_token_modifier(_lowercase_token_type)
        bearer = BearerToken(
            request_validator,
            token_generator or access_tokens.generate,
            expires_in=access_token_lifetime,
        )
        TokenEndpoint.__init__(
            self,
            default_grant_type="client_credentials",
            grant_types={"client_credentials": grant},
            default_token_type=bearer,
        )
        # Hints are only hints (RFC 7009 §2.1, RFC 7662 §2.1): accept both, look at the token.
        for endpoint in (IntrospectEndpoint, RevocationEndpoint):
            endpoint.__init__(
                self,
                request_validator,
                supported_token_types=["access_token", "refresh_token"],
            )

    @catch_errors_and_unavailability
    def create_token_response(self, uri, http_method="POST", body=None, headers=None):
        """TokenEndpoint's, on a CallRequest, with the one grant and token type there are."""
        request = CallRequest(uri, http_method, body, headers)
        self.validate_token_request(request)
        request.scopes = utils.scope_to_list(request.scope)
        request.extra_credentials = None
        return self.default_grant_type_handler.create_token_response(
            request, self.default_token_type
        )


def _error(error: errors.OAuth2Error) -> Response:
    return dict(ERROR_HEADERS), error.json, error.status_code


class ConsoleOAuthLibCore(OAuthLibCore):
    def create_token_response(self, request: HttpRequest) -> Response:
        return self._answer(request, "token", self.server.create_token_response)

    def create_introspect_response(self, request: HttpRequest) -> Response:
        return self._answer(
            request, "introspect", self.server.create_introspect_response
        )

    def create_revocation_response(self, request: HttpRequest) -> Response:
        return self._answer(request, "revoke", self.server.create_revocation_response)

    def _answer(
        self, request: HttpRequest, endpoint: str, respond: Callable[..., Response]
    ) -> Response:
        call = Call.read(request, endpoint)
        verdict = ratelimit.check(
            endpoint=endpoint, ip=call.ip, client_id=call.client_id
        )
        if verdict.retry_after:
            return ratelimit.refusal(verdict)
        if call.error is not None:
            headers, body, status = _error(call.error)
        else:
            headers, body, status = self._decide(call, respond)
        if status == 401:
            # RFC 6749 §5.2: the challenge of the scheme the client used (oauthlib's says Bearer);
            # none to a client assertion, which Basic would not help (its libraries would then
            # report the challenge instead of the error).
            headers.pop("WWW-Authenticate", None)
            if "client_assertion" not in call.form:
                headers["WWW-Authenticate"] = BASIC_CHALLENGE
            ratelimit.record_failure(ip=call.ip)
        return headers, body, status

    def _decide(self, call: Call, respond: Callable[..., Response]) -> Response:
        """Run the pipeline; again from the database when a decision taken from memory was not
        confirmed, or was a refusal (see the module docstring)."""
        headers = {"Authorization": call.authorization} if call.authorization else {}
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with answering(call):
                    answer = respond(call.uri, "POST", list(call.form.items()), headers)
            except errors.OAuth2Error as error:
                return _error(error)
            except Unconfirmed:
                selectors.forget_client(call)
            except selectors.BROKEN_CONNECTION_ERRORS:
                # The pooled connection broke while idle (PostgreSQL restarted): a new one, once.
                if attempt == ATTEMPTS or not selectors.reconnect_if_broken():
                    raise
            else:
                if answer[2] == 200 or not call.decision.from_memory:
                    return answer
                selectors.forget_client(call)
            call.trust_memory = False
        # Only the first pass can decide from memory, and a broken connection is replaced once:
        # the third pass returns or raises.
        raise AssertionError("unreachable")
