"""private_key_jwt client authentication (RFC 7523 §2.2, as OpenID Connect Core §9 profiles it),
written once: the token, introspection and revocation endpoints all authenticate a client that
sends `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer` and a
`client_assertion` through `authenticate` (called by the validator's `authenticate_client`).

The assertion is a JWT that the app signs with its private key (RS256, ES256 or EdDSA/Ed25519)
and the console verifies with PyJWT against the public keys registered for the app, or those its
JWKS URL publishes:

- `iss` and `sub` are both the client ID (and equal the `client_id` parameter, if sent);
- `aud` is the token endpoint's URL, the URL of the endpoint called, or the issuer;
- `exp` is at most five minutes ahead; `iat` and `nbf` are not in the future (both with
  CLOCK_SKEW of leeway);
- `jti` is used once: the first use is recorded in the database (UsedClientAssertion, a primary
  key on a hash of client ID and jti), so a replay is refused on every instance until the
  assertion has expired; expired records are pruned.

Every failure is invalid_client (401) with an error_description saying what to fix; the order of
the checks never lets an unverified assertion learn more than that it does not verify.
"""

import contextlib
import hashlib
import itertools
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import jwt
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from jwt.algorithms import OKPAlgorithm
from oauthlib.common import Request
from oauthlib.oauth2.rfc6749 import errors

from oauthapps import client_keys
from oauthapps.models import OAuthApp, UsedClientAssertion

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# "Ed25519" is RFC 9864's fully-specified name for EdDSA with Ed25519 (what node's
# openid-client sends); PyJWT knows the algorithm as EdDSA only, so it learns the name too.
ALGORITHMS = ("RS256", "ES256", "EdDSA", "Ed25519")
MAX_LIFETIME = timedelta(minutes=5)
CLOCK_SKEW = timedelta(seconds=30)
MAX_ASSERTION_CHARS = 8 * 1024
MAX_JTI_CHARS = 255
PRUNE_EVERY = 256  # recorded assertions per process between two prunes
FAILED = "Client authentication failed."
SECRET_NOT_ACCEPTED = (
    "This app authenticates with private_key_jwt: send client_assertion_type "
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer and a client_assertion signed "
    "with its private key, not a client secret."
)
ASSERTION_NOT_ACCEPTED = (
    "This app authenticates with its client secret (HTTP Basic or client_secret), "
    "not with a client_assertion."
)
_SHOWN_ALG = re.compile(r"^[A-Za-z0-9+-]{1,16}$")
_recorded = itertools.count(1)

if "Ed25519" not in jwt.algorithms.get_default_algorithms():
    # (ValueError: registered already, by a newer PyJWT or a reload)
    with contextlib.suppress(ValueError):
        jwt.register_algorithm("Ed25519", OKPAlgorithm())


