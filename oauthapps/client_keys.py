"""The public keys of apps that authenticate with private_key_jwt (RFC 7523 §2.2).

- What an owner pastes (PEM, a JWK or a JWKS) becomes stored key records (`key_records`), each
  with its fingerprint: the RFC 7638 JWK thumbprint (SHA-256, base64url), which is also its `kid`
  unless the JWK named one.
- A JWKS URL is checked (`check_jwks_url`: https, and only public addresses, unless DEBUG), fetched
  with short timeouts and a size limit, connecting to the very address that was checked, and
  cached for as long as its Cache-Control says (`jwks_url_keys`, in Django's cache, so shared by
  every instance when Redis backs it).

Keys accepted: RSA of 2048 bits or more (RS256), EC on P-256 (ES256) and Ed25519 (EdDSA, which
RFC 9864 also names Ed25519). Private keys are refused: the console never needs one.
"""

import base64
import hashlib
import http.client
import ipaddress
import json
import re
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.conf import settings
from django.core.cache import cache
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from jwt.exceptions import InvalidKeyError

MAX_KEYS = 2
MIN_RSA_BITS = 2048
MAX_PASTED_CHARS = 20_000
MAX_KID_CHARS = 200
SUPPORTED = "RSA (2048 bits or more), EC P-256 or Ed25519"
# The JWS algorithms each kind of key verifies, and the one a record names.
ALGORITHMS = {"RSA": ("RS256",), "EC": ("ES256",), "OKP": ("EdDSA", "Ed25519")}
RECORD_ALG = {"RSA": "RS256", "EC": "ES256", "OKP": "EdDSA"}
# RFC 7638 §3.2: the required members of each key type, which the thumbprint hashes.
THUMBPRINT_MEMBERS = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
}
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)

# JWKS URLs
MAX_JWKS_BYTES = 64 * 1024
SOCKET_TIMEOUT = 3.0  # seconds, per connect, send or receive
TOTAL_TIMEOUT = 5.0  # seconds for the whole fetch
DEFAULT_MAX_AGE = 300  # without Cache-Control
MAX_MAX_AGE = 24 * 3600
REFETCH_INTERVAL = 60  # an unknown kid fetches the JWKS again at most this often
CACHE_PREFIX = "client-jwks:"


class InvalidPublicKey(ValueError):
    """What is wrong with pasted keys or a JWKS, said for the person who gave them."""


class InvalidJWKSURL(ValueError):
    """Why the console will not fetch this JWKS URL."""


class JWKSUnavailable(Exception):
    """Why the JWKS could not be fetched (a short reason, free of anything the server sent)."""


@dataclass(frozen=True)
class PublicKey:
    """A key that may verify an app's client assertions."""

    kid: str
    thumbprint: str
    algorithms: tuple[str, ...]
    key: Any  # a cryptography public key


# Pasted keys -------------------------------------------------------------------------------


def key_records(text: str, *, now: datetime) -> list[dict[str, Any]]:
    """The stored records of the public keys in `text` (PEM blocks, a JWK or a JWKS)."""
    text = (text or "").strip()
    if not text:
        raise InvalidPublicKey("Paste a public key: PEM, a JWK or a JWKS.")
    if len(text) > MAX_PASTED_CHARS:
        raise InvalidPublicKey(
            f"That is longer than {MAX_PASTED_CHARS:,} characters: paste one or two public keys."
        )
    if text[0] in "{[":
        parsed = [_key_of_jwk(jwk) for jwk in _jwks_members(text)]
    elif "-----BEGIN" in text:
        parsed = [(key, None) for key in _keys_of_pem(text)]
    else:
        raise InvalidPublicKey(
            "Paste a public key in PEM (-----BEGIN PUBLIC KEY-----), a JWK or a JWKS (JSON)."
        )
    records = [_record(key, kid, now=now) for key, kid in parsed]
    return merged([], records)


