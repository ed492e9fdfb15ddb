"""The key ring that signs access tokens and the public keys that verify them.

Every key records its algorithm (CONSOLE_TOKEN_SIGNING_ALG, see the README); the JWKS publishes
each with its own `kty`, `alg` and `kid`, and a token is verified with the algorithm of the key it
names. The current signing key is, in production, CONSOLE_SIGNING_KEY_PEM's, whose public half
alone is stored so that every instance publishes it until the tokens it signed have expired;
otherwise the newest unretired SigningKey row of the configured algorithm, generated on first use
(also when the algorithm changes; `manage.py rotate_signing_key` adds a newer one).

Each process keeps the loaded keys in memory (parsing a PEM costs milliseconds) and re-reads the
current signing key every `REFRESH_SECONDS`. That is safe to cache: a process that signs with the
previous key for up to a minute after a rotation still produces valid tokens, because the previous
key stays in the JWKS for `PUBLISH_WINDOW` after it was retired.
"""

import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from jwt.algorithms import get_default_algorithms

from oauthapps import client_keys
from oauthapps.models import TTL_MAX_MINUTES
from oauthapps.tokens.models import SigningKey

# Seconds on a clock that never goes back; a module attribute so tests can move it.
_clock = time.monotonic

RSA_KEY_SIZE = 2048
REFRESH_SECONDS = 60
# A retired key stays published while tokens it signed can still be valid: the longest lifetime,
# plus the refresh interval (a process may sign with it that long after it was retired) and skew.
PUBLISH_WINDOW = timedelta(minutes=TTL_MAX_MINUTES, seconds=REFRESH_SECONDS + 240)
_PYJWT = get_default_algorithms()


def algorithm_of(key) -> str:
    """The JWS algorithm a (private or public) key signs with; ValueError for other keys."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        if key.key_size < RSA_KEY_SIZE:
            raise ValueError(f"An RSA signing key needs at least {RSA_KEY_SIZE} bits.")
        return "RS256"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise ValueError("An EC signing key must be on the P-256 curve (ES256).")
        return "ES256"
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "EdDSA"
    raise ValueError("A signing key must be RSA, EC P-256 or Ed25519.")


@dataclass(frozen=True)
class LoadedKey:
    kid: str
    algorithm: str
    public_key: object
    private_key: object | None

    @property
    def public_jwk(self) -> dict[str, str]:
        jwk = _PYJWT[self.algorithm].to_jwk(self.public_key, as_dict=True)
        return {**jwk, "use": "sig", "alg": self.algorithm, "kid": self.kid}

    @property
    def public_pem(self) -> str:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()


def generate_private_key_pem(algorithm: str | None = None) -> str:
    """A new private key (PKCS#8 PEM) for `algorithm` (default: the configured one)."""
    algorithm = algorithm or settings.CONSOLE_TOKEN_SIGNING_ALG
    if algorithm == "RS256":
        key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_SIZE)
    elif algorithm == "ES256":
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        key = ed25519.Ed25519PrivateKey.generate()
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def load_pem(kid: str, pem: str) -> LoadedKey:
    """Parse a stored key: a private key (signs and verifies) or a public one (verifies only)."""
    data = pem.encode()
    if b"PRIVATE KEY" in data:
        private_key = serialization.load_pem_private_key(data, password=None)
        public_key = private_key.public_key()
    else:
        private_key, public_key = None, serialization.load_pem_public_key(data)
    algorithm = algorithm_of(public_key)
    if not kid:  # a kid that names the key itself: its RFC 7638 thumbprint
        kid = client_keys.thumbprint(_PYJWT[algorithm].to_jwk(public_key, as_dict=True))
    return LoadedKey(kid, algorithm, public_key, private_key)


def load_configured_pem(pem: str) -> LoadedKey:
    """The production key from the environment, named by its thumbprint."""
    algorithm, name = settings.CONSOLE_TOKEN_SIGNING_ALG, "CONSOLE_SIGNING_KEY_PEM"
    wanted = f"{name} must be an unencrypted private key for {algorithm}"
    try:
        key = load_pem("", pem)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{wanted}: {exc}") from None
    if key.private_key is None:
        raise ValueError(f"{name} must be a private key, not a public one.")
    if key.algorithm != algorithm:
        raise ValueError(
            f"{wanted} (CONSOLE_TOKEN_SIGNING_ALG); it is a {key.algorithm} key."
        )
    return key


