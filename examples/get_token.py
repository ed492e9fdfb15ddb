#!/usr/bin/env python3
"""Get an access token with an OAuth app's credentials and call the console's API with it.

    python examples/get_token.py credentials.json [--org-id ORG_ID] [--scope "org:member ..."]

`credentials.json` is the file the console's "Download JSON" button saves. The script asks the
token endpoint for a token (client credentials grant, HTTP Basic authentication), then reads
GET /api/v1/orgs/{org_id} with it and prints the answer. It needs only `requests`.
"""

import argparse
import json
import sys
from pathlib import Path

import requests


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

    credentials = json.loads(args.credentials.read_text())
    org_id = args.org_id or credentials["org_id"]

    form = {"grant_type": "client_credentials", "orgId": org_id}
    if args.scope:
        form["scope"] = args.scope
    response = requests.post(
        credentials["token_endpoint"],
        data=form,
        auth=(credentials["client_id"], credentials["client_secret"]),
        timeout=30,
    )
    if response.status_code != 200:
        error = response.json()
        print(
            f"Token request failed ({response.status_code}): {error.get('error')}: "
            f"{error.get('error_description', '')}",
            file=sys.stderr,
        )
        return 1
    token = response.json()
    print(
        f"Got a token for {token['expires_in']} seconds with scope: {token['scope']}",
        file=sys.stderr,
    )

    response = requests.get(
        f"{credentials['issuer']}/api/v1/orgs/{org_id}",
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=30,
    )
    if response.status_code != 200:
        print(
            f"API call failed ({response.status_code}): {response.text}",
            file=sys.stderr,
        )
        return 1
    print(json.dumps(response.json(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
