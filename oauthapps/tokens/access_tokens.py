"""Access tokens are JWTs in the RFC 9068 profile (`typ: at+jwt`), signed with a `kid` by the
current signing key (keys.py), made and checked with PyJWT: `generate` is the toolkit's
ACCESS_TOKEN_GENERATOR, `verify` serves the resource API, introspection and revocation.
"""

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt
from oauthlib.common import Request

from console import issuer as console_issuer
from oauthapps.tokens import calls, keys, state

# RFC 9068 §2.1 allows the full media type too.
ACCEPTED_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
# A token we issue is about 1 KB; anything much longer is not ours and is not parsed.
MAX_TOKEN_LENGTH = 8192
REQUIRED_CLAIMS = "iss sub aud exp iat jti client_id scope org_id".split()  # noqa: SIM905


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
    return NewToken(claims, jti, issued_at, datetime.fromtimestamp(iat + lifetime, UTC))


def generate(request: Request) -> str:
    """Mint the access token for a validated client-credentials request, and leave it on the
    call's decision for the validator's save_bearer_token, which records its IssuedToken row."""
    call = calls.current()
    token = new_token(
        client_id=request.client.client_id,
        org_id=call.decision.org_id,
        scopes=request.scopes,
        lifetime=request.expires_in,
        issuer=call.issuer,
    )
    call.decision.token = token
    return sign(token.claims, keys.signing_key())


def sign(claims: dict, key: keys.LoadedKey) -> str:
    """The compact JWS of `claims`, with the key's algorithm and kid and `typ: at+jwt`."""
    headers = {"kid": key.kid, "typ": "at+jwt"}
    return jwt.encode(claims, key.private_key, algorithm=key.algorithm, headers=headers)


class InvalidAccessToken(Exception):
    """The token is not one of ours, is malformed, or has expired. The message is safe to show."""


@dataclass(frozen=True)
class AccessTokenClaims:
    jti: uuid.UUID
    client_id: str
    org_id: uuid.UUID
    scopes: frozenset[str]
    claims: dict


def verify(
    token: str, *, issuer: str | None = None, allow_expired: bool = False
) -> AccessTokenClaims:
    """Check the signature, type, issuer, audience and (unless allowed) expiry of an access token.
    `issuer`: console.issuer for the request that presents it (CONSOLE_ISSUER when not given).

    Revocation is the caller's second step (selectors.issued_token_active): this touches no database
    unless the token names a signing key this process has not seen yet.

    A client sends the same token with every call until it expires, so a token verified once is
    remembered with the key object that verified it (state.verified_tokens). Each use still checks,
    as the first time would: that it has not expired, that its signing key is still published
    (keys.verification_key answers with that very object, which lives at most
    keys.REFRESH_SECONDS) and that the issuer is still ours. The caller must not change the claims.
    """
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidAccessToken("The access token is malformed.")
    issuer = issuer or console_issuer.issuer()
    remembered = state.verified_tokens.get(token)
    if remembered is not None:
        claims, key = remembered  # type: ignore[misc]
        if keys.verification_key(key.kid) is key and claims.claims["iss"] == issuer:
            if claims.claims["exp"] <= time.time() and not allow_expired:
                state.verified_tokens.discard(token)
                raise InvalidAccessToken("The access token has expired.")
            return claims
    claims, key = _verify_in_full(token, issuer=issuer, allow_expired=allow_expired)
    state.verified_tokens.put(token, (claims, key), size=len(token))
    return claims


def _verify_in_full(
    token: str, *, issuer: str, allow_expired: bool
) -> tuple[AccessTokenClaims, keys.LoadedKey]:
    """verify() without the memory: the claims, and the key that verified them."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise InvalidAccessToken("The access token is malformed.") from None
    kid = header.get("kid")
    key = keys.verification_key(kid) if isinstance(kid, str) else None
    if key is None or header.get("alg") != key.algorithm:
        raise InvalidAccessToken("The access token is not signed by this console.")
    if str(header.get("typ", "")).lower() not in ACCEPTED_TOKEN_TYPES:
        raise InvalidAccessToken("The token is not an access token.")
    try:
        claims = jwt.decode(
            token,
            key.public_key,
            algorithms=[key.algorithm],
            audience=audience(issuer),
            issuer=issuer,
            options={"require": REQUIRED_CLAIMS, "verify_exp": not allow_expired},
        )
        verified = AccessTokenClaims(
            jti=uuid.UUID(claims["jti"]),
            client_id=str(claims["client_id"]),
            org_id=uuid.UUID(claims["org_id"]),
            scopes=frozenset(str(claims["scope"]).split()),
            claims=claims,
        )
    except jwt.ExpiredSignatureError:
        raise InvalidAccessToken("The access token has expired.") from None
    except (jwt.InvalidTokenError, ValueError, TypeError, AttributeError):
        raise InvalidAccessToken("The access token is invalid.") from None
    return verified, key