class _KeyCache:
    """Per-process memory of parsed keys, guarded by a lock for threaded workers."""

    lock = threading.Lock()
    signing: LoadedKey | None = None
    signing_loaded_at = 0.0
    public: dict[str, LoadedKey] = {}  # noqa: RUF012  (replaced, never changed in place)
    public_loaded_at = 0.0


_cache = _KeyCache()


def clear_cache() -> None:
    """Forget every parsed key (tests; and the rotate command in its own process)."""
    with _cache.lock:
        _cache.signing, _cache.public = None, {}
        _cache.signing_loaded_at = _cache.public_loaded_at = 0.0


def signing_key() -> LoadedKey:
    """The key that signs new tokens now. A database read at most once per REFRESH_SECONDS."""
    with _cache.lock:
        age = _clock() - _cache.signing_loaded_at
        if _cache.signing is None or age >= REFRESH_SECONDS:
            key = _load_signing_key()
            _cache.signing, _cache.signing_loaded_at = key, _clock()
            _cache.public = {**_cache.public, key.kid: key}
        return _cache.signing


def _load_signing_key() -> LoadedKey:
    configured = settings.CONSOLE_SIGNING_KEY_PEM
    if configured:
        key = load_configured_pem(configured)
        _register_configured_key(key)
        return key
    unretired = SigningKey.objects.filter(retired_at__isnull=True)
    row = unretired.order_by("-created_at").first()
    if row is not None and row.algorithm == settings.CONSOLE_TOKEN_SIGNING_ALG:
        key = load_pem(row.kid, row.private_key_pem)
        if key.private_key is not None:
            return key
    return new_current_key()


@transaction.atomic
def _register_configured_key(key: LoadedKey) -> None:
    """Publish the environment's key (public half only); the first time a new one is seen, the keys
    before it are retired, so they stay published for PUBLISH_WINDOW and then drop out."""
    defaults = {"private_key_pem": key.public_pem, "algorithm": key.algorithm}
    _, created = SigningKey.objects.get_or_create(kid=key.kid, defaults=defaults)
    if created:
        others = SigningKey.objects.filter(retired_at__isnull=True).exclude(kid=key.kid)
        others.update(retired_at=timezone.now())


@transaction.atomic
def new_current_key() -> LoadedKey:
    """Store a new key of the configured algorithm as the current one and retire the others
    (they stay published for PUBLISH_WINDOW); keys retired before that window are deleted."""
    now = timezone.now()
    pem = generate_private_key_pem()
    key = load_pem("", pem)
    SigningKey.objects.filter(retired_at__isnull=True).update(retired_at=now)
    SigningKey.objects.filter(retired_at__lt=now - PUBLISH_WINDOW).delete()
    SigningKey.objects.create(kid=key.kid, algorithm=key.algorithm, private_key_pem=pem)
    return key


def verification_key(kid: str) -> LoadedKey | None:
    """The public key named `kid` if it is still published, else None.

    A kid seen for the first time costs one query (a key rotated in by another process is found at
    once); the memory is dropped every REFRESH_SECONDS so a deleted key stops verifying.
    """
    now = _clock()
    if now - _cache.public_loaded_at >= REFRESH_SECONDS:
        with _cache.lock:
            if now - _cache.public_loaded_at >= REFRESH_SECONDS:
                _cache.public, _cache.public_loaded_at = {}, now
    key = _cache.public.get(kid)
    if key is not None:
        return key
    # No query for what no kid could be (the column holds 64 characters).
    row = _published().filter(kid=kid).first() if 0 < len(kid) <= 64 else None
    if row is None:
        return None
    key = load_pem(row.kid, row.private_key_pem)
    with _cache.lock:
        _cache.public = {**_cache.public, kid: key}
    return key


def _published():
    """Keys not retired, or retired recently enough to verify tokens still valid: newest first."""
    retired_after = timezone.now() - PUBLISH_WINDOW
    unretired_or_recent = Q(retired_at__isnull=True) | Q(retired_at__gt=retired_after)
    return SigningKey.objects.filter(unretired_or_recent).order_by("-created_at")


def published_keys() -> list[LoadedKey]:
    """Every key whose tokens may still be valid, newest first: what the JWKS lists."""
    signing_key()  # makes sure the current key (generated or from the environment) is stored
    return [
        _cache.public.get(row.kid) or load_pem(row.kid, row.private_key_pem)
        for row in _published()
    ]


def jwks() -> dict[str, list[dict[str, str]]]:
    return {"keys": [key.public_jwk for key in published_keys()]}