class InvalidClientAssertion(Exception):
    """The assertion does not authenticate the client; `description` says why."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


def presented(request: Request) -> bool:
    """Whether the request authenticates (or tries to) with a client assertion."""
    return bool(
        getattr(request, "client_assertion", None)
        or getattr(request, "client_assertion_type", None)
    )


def claimed_client_id(
    *, assertion_type: str | None, assertion: str | None, client_id: str | None
) -> str:
    """The client ID the assertion claims to be from (not yet verified)."""
    if assertion_type != ASSERTION_TYPE:
        raise InvalidClientAssertion(f"client_assertion_type must be {ASSERTION_TYPE}.")
    if not assertion:
        raise InvalidClientAssertion("client_assertion is missing.")
    if len(assertion) > MAX_ASSERTION_CHARS:
        raise InvalidClientAssertion(
            "client_assertion is too long to be a client assertion."
        )
    try:
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        raise InvalidClientAssertion(
            "client_assertion is not a well-formed JWT (header.payload.signature, base64url)."
        ) from None
    issuer, subject = claims.get("iss"), claims.get("sub")
    if not isinstance(issuer, str) or not issuer:
        raise InvalidClientAssertion("The assertion's iss claim must be the client ID.")
    if subject != issuer:
        raise InvalidClientAssertion(
            "The assertion's iss and sub claims must both be the client ID."
        )
    if client_id and client_id != issuer:
        raise InvalidClientAssertion(
            "The client_id parameter differs from the assertion's iss and sub."
        )
    return issuer


def verify_client_assertion(
    assertion: str,
    *,
    app: OAuthApp,
    audiences: list[str],
    now: datetime | None = None,
    record_use: bool = True,
) -> dict[str, Any]:
    """The verified claims of `assertion` from `app`, whose `jti` is then used up. Raises
    InvalidClientAssertion saying what is wrong."""
    if not app.uses_private_key_jwt:
        raise InvalidClientAssertion(ASSERTION_NOT_ACCEPTED)
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.InvalidTokenError:
        raise InvalidClientAssertion(
            "client_assertion is not a well-formed JWT."
        ) from None
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        shown = f" {alg}" if isinstance(alg, str) and _SHOWN_ALG.match(alg) else ""
        raise InvalidClientAssertion(
            f"The assertion is signed with alg{shown}: sign it with RS256, ES256 or EdDSA, "
            "using the app's private key."
        )
    now = now or timezone.now()
    claims = None
    for key in _candidate_keys(app, header):
        try:
            claims = jwt.decode(
                assertion,
                key.key,
                algorithms=[alg],
                audience=audiences,
                issuer=app.client_id,
                leeway=CLOCK_SKEW,
                options={"require": ["iss", "sub", "aud", "exp", "jti"]},
            )
            break
        except jwt.InvalidSignatureError:
            continue  # another of the app's keys may verify it
        except jwt.InvalidTokenError as exc:
            raise InvalidClientAssertion(_described(exc, audiences)) from None
    if claims is None:
        raise InvalidClientAssertion(
            "The assertion's signature does not verify with any public key registered for "
            "the app."
        )
    if claims["sub"] != app.client_id:
        raise InvalidClientAssertion(
            "The assertion's iss and sub claims must both be the client ID."
        )
    _check_times(claims, now)
    if record_use:
        _use_once(app=app, jti=claims["jti"], expires_at=claims["exp"], now=now)
    return claims


def _candidate_keys(
    app: OAuthApp, header: dict[str, Any]
) -> list[client_keys.PublicKey]:
    """The app's keys that may have signed it: the one its kid names, else every key of
    the kind its alg needs. A kid the app's JWKS URL lacks fetches the JWKS again (at most
    once a minute): the app may have just published a new key."""
    alg, kid = header["alg"], header.get("kid")
    keys = _app_keys(app, refresh=False)
    if (
        kid is not None
        and app.jwks_uri
        and not _named(keys, kid)
        and client_keys.may_refetch(app.jwks_uri)
    ):
        keys = _app_keys(app, refresh=True)
    if kid is not None:
        keys = _named(keys, kid)
        if not keys:
            raise InvalidClientAssertion(
                "The assertion's kid names no public key registered for the app."
            )
    keys = [key for key in keys if alg in key.algorithms]
    if not keys:
        raise InvalidClientAssertion(
            f"No public key registered for the app verifies {alg}: "
            "RSA keys sign RS256, EC P-256 keys ES256, Ed25519 keys EdDSA."
        )
    return keys


def _named(keys: list[client_keys.PublicKey], kid: Any) -> list[client_keys.PublicKey]:
    return [key for key in keys if kid in (key.kid, key.thumbprint)]


def _app_keys(app: OAuthApp, *, refresh: bool) -> list[client_keys.PublicKey]:
    if not app.jwks_uri:
        return client_keys.stored_keys(app.public_keys)
    try:
        return client_keys.jwks_url_keys(app.jwks_uri, refresh=refresh)
    except client_keys.InvalidJWKSURL as exc:
        raise InvalidClientAssertion(f"The app's JWKS URL is refused: {exc}") from None
    except client_keys.JWKSUnavailable as exc:
        raise InvalidClientAssertion(
            f"The app's JWKS could not be fetched from its JWKS URL: {exc}."
        ) from None
    except client_keys.InvalidPublicKey as exc:
        raise InvalidClientAssertion(
            f"The app's JWKS URL does not serve a usable JWKS. {exc}"
        ) from None


def _described(exc: jwt.InvalidTokenError, audiences: list[str]) -> str:
    if isinstance(exc, jwt.ExpiredSignatureError):
        return "The assertion has expired (exp is in the past): sign a new one for each request."
    if isinstance(exc, jwt.InvalidAudienceError):
        return f"The assertion's aud must be the token endpoint URL or the issuer: {' or '.join(audiences)}."
    if isinstance(exc, jwt.InvalidIssuerError):
        return "The assertion's iss and sub claims must both be the client ID."
    if isinstance(exc, jwt.ImmatureSignatureError):
        return "The assertion is not valid yet (its nbf or iat is in the future): check the client's clock."
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"The assertion lacks the {exc.claim} claim (iss, sub, aud, exp and jti are required)."
    return "The assertion is not a well-formed JWT with numeric exp, iat and nbf."


def _check_times(claims: dict[str, Any], now: datetime) -> None:
    expires = datetime.fromtimestamp(claims["exp"], tz=UTC)
    if expires > now + MAX_LIFETIME + CLOCK_SKEW:
        raise InvalidClientAssertion(
            "The assertion's exp must be at most 5 minutes ahead: sign short-lived assertions."
        )
    jti = claims["jti"]
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_CHARS:
        raise InvalidClientAssertion(
            f"The assertion's jti must be a unique string of 1 to {MAX_JTI_CHARS} characters."
        )


def _use_once(*, app: OAuthApp, jti: str, expires_at: float, now: datetime) -> None:
    """Record the assertion's jti, or refuse it if it was used before and has not expired."""
    key = hashlib.sha256(f"{app.client_id}\x00{jti}".encode()).hexdigest()
    # Kept a clock skew beyond exp: the assertion is refused as expired only after that.
    until = datetime.fromtimestamp(expires_at, tz=UTC) + CLOCK_SKEW
    try:
        with transaction.atomic():
            UsedClientAssertion.objects.create(key=key, expires_at=until)
    except IntegrityError:
        # Used before: fine only if that record has expired (not yet pruned). The UPDATE's
        # condition decides between two such requests: one of them updates the row.
        reused = UsedClientAssertion.objects.filter(
            key=key, expires_at__lte=now
        ).update(expires_at=until)
        if not reused:
            raise InvalidClientAssertion(
                "This assertion was already used (its jti was seen before): sign a new one, "
                "with a new jti, for each request."
            ) from None
    if next(_recorded) % PRUNE_EVERY == 0:
        prune(now=now)


