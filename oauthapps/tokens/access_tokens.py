"""Access tokens are JWTs in the RFC 9068 profile, signed RS256 with a `kid`.

`generate` is the toolkit's ACCESS_TOKEN_GENERATOR: oauthlib calls it with the validated request
(client, organization and effective scope already decided by the validator). `verify` is what the
resource API, introspection and revocation use.

Both are the JWS compact serialization (RFC 7515 §7.1) written out with `cryptography`, which
does the RSA work either way: PyJWT checks every base64 character in Python and parses a token
twice to verify it, which cost the API more than the signature check itself (about 0.2 ms against
0.03 ms here). The output is what PyJWT produces (sorted header, compact JSON), and the tests
verify our tokens with PyJWT and forge tokens with it.
"""

import base64
import binascii
import json
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from django.conf import settings
from oauthlib.common import Request

from oauthapps.tokens import keys

TOKEN_TYPE = "at+jwt"
# RFC 9068 §2.1 allows the full media type too.
ACCEPTED_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
# A token we issue is about 1 KB; anything much longer is not ours and is not parsed.
MAX_TOKEN_LENGTH = 8192
REQUIRED_CLAIMS = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "jti",
    "client_id",
    "scope",
    "org_id",
]


def issuer() -> str:
    return settings.CONSOLE_ISSUER


def audience() -> str:
    """The resource API the tokens are for (RFC 9068 `aud`)."""
    return f"{settings.CONSOLE_ISSUER}/api/v1"


def generate(request: Request) -> str:
    """Mint the access token for a validated client-credentials request.

    Leaves `jti`, `issued_at` and `expires_at` on the request for the validator's save_bearer_token,
    which records the IssuedToken row.
    """
    # The row keeps the exact time (revoke-all compares with it); the claims are whole seconds.
    issued_at = datetime.now(UTC)
    iat = int(issued_at.timestamp())
    jti = uuid.uuid4()
    key = keys.signing_key()
    claims = {
        "iss": issuer(),
        "sub": request.client.client_id,
        "aud": audience(),
        "exp": iat + request.expires_in,
        "iat": iat,
        "jti": str(jti),
        "client_id": request.client.client_id,
        "scope": " ".join(request.scopes),
        "org_id": str(request.console_org_id),
    }
    request.console_jti = jti
    request.console_issued_at = issued_at
    request.console_expires_at = datetime.fromtimestamp(claims["exp"], UTC)
    return sign(claims, key)


def _b64encode(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


@lru_cache(maxsize=16)
def _header_segment(kid: str) -> bytes:
    header = {"alg": keys.ALGORITHM, "kid": kid, "typ": TOKEN_TYPE}
    return _b64encode(
        json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    )


def sign(claims: dict, key: keys.LoadedKey) -> str:
    """The compact JWS of `claims`, RS256 with the key's kid and `typ: at+jwt`."""
    payload = _b64encode(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = _header_segment(key.kid) + b"." + payload
    signature = key.private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return (signing_input + b"." + _b64encode(signature)).decode("ascii")


class InvalidAccessToken(Exception):
    """The token is not one of ours, is malformed, or has expired. The message is safe to show."""


@dataclass(frozen=True)
class AccessTokenClaims:
    jti: uuid.UUID
    client_id: str
    org_id: uuid.UUID
    scopes: frozenset[str]
    claims: dict


# Three base64url segments: the only shape of a compact JWS (no padding, no other characters).
_COMPACT_JWS = re.compile(r"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)")


def verify(token: str, *, allow_expired: bool = False) -> AccessTokenClaims:
    """Check the signature, type, issuer, audience and (unless allowed) expiry of an access token.

    Revocation is the caller's second step (selectors.issued_token_active): this touches no database
    unless the token names a signing key this process has not seen yet.
    """
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidAccessToken("The access token is malformed.")
    match = _COMPACT_JWS.fullmatch(token)
    if match is None:
        raise InvalidAccessToken("The access token is malformed.")
    header_segment, payload_segment, signature_segment = match.groups()
    try:
        header = json.loads(_b64decode(header_segment))
        if not isinstance(header, dict):
            raise ValueError
    except (ValueError, binascii.Error):
        raise InvalidAccessToken("The access token is malformed.") from None
    kid = header.get("kid")
    if header.get("alg") != keys.ALGORITHM or not isinstance(kid, str):
        raise InvalidAccessToken("The access token is not signed by this console.")
    if str(header.get("typ", "")).lower() not in ACCEPTED_TOKEN_TYPES:
        raise InvalidAccessToken("The token is not an access token.")
    key = keys.verification_key(kid)
    if key is None:
        raise InvalidAccessToken("The access token is not signed by this console.")
    try:
        key.public_key.verify(
            _b64decode(signature_segment),
            f"{header_segment}.{payload_segment}".encode("ascii"),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
        claims = json.loads(_b64decode(payload_segment))
        _check_claims(claims, allow_expired=allow_expired)
        return AccessTokenClaims(
            jti=uuid.UUID(claims["jti"]),
            client_id=str(claims["client_id"]),
            org_id=uuid.UUID(claims["org_id"]),
            scopes=frozenset(str(claims["scope"]).split()),
            claims=claims,
        )
    except InvalidAccessToken:
        raise
    except (InvalidSignature, ValueError, TypeError, AttributeError, binascii.Error):
        raise InvalidAccessToken("The access token is invalid.") from None


def _check_claims(claims: object, *, allow_expired: bool) -> None:
    """The registered claims, as PyJWT checks them (no leeway). Raises ValueError if invalid."""
    if not isinstance(claims, dict) or any(
        name not in claims for name in REQUIRED_CLAIMS
    ):
        raise ValueError
    now = time.time()
    exp, iat = claims["exp"], claims["iat"]
    if not all(
        isinstance(value, int) and not isinstance(value, bool) for value in (exp, iat)
    ):
        raise ValueError
    if iat > now:
        raise ValueError  # issued in the future
    if claims["iss"] != issuer():
        raise ValueError
    aud = claims["aud"]
    if not (aud == audience() or (isinstance(aud, list) and audience() in aud)):
        raise ValueError
    if exp <= now and not allow_expired:
        raise InvalidAccessToken("The access token has expired.")
