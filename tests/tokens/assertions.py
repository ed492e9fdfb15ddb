"""Key pairs and client assertions (private_key_jwt) for the tests, made with cryptography and
PyJWT as a client would make them."""

import time
import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.utils import timezone

from oauthapps import client_keys
from oauthapps.client_assertions import ASSERTION_TYPE

ALGS = ("RS256", "ES256", "EdDSA")


@dataclass(frozen=True)
class KeyPair:
    alg: str
    private: Any

    @property
    def private_pem(self) -> str:
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    @property
    def public_pem(self) -> str:
        return (
            self.private.public_key()
            .public_bytes(
                serialization.Encoding.PEM,
                serialization.PublicFormat.SubjectPublicKeyInfo,
            )
            .decode()
        )

    @property
    def public_jwk(self) -> dict[str, str]:
        return client_keys.public_jwk(self.private.public_key())

    @property
    def thumbprint(self) -> str:
        return client_keys.thumbprint(self.public_jwk)

    def records(self) -> list[dict]:
        return client_keys.key_records(self.public_pem, now=timezone.now())


def _generate(alg: str) -> Any:
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


@cache
def key_pair(alg: str, number: int = 1) -> KeyPair:
    """A key pair for `alg`, the same within a test run (RSA keys take a while to make)."""
    return KeyPair(alg=alg, private=_generate(alg))


def assertion(
    key: KeyPair,
    client_id: str,
    audience: str | list[str],
    *,
    lifetime: int = 60,
    alg: str | None = None,
    headers: dict | None = None,
    **claims: Any,
) -> str:
    """A client assertion signed with the key: iss = sub = client_id, a fresh jti."""
    now = int(time.time())
    payload = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now,
        "exp": now + lifetime,
        "jti": str(uuid.uuid4()),
        **claims,
    }
    payload = {name: value for name, value in payload.items() if value is not None}
    return jwt.encode(payload, key.private, algorithm=alg or key.alg, headers=headers)


def assertion_form(signed: str, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": signed,
        **extra,
    }


class JWKSServer:
    """A JWKS URL on loopback, in a thread: serves `document` with `cache_control`, counts
    requests. `status`, `delay` and `body` (raw bytes) make it misbehave."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.document: dict = {"keys": []}
        self.cache_control: str | None = "max-age=300"
        self.status = 200
        self.body: bytes | None = None
        self.delay = 0.0
        self.requests = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                server.requests += 1
                if server.delay:
                    time.sleep(server.delay)
                body = server.body
                if body is None:
                    import json

                    body = json.dumps(server.document).encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if server.cache_control is not None:
                    self.send_header("Cache-Control", server.cache_control)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"

    def publish(self, *keys: KeyPair, kid: bool = True) -> None:
        self.document = {
            "keys": [
                {
                    **key.public_jwk,
                    "use": "sig",
                    **({"kid": key.thumbprint} if kid else {}),
                }
                for key in keys
            ]
        }

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