def merged(
    existing: list[dict[str, Any]], added: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The app's keys with `added`: at most MAX_KEYS, each once, no two with one kid."""
    result = list(existing)
    for record in added:
        if any(r["thumbprint"] == record["thumbprint"] for r in result):
            raise InvalidPublicKey(
                f"The key with fingerprint {record['thumbprint']} is already registered."
            )
        if any(r["kid"] == record["kid"] for r in result):
            raise InvalidPublicKey(
                f"Another key already has the key ID (kid) {record['kid']}."
            )
        result.append(record)
    if len(result) > MAX_KEYS:
        raise InvalidPublicKey(
            f"An app has at most {MAX_KEYS} public keys (two while you rotate): "
            + (
                "remove one before adding another."
                if existing
                else f"paste at most {MAX_KEYS}."
            )
        )
    return result


def _jwks_members(text: str) -> list[Any]:
    """The JWKs of a JWKS document, or the one JWK it is."""
    try:
        document = json.loads(text)
    except ValueError:
        raise InvalidPublicKey(
            "That is not valid JSON: paste a JWK or a JWKS as JSON."
        ) from None
    if isinstance(document, dict) and "keys" in document:
        members = document["keys"]
        if not isinstance(members, list) or not members:
            raise InvalidPublicKey(
                "The JWKS has no keys: its keys member must be a list of JWKs."
            )
        return members
    if isinstance(document, dict) and "kty" in document:
        return [document]
    raise InvalidPublicKey(
        'That JSON is neither a JWK (with a kty member) nor a JWKS ({"keys": [...]}).'
    )


def _key_of_jwk(jwk: Any) -> tuple[Any, str | None]:
    """(the public key, the kid the JWK names) of one JWK, checked."""
    if not isinstance(jwk, dict):
        raise InvalidPublicKey("Each key of a JWKS must be a JSON object (a JWK).")
    kty = jwk.get("kty")
    if kty == "oct":
        raise InvalidPublicKey(
            "That is a symmetric key (kty oct): private_key_jwt needs a public key."
        )
    if kty not in ALGORITHMS:
        raise InvalidPublicKey(
            f"Key type {str(kty)[:20]} is not supported: use {SUPPORTED}."
        )
    if any(member in jwk for member in PRIVATE_MEMBERS):
        raise InvalidPublicKey(
            "That JWK is a private key (it has a d member): paste its public part only, "
            "and keep the private key to yourself."
        )
    if jwk.get("use", "sig") != "sig":
        raise InvalidPublicKey(
            "That JWK is for encryption (use enc): register a signature key (use sig)."
        )
    kid = jwk.get("kid")
    if kid is not None and (
        not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID_CHARS
    ):
        raise InvalidPublicKey(
            f"A kid must be text of 1 to {MAX_KID_CHARS} characters."
        )
    loader = {"RSA": RSAAlgorithm, "EC": ECAlgorithm, "OKP": OKPAlgorithm}[kty]
    try:
        key = loader.from_jwk(jwk)
    except (InvalidKeyError, ValueError, TypeError, KeyError, UnsupportedAlgorithm):
        raise InvalidPublicKey(
            f"That JWK is not a valid {kty} key: check its members."
        ) from None
    _check_kind(key)
    alg = jwk.get("alg")
    if alg is not None and alg not in ALGORITHMS[kty]:
        raise InvalidPublicKey(
            f"The JWK's alg {str(alg)[:20]} does not fit: an {kty} key here signs "
            f"{' or '.join(ALGORITHMS[kty])}."
        )
    return key, kid


def _keys_of_pem(text: str) -> list[Any]:
    blocks = _PEM_BLOCK.findall(text)
    if not blocks:
        raise InvalidPublicKey(
            "No complete PEM block: paste everything from -----BEGIN PUBLIC KEY----- to "
            "-----END PUBLIC KEY-----."
        )
    keys = []
    for label, _ in blocks:
        if "PRIVATE" in label:
            raise InvalidPublicKey(
                "That is a private key: paste its public key instead (for example "
                "openssl pkey -in key.pem -pubout), and keep the private key to yourself."
            )
    for match in _PEM_BLOCK.finditer(text):
        pem = match.group(0).encode()
        try:
            if match.group(1) == "CERTIFICATE":
                key = x509.load_pem_x509_certificate(pem).public_key()
            else:
                key = serialization.load_pem_public_key(pem)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise InvalidPublicKey(
                f"The {match.group(1).title()} block is not a public key the console can read."
            ) from None
        _check_kind(key)
        keys.append(key)
    return keys


def _check_kind(key: Any) -> None:
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise InvalidPublicKey(
                f"RSA keys need at least {MIN_RSA_BITS} bits; this one has {key.key_size}."
            )
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise InvalidPublicKey(
                f"EC keys must be on P-256 (ES256); this one is on {key.curve.name}."
            )
    elif not isinstance(key, ed25519.Ed25519PublicKey):
        raise InvalidPublicKey(f"That kind of key is not supported: use {SUPPORTED}.")


def _kty(key: Any) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC"
    return "OKP"


def public_jwk(key: Any) -> dict[str, str]:
    """The key as a JWK with only its public members."""
    loader = {"RSA": RSAAlgorithm, "EC": ECAlgorithm, "OKP": OKPAlgorithm}[_kty(key)]
    jwk = loader.to_jwk(key, as_dict=True)
    return {name: jwk[name] for name in THUMBPRINT_MEMBERS[jwk["kty"]]}


def thumbprint(jwk: dict[str, Any]) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256, base64url without padding)."""
    members = {name: jwk[name] for name in THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _record(key: Any, kid: str | None, *, now: datetime) -> dict[str, Any]:
    jwk = public_jwk(key)
    print_ = thumbprint(jwk)
    return {
        "kid": kid or print_,
        "thumbprint": print_,
        "alg": RECORD_ALG[jwk["kty"]],
        "jwk": jwk,
        "added_at": now.isoformat(),
    }


def stored_keys(records: list[dict[str, Any]]) -> list[PublicKey]:
    """The usable keys of an app's stored records (parsed once per process)."""
    return [
        _stored_key(record["kid"], json.dumps(record["jwk"], sort_keys=True))
        for record in records
    ]


