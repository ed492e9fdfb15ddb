"""How a token-service request says which client it is: HTTP Basic (client_secret_basic) or
client_id and client_secret in the form (client_secret_post), read once per request (server.Call)
for the rate limiter and the validator alike."""

import base64
import binascii
from dataclasses import dataclass
from urllib.parse import unquote_plus

from oauthlib.common import Request
from oauthlib.oauth2.rfc6749 import errors


@dataclass(frozen=True)
class Credentials:
    """The client's credentials as presented; not yet checked against anything."""

    authorization: str  # the Authorization header as sent ("" without one)
    basic: (
        tuple[str, str] | None
    )  # (client_id, secret) from Basic; ("", "") if undecodable
    form_client_id: str | None
    form_secret: str | None

    @property
    def client_id(self) -> str:
        """The client the request claims to be (for the rate limits), "" if none."""
        if self.basic is not None:
            return self.basic[0]
        return self.form_client_id or ""

    def require(self, request: Request | None = None) -> tuple[str, str]:
        """(client_id, secret), presented in exactly one way (RFC 6749 §2.3.1); raises the §5.2
        error otherwise."""
        # RFC 6749 §3.2: a parameter sent without a value counts as omitted.
        form_secret = self.form_secret or None
        if self.basic is not None:
            if form_secret is not None:
                raise errors.InvalidRequestError(
                    description="Use one way to authenticate the client: HTTP Basic or "
                    "client_secret in the body, not both.",
                    request=request,
                )
            client_id, secret = self.basic
            if self.form_client_id and self.form_client_id != client_id:
                raise errors.InvalidRequestError(
                    description="The client_id in the body differs from the one in the "
                    "Authorization header.",
                    request=request,
                )
        else:
            client_id, secret = self.form_client_id or "", form_secret
        if not client_id or secret is None:
            raise errors.InvalidClientError(
                description="Authenticate the client: HTTP Basic with the client ID and secret, "
                "or client_id and client_secret in the body.",
                request=request,
            )
        return client_id, secret


def basic_credentials(header: str) -> tuple[str, str] | None:
    """(client_id, secret) from an `Authorization: Basic` header value, None without a header.

    A header that is not Basic, or cannot be decoded, is a failed authentication: ("", "").
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


def read_credentials(
    authorization: str, form_client_id: str | None, form_secret: str | None
) -> Credentials:
    return Credentials(
        authorization=authorization,
        basic=basic_credentials(authorization),
        form_client_id=form_client_id,
        form_secret=form_secret,
    )