def prune(*, now: datetime | None = None) -> int:
    """Delete the records of assertions that have expired; how many were deleted."""
    deleted, _ = UsedClientAssertion.objects.filter(
        expires_at__lte=now or timezone.now()
    ).delete()
    return deleted


def audiences_for(issuer: str, uri: str) -> list[str]:
    """The aud values accepted: the issuer, the token endpoint's URL, the URL called."""
    token_endpoint = issuer + reverse("oauth:token")
    called = issuer + urlsplit(uri).path
    return list(dict.fromkeys([issuer, token_endpoint, called]))


def authenticate(
    request: Request,
    *,
    issuer: str,
    load_app: Callable[[str], OAuthApp | None],
    record_use: bool = True,
) -> OAuthApp:
    """The app the request's client assertion authenticates (oauthlib's request, as the
    validator's authenticate_client gets it); raises invalid_client otherwise. Without
    `record_use`, the assertion's single use is not recorded again (the pipeline deciding a
    second time for the same request, which recorded it already)."""
    if request.headers.get("Authorization") or getattr(request, "client_secret", None):
        raise errors.InvalidRequestError(
            description="Use one way to authenticate the client: a client_assertion, or a "
            "client secret, not both.",
            request=request,
        )
    try:
        client_id = claimed_client_id(
            assertion_type=getattr(request, "client_assertion_type", None),
            assertion=getattr(request, "client_assertion", None),
            client_id=request.client_id,
        )
        app = load_app(client_id)
        # One answer for unknown and disabled: the response must not tell them apart.
        if app is None or app.is_disabled:
            raise InvalidClientAssertion(FAILED)
        verify_client_assertion(
            request.client_assertion,
            app=app,
            audiences=audiences_for(issuer, request.uri),
            record_use=record_use,
        )
    except InvalidClientAssertion as exc:
        raise errors.InvalidClientError(
            description=exc.description, request=request
        ) from None
    return app
