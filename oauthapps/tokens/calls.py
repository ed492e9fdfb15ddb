"""A token-service request as read once (`Call`): its form, parsed and checked once; the client's
credentials, read once from HTTP Basic (client_secret_basic) or the form (client_secret_post);
the address it came from and the issuer it was sent to. The rate limiter and every step of the
pipeline (server.py) use it; nothing else parses the body or the Authorization header.

While the pipeline answers a call, `current()` is that call (a context variable: each thread of a
worker has its own), with the `Decision` the validator took for the step after it.
"""

import base64
import binascii
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import parse_qsl, unquote_plus

from django.http import HttpRequest
from oauthlib.common import Request
from oauthlib.oauth2.rfc6749 import errors

from console.http import client_ip, source_address
from console.issuer import issuer
from oauthapps import client_assertions

# A token request is a few hundred bytes; refuse anything far larger before parsing it.
MAX_BODY_BYTES = 16 * 1024
MAX_PARAMETERS = 32
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


@dataclass
class Decision:
    """What the validator decided in one pass of the pipeline, for the steps after it."""

    from_memory: bool = False
    memory_key: tuple | None = None  # what state.apps remembers the client under
    version: int = 0  # the token state version the app was read at (state.py)
    org_id: object = None
    grants: list = field(default_factory=list)
    secret_generation: int = 0
    token: object = None  # access_tokens.NewToken, once minted


@dataclass
class Call:
    endpoint: str  # "token", "introspect" or "revoke"
    uri: str
    form: dict[str, str]
    authorization: str  # the Authorization header as sent ("" without one)
    source_address: str  # as sent (console.http.source_address), for IP allowlists
    ip: str  # as the rate limits count it
    issuer: str
    error: errors.OAuth2Error | None = None
    decision: Decision = field(default_factory=Decision)
    trust_memory: bool = True
    assertion_used: bool = False  # its client assertion's single use is recorded

    @classmethod
    def read(cls, request: HttpRequest, endpoint: str) -> "Call":
        form = _form(request)
        error = form if isinstance(form, errors.OAuth2Error) else None
        return cls(
            endpoint=endpoint,
            uri=request.get_full_path(),
            form={} if error is not None else form,
            authorization=request.META.get("HTTP_AUTHORIZATION", ""),
            source_address=source_address(request),
            ip=client_ip(request),
            issuer=issuer(request),
            error=error,
        )

    @cached_property
    def basic(self) -> tuple[str, str] | None:
        """(client_id, secret) from an `Authorization: Basic` header, None without a header;
        ("", "") for another scheme or one that cannot be decoded (a failed authentication).
        RFC 6749 §2.3.1: both parts are form-urlencoded before base64."""
        if not self.authorization:
            return None
        scheme, _, value = self.authorization.partition(" ")
        try:
            if scheme.lower() != "basic":
                raise ValueError
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return ("", "")
        client_id, separator, secret = decoded.partition(":")
        return (
            (unquote_plus(client_id), unquote_plus(secret)) if separator else ("", "")
        )

    @property
    def client_id(self) -> str:
        """The client the request claims to be (for the rate limits), "" if none: from Basic,
        else the form's client_id, else the unverified `iss` of its client assertion."""
        basic = self.basic
        if basic is not None:
            return basic[0]
        if self.form.get("client_id") or "client_assertion" not in self.form:
            return self.form.get("client_id", "")
        try:
            return client_assertions.claimed_client_id(
                assertion_type=self.form.get("client_assertion_type"),
                assertion=self.form["client_assertion"],
                client_id=None,
            )
        except client_assertions.InvalidClientAssertion:
            return ""  # refused by the validator, counted against the address

    def credentials(self, request: Request | None = None) -> tuple[str, str]:
        """(client_id, secret), presented in exactly one way (RFC 6749 §2.3.1); raises the §5.2
        error otherwise."""
        basic, form_client_id = self.basic, self.form.get("client_id")
        # RFC 6749 §3.2: a parameter sent without a value counts as omitted.
        form_secret = self.form.get("client_secret") or None
        if basic is not None:
            if form_secret is not None:
                raise errors.InvalidRequestError(
                    description="Use one way to authenticate the client: HTTP Basic or "
                    "client_secret in the body, not both.",
                    request=request,
                )
            client_id, secret = basic
            if form_client_id and form_client_id != client_id:
                raise errors.InvalidRequestError(
                    description="The client_id in the body differs from the one in the "
                    "Authorization header.",
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


def _refused(description: str) -> errors.OAuth2Error:
    return errors.InvalidRequestError(description=description)


def _form(request: HttpRequest) -> dict[str, str] | errors.OAuth2Error:
    """The body's parameters (each sent once), or what is wrong with it as a form, before any
    OAuth processing. An empty body is an empty form."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY_BYTES:
        return _refused("The request body is too large.")
    body = request.body
    if not body:
        return {}
    if (request.content_type or "").lower() != FORM_CONTENT_TYPE:
        return _refused("Send the parameters as application/x-www-form-urlencoded.")
    # A form has no other charset than UTF-8 (Django's own form parsing says so too).
    charset = request.content_params.get("charset", "utf-8").lower()
    try:
        if charset not in ("utf-8", "utf8"):
            raise UnicodeDecodeError(charset, b"", 0, 0, "not UTF-8")
        text = body.decode("utf-8")
        pairs = parse_qsl(
            text, keep_blank_values=True, errors="strict", max_num_fields=MAX_PARAMETERS
        )
    except UnicodeDecodeError:
        return _refused("The request body is not valid UTF-8.")
    except ValueError:
        return _refused("The request has too many parameters.")
    form = dict(pairs)
    if len(form) != len(pairs):
        return _refused("A parameter is repeated; send each parameter once.")
    return form


_current: ContextVar[Call] = ContextVar("token_service_call")


def current() -> Call:
    """The call the pipeline is answering."""
    return _current.get()


@contextmanager
def answering(call: Call) -> Iterator[Call]:
    """`current()` is `call` inside, with a fresh Decision."""
    call.decision = Decision()
    reset = _current.set(call)
    try:
        yield call
    finally:
        _current.reset(reset)