@lru_cache(maxsize=1024)
def _stored_key(kid: str, jwk_json: str) -> PublicKey:
    jwk = json.loads(jwk_json)
    key, _ = _key_of_jwk(jwk)
    return PublicKey(
        kid=kid, thumbprint=thumbprint(jwk), algorithms=ALGORITHMS[jwk["kty"]], key=key
    )


# JWKS URLs ---------------------------------------------------------------------------------


def jwks_keys(text: str) -> list[PublicKey]:
    """The signature keys a fetched JWKS publishes; keys for encryption and kinds the console
    does not support are left out. A JWKS with none left, or with a private key, is refused."""
    return list(_parsed_jwks(text))


@lru_cache(maxsize=64)
def _parsed_jwks(text: str) -> tuple[PublicKey, ...]:
    try:
        document = json.loads(text)
    except ValueError:
        raise InvalidPublicKey("It does not serve JSON.") from None
    members = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(members, list):
        raise InvalidPublicKey('It does not serve a JWKS ({"keys": [...]}).')
    keys = []
    for jwk in members:
        if isinstance(jwk, dict) and any(member in jwk for member in PRIVATE_MEMBERS):
            raise InvalidPublicKey(
                "It publishes a private key: publish public keys only."
            )
        if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
            continue
        try:
            key, kid = _key_of_jwk(jwk)
        except InvalidPublicKey:
            continue
        public = public_jwk(key)
        print_ = thumbprint(public)
        keys.append(
            PublicKey(
                kid=kid or print_,
                thumbprint=print_,
                algorithms=ALGORITHMS[public["kty"]],
                key=key,
            )
        )
    if not keys:
        raise InvalidPublicKey(f"Its JWKS has no {SUPPORTED} signature key.")
    return tuple(keys)


def check_jwks_url(url: str) -> list[str]:
    """The addresses `url`'s host resolves to, if the console may fetch it: https, no user
    name or password, and (unless DEBUG) only public addresses, never loopback, private or
    link-local ones."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidJWKSURL("Enter a valid URL.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidJWKSURL("Enter an https:// URL.")
    if parts.scheme != "https" and not settings.DEBUG:
        raise InvalidJWKSURL("The JWKS URL must use https.")
    if parts.username is not None or parts.password is not None:
        raise InvalidJWKSURL("The JWKS URL must not carry a user name or password.")
    default_port = 443 if parts.scheme == "https" else 80
    try:
        infos = socket.getaddrinfo(
            parts.hostname, port or default_port, type=socket.SOCK_STREAM
        )
    except (OSError, UnicodeError):
        raise InvalidJWKSURL(f"The host {parts.hostname} cannot be resolved.") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not settings.DEBUG and not all(_is_public(address) for address in addresses):
        raise InvalidJWKSURL(
            f"{parts.hostname} resolves to a loopback, private or link-local address: the "
            "console fetches JWKS URLs on the public internet only."
        )
    return addresses


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address that was checked, whatever the name resolves to by then."""

    def __init__(self, host: str, port: int, *, address: str) -> None:
        super().__init__(host, port, timeout=SOCKET_TIMEOUT)
        self.pinned_address = address

    def connect(self) -> None:
        self.sock = socket.create_connection(
            (self.pinned_address, self.port), self.timeout
        )


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, *, address: str) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(host, port, timeout=SOCKET_TIMEOUT, context=self.tls)
        self.pinned_address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.pinned_address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)


