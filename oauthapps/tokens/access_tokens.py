"""Access tokens are JWTs in the RFC 9068 profile, signed RS256 with a `kid`.

`generate` is the toolkit's ACCESS_TOKEN_GENERATOR: oauthlib calls it with the validated request
(client, organization and effective scope already decided by the validator). `verify` is what the
resource API, introspection and revocation use.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt
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
    return jwt.encode(
        claims,
        key.private_key,
        algorithm=keys.ALGORITHM,
        headers={"kid": key.kid, "typ": TOKEN_TYPE},
    )


class InvalidAccessToken(Exception):
    """The token is not one of ours, is malformed, or has expired. The message is safe to show."""


@dataclass(frozen=True)
class AccessTokenClaims:
    jti: uuid.UUID
    client_id: str
    org_id: uuid.UUID
    scopes: frozenset[str]
    claims: dict


def verify(token: str, *, allow_expired: bool = False) -> AccessTokenClaims:
    """Check the signature, type, issuer, audience and (unless allowed) expiry of an access token.

    Revocation is the caller's second step (selectors.issued_token_active): this touches no database
    unless the token names a signing key this process has not seen yet.
    """
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidAccessToken("The access token is malformed.")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
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
        claims = jwt.decode(
            token,
            key.public_key,
            algorithms=[keys.ALGORITHM],
            audience=audience(),
            issuer=issuer(),
            options={"require": REQUIRED_CLAIMS, "verify_exp": not allow_expired},
        )
        return AccessTokenClaims(
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
