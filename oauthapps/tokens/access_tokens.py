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
from oauthlib.common import Request

from console import issuer as console_issuer
from oauthapps.tokens import keys, state

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


# The issuer of the HTTP request an oauthlib request came from (console.issuer), put there by
# server.ConsoleOAuthLibCore. A client cannot send it: its headers reach oauthlib as HTTP_* keys.
ISSUER_HEADER = "Console-Issuer"


def audience(issuer: str) -> str:
    """The resource API the tokens of `issuer` are for (RFC 9068 `aud`)."""
    return f"{issuer}/api/v1"


@dataclass(frozen=True)
class NewToken:
    """A token about to be issued: its claims, and what its IssuedToken row records."""

    claims: dict
    jti: uuid.UUID
    issued_at: datetime
    expires_at: datetime


def new_token(
    *,
    client_id: str,
    org_id: uuid.UUID,
    scopes: list[str],
    lifetime: int,
    issuer: str | None = None,
) -> NewToken:
    """The claims of a token for `client_id` in `org_id`, valid `lifetime` seconds from now,
    issued by `issuer` (console.issuer for the request; CONSOLE_ISSUER when not given)."""
    issuer = issuer or console_issuer.issuer()
    # The row keeps the exact time (revoke-all compares with it); the claims are whole seconds.
    issued_at = datetime.now(UTC)
    iat = int(issued_at.timestamp())
    jti = uuid.uuid4()
    claims = {
        "iss": issuer,
        "sub": client_id,
        "aud": audience(issuer),
        "exp": iat + lifetime,
        "iat": iat,
        "jti": str(jti),
        "client_id": client_id,
        "scope": " ".join(scopes),
        "org_id": str(org_id),
    }
    return NewToken(
        claims=claims,
        jti=jti,
        issued_at=issued_at,
        expires_at=datetime.fromtimestamp(iat + lifetime, UTC),
    )


def generate(request: Request) -> str:
    """Mint the access token for a validated client-credentials request (oauthlib's path).

    Leaves `jti`, `issued_at` and `expires_at` on the request for the validator's save_bearer_token,
    which records the IssuedToken row.
    """
    token = new_token(
        client_id=request.client.client_id,
        org_id=request.console_org_id,
        scopes=request.scopes,
        lifetime=request.expires_in,
        issuer=request.headers.get(ISSUER_HEADER),
    )
    request.console_jti = token.jti
    request.console_issued_at = token.issued_at
    request.console_expires_at = token.expires_at
    return sign(token.claims, keys.signing_key())


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


@dataclass(frozen=True, slots=True)
class _Verified:
    """A token this process has verified: its claims (their `iss` was checked against the issuer
    of the moment) and the key object that verified them."""

    claims: AccessTokenClaims
    key: keys.LoadedKey


def verify(
    token: str, *, issuer: str | None = None, allow_expired: bool = False
) -> AccessTokenClaims:
    """Check the signature, type, issuer, audience and (unless allowed) expiry of an access token.
    `issuer`: console.issuer for the request that presents it (CONSOLE_ISSUER when not given).

    Revocation is the caller's second step (selectors.issued_token_active): this touches no database
    unless the token names a signing key this process has not seen yet.

    A client sends the same token with every call until it expires, so a token verified once is
    remembered (state.verified_tokens) and its signature, JSON and claims are not checked again.
    Each use still checks, as the first time would: that it has not expired, that its signing key
    is still published (keys.verification_key answers with the very key object that verified it:
    that object lives at most keys.REFRESH_SECONDS, after which the token is verified in full
    again) and that the issuer is still ours. The caller must not change the returned claims.
    """
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidAccessToken("The access token is malformed.")
    issuer = issuer or console_issuer.issuer()
    verified: _Verified | None = state.verified_tokens.get(token)  # type: ignore[assignment]
    if (
        verified is not None
        and keys.verification_key(verified.key.kid) is verified.key
        and verified.claims.claims["iss"] == issuer
    ):
        if verified.claims.claims["exp"] <= time.time() and not allow_expired:
            state.verified_tokens.discard(token)
            raise InvalidAccessToken("The access token has expired.")
        return verified.claims
    claims, key = _verify_in_full(token, issuer=issuer, allow_expired=allow_expired)
    state.verified_tokens.put(token, _Verified(claims=claims, key=key), size=len(token))
    return claims


def _verify_in_full(
    token: str, *, issuer: str, allow_expired: bool
) -> tuple[AccessTokenClaims, keys.LoadedKey]:
    """verify() without the memory: the claims, and the key that verified them."""
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
        _check_claims(claims, issuer=issuer, allow_expired=allow_expired)
        verified = AccessTokenClaims(
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
    return verified, key


def _check_claims(claims: object, *, issuer: str, allow_expired: bool) -> None:
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
    if claims["iss"] != issuer:
        raise ValueError
    aud = claims["aud"]
    if not (
        aud == audience(issuer) or (isinstance(aud, list) and audience(issuer) in aud)
    ):
        raise ValueError
    if exp <= now and not allow_expired:
        raise InvalidAccessToken("The access token has expired.")