def fetch_jwks(url: str) -> tuple[str, int]:
    """(the document, how many seconds it may be cached) from the JWKS URL. Raises
    InvalidJWKSURL (not allowed) or JWKSUnavailable (no usable answer)."""
    addresses = check_jwks_url(url)
    parts = urlsplit(url)
    https = parts.scheme == "https"
    connection_class = _PinnedHTTPSConnection if https else _PinnedHTTPConnection
    connection = connection_class(
        parts.hostname, parts.port or (443 if https else 80), address=addresses[0]
    )
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    deadline = time.monotonic() + TOTAL_TIMEOUT
    try:
        connection.request(
            "GET",
            target,
            headers={
                "Accept": "application/jwk-set+json, application/json",
                "User-Agent": "Cloud-Services-Console-JWKS/1",
            },
        )
        response = connection.getresponse()
        if response.status != 200:
            raise JWKSUnavailable(f"it answered HTTP {response.status}")
        body = bytearray()
        while chunk := response.read1(16 * 1024):
            body += chunk
            if len(body) > MAX_JWKS_BYTES:
                raise JWKSUnavailable(
                    f"its answer is larger than {MAX_JWKS_BYTES // 1024} KB"
                )
            if time.monotonic() > deadline:
                raise JWKSUnavailable(f"it took longer than {TOTAL_TIMEOUT:g} seconds")
        max_age = cache_lifetime(response.getheader("Cache-Control"))
    except TimeoutError:
        raise JWKSUnavailable("it did not answer in time") from None
    except ssl.SSLError:
        raise JWKSUnavailable("its TLS certificate could not be verified") from None
    except (OSError, http.client.HTTPException):
        raise JWKSUnavailable("it could not be reached") from None
    finally:
        connection.close()
    try:
        return body.decode("utf-8"), max_age
    except UnicodeDecodeError:
        raise JWKSUnavailable("its answer is not UTF-8 text") from None


def cache_lifetime(cache_control: str | None) -> int:
    """Seconds a response may be reused, from its Cache-Control (RFC 9111 §5.2.2): none with
    no-store or no-cache, max-age (at most a day) otherwise, five minutes without one."""
    if not cache_control:
        return DEFAULT_MAX_AGE
    directives = [part.strip().lower() for part in cache_control.split(",")]
    if "no-store" in directives or "no-cache" in directives:
        return 0
    for directive in directives:
        name, _, value = directive.partition("=")
        if name.strip() == "max-age":
            try:
                return max(0, min(int(value.strip().strip('"')), MAX_MAX_AGE))
            except ValueError:
                return 0
    return DEFAULT_MAX_AGE


def _cache_key(url: str) -> str:
    return CACHE_PREFIX + hashlib.sha256(url.encode()).hexdigest()


def jwks_url_keys(url: str, *, refresh: bool = False) -> list[PublicKey]:
    """The keys the JWKS URL publishes: from the cache while its Cache-Control allows, else
    fetched (and then cached). Raises InvalidJWKSURL, JWKSUnavailable or InvalidPublicKey."""
    key = _cache_key(url)
    text = None if refresh else _cache_call(cache.get, key)
    if text is not None:
        return jwks_keys(text)
    text, max_age = fetch_jwks(url)
    keys = jwks_keys(text)  # only a usable JWKS is cached
    if max_age > 0:
        _cache_call(cache.set, key, text, max_age)
    return keys


def may_refetch(url: str) -> bool:
    """Whether an assertion naming a kid the cached JWKS lacks may fetch it again now (at most
    once a minute per URL, across instances: such assertions are anyone's to send)."""
    added = _cache_call(cache.add, _cache_key(url) + ":refetch", 1, REFETCH_INTERVAL)
    return added is not False


def forget_jwks(url: str) -> None:
    """Drop the cached JWKS of `url` (its app changed the URL, or it was checked anew)."""
    _cache_call(cache.delete, _cache_key(url))


def _cache_call(method, *args):  # noqa: ANN001, ANN202
    # The cache only saves fetches: if it is away (Redis down), fetch every time.
    try:
        return method(*args)
    except Exception:  # noqa: BLE001
        return None
