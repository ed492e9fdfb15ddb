#!/usr/bin/env python3
"""Get an access token with an OAuth app's credentials and call the console's API with it.

    python examples/get_token.py credentials.json [--org-id ORG_ID] [--scope "org:member ..."]
    python examples/get_token.py credentials.json --private-key private-key.pem [...]

`credentials.json` is the file the console's "Download JSON" button saves. The script asks the
token endpoint for a token (client credentials grant), then reads GET /api/v1/orgs/{org_id} with
it and prints the answer. An app with a client secret authenticates with HTTP Basic; an app
registered for private key JWT (`"token_endpoint_auth_method": "private_key_jwt"` in the file)
sends a client assertion instead: a JWT signed with `--private-key` (a PEM file: RSA for RS256,
EC P-256 for ES256, Ed25519 for EdDSA), valid one minute, with a new `jti` (RFC 7523 §2.2).
It needs `requests`, and PyJWT with its crypto extra for a private key
(`pip install requests "PyJWT[crypto]"`).
Anything that goes wrong (the console unreachable, a refused request) is one line on stderr and
exit status 1.
"""

import argparse
import json
import sys
import time
import uuid
from pathlib import Path

import requests

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 60  # seconds; the console accepts at most 5 minutes


class Failed(Exception):
    """What went wrong, in one line for the person running the script."""


def _error_of(response: requests.Response) -> str:
    """`error: description` of an RFC 6749 / RFC 6750 error body, or the start of any other."""
    try:
        body = response.json()
    except ValueError:
        return (
            response.text.strip().splitlines()[0][:200] if response.text else "(empty)"
        )
    if isinstance(body, dict) and "error" in body:
        return f"{body['error']}: {body.get('error_description', '')}".strip()
    return json.dumps(body)[:200]


def _send(method: str, url: str, what: str, **kwargs) -> requests.Response:
    try:
        response = requests.request(method, url, timeout=30, **kwargs)
    except requests.ConnectionError:
        raise Failed(
            f"Cannot reach the console at {url}: is it running there? (the URL comes from "
            "the credentials JSON's issuer and token_endpoint)"
        ) from None
    except requests.Timeout:
        raise Failed(
            f"The console at {url} did not answer within 30 seconds."
        ) from None
    except requests.RequestException as exc:
        raise Failed(f"{what} failed: {exc}") from None
    if response.status_code != 200:
        raise Failed(f"{what} failed ({response.status_code}): {_error_of(response)}")
    return response


def _credentials(path: Path, *, with_private_key: bool) -> dict:
    try:
        credentials = json.loads(path.read_text())
    except OSError as exc:
        raise Failed(f"Cannot read {path}: {exc.strerror}.") from None
    except ValueError:
        raise Failed(f"{path} is not JSON: use the file Download JSON saved.") from None
    uses_key = (
        isinstance(credentials, dict)
        and credentials.get("token_endpoint_auth_method") == "private_key_jwt"
    )
    if uses_key and not with_private_key:
        raise Failed(
            f"The app of {path} authenticates with a private key JWT: pass its private key "
            "with --private-key private-key.pem."
        )
    needed = ["client_id", "org_id", "issuer", "token_endpoint"]
    if not with_private_key:
        needed.insert(1, "client_secret")
    missing = [
        key
        for key in needed
        if not isinstance(credentials, dict) or key not in credentials
    ]
    if missing:
        raise Failed(
            f"{path} lacks {', '.join(missing)}: use the file Download JSON saved."
        )
    return credentials


def _client_assertion(path: Path, client_id: str, token_endpoint: str) -> str:
    """A client assertion (RFC 7523 §2.2) signed with the private key in `path`."""
    try:
        import jwt
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
        from cryptography.hazmat.primitives.serialization import load_pem_private_key
    except ImportError:
        raise Failed(
            'A private key needs PyJWT with its crypto extra: pip install "PyJWT[crypto]".'
        ) from None
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise Failed(f"Cannot read {path}: {exc.strerror}.") from None
    except (ValueError, TypeError):
        raise Failed(
            f"{path} is not an unencrypted private key in PEM (-----BEGIN PRIVATE KEY-----)."
        ) from None
    if isinstance(key, rsa.RSAPrivateKey):
        algorithm = "RS256"
    elif isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1":
        algorithm = "ES256"
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        algorithm = "EdDSA"
    else:
        raise Failed(f"{path} must hold an RSA, EC P-256 or Ed25519 private key.")
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": token_endpoint,
        "iat": now,
        "exp": now + ASSERTION_LIFETIME,
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(claims, key, algorithm=algorithm)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "credentials", type=Path, help="the downloaded credentials JSON"
    )
    parser.add_argument(
        "--org-id",
        help="the organization to act in (default: the app's own organization)",
    )
    parser.add_argument("--scope", help="ask for fewer scopes than the app was granted")
    parser.add_argument(
        "--private-key",
        type=Path,
        help="the app's private key (PEM), for an app that authenticates with a private "
        "key JWT instead of a client secret",
    )
    args = parser.parse_args()

    try:
        credentials = _credentials(
            args.credentials, with_private_key=args.private_key is not None
        )
        org_id = args.org_id or credentials["org_id"]
        form = {"grant_type": "client_credentials", "orgId": org_id}
        if args.scope:
            form["scope"] = args.scope
        authentication: dict = {}
        if args.private_key is not None:
            form["client_assertion_type"] = ASSERTION_TYPE
            form["client_assertion"] = _client_assertion(
                args.private_key,
                credentials["client_id"],
                credentials["token_endpoint"],
            )
        else:
            authentication["auth"] = (
                credentials["client_id"],
                credentials["client_secret"],
            )
        token = _send(
            "POST",
            credentials["token_endpoint"],
            "Token request",
            data=form,
            **authentication,
        ).json()
        print(
            f"Got a token for {token['expires_in']} seconds with scope: {token['scope']}",
            file=sys.stderr,
        )
        organization = _send(
            "GET",
            f"{credentials['issuer']}/api/v1/orgs/{org_id}",
            "API call",
            headers={"Authorization": f"Bearer {token['access_token']}"},
        ).json()
    except Failed as failure:
        print(failure, file=sys.stderr)
        return 1
    print(json.dumps(organization, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
