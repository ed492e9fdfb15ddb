#!/usr/bin/env python3
"""Get an access token with an OAuth app's credentials and call the console's API with it.

    python examples/get_token.py credentials.json [--org-id ORG_ID] [--scope "org:member ..."]

`credentials.json` is the file the console's "Download JSON" button saves. The script asks the
token endpoint for a token (client credentials grant, HTTP Basic authentication), then reads
GET /api/v1/orgs/{org_id} with it and prints the answer. It needs only `requests`.
Anything that goes wrong (the console unreachable, a refused request) is one line on stderr and
exit status 1.
"""

import argparse
import json
import sys
from pathlib import Path

import requests


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


def _credentials(path: Path) -> dict:
    try:
        credentials = json.loads(path.read_text())
    except OSError as exc:
        raise Failed(f"Cannot read {path}: {exc.strerror}.") from None
    except ValueError:
        raise Failed(f"{path} is not JSON: use the file Download JSON saved.") from None
    missing = [
        key
        for key in ("client_id", "client_secret", "org_id", "issuer", "token_endpoint")
        if not isinstance(credentials, dict) or key not in credentials
    ]
    if missing:
        raise Failed(
            f"{path} lacks {', '.join(missing)}: use the file Download JSON saved."
        )
    return credentials


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
    args = parser.parse_args()

    try:
        credentials = _credentials(args.credentials)
        org_id = args.org_id or credentials["org_id"]
        form = {"grant_type": "client_credentials", "orgId": org_id}
        if args.scope:
            form["scope"] = args.scope
        token = _send(
            "POST",
            credentials["token_endpoint"],
            "Token request",
            data=form,
            auth=(credentials["client_id"], credentials["client_secret"]),
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
