"""What a client sees after a change: the token endpoint, introspection and the resource API.

Used by the management tests to check that every change shows its effect where it matters.
"""

import base64
import html
import json
import re

from django.test import Client

from tests.tokens.fixtures import post_form


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def token_response(client: Client, client_id: str, secret: str, org=None, **data):
    form = {"grant_type": "client_credentials", **data}
    if org is not None:
        form["orgId"] = str(org.pk)
    return post_form(
        client, "/oauth/token", form, Authorization=basic(client_id, secret)
    )


def token(client: Client, client_id: str, secret: str, org=None, **data) -> dict:
    response = token_response(client, client_id, secret, org, **data)
    assert response.status_code == 200, response.content
    return json.loads(response.content)


def is_active(client: Client, client_id: str, secret: str, access_token: str) -> bool:
    """RFC 7662 introspection, authenticated as the app."""
    response = post_form(
        client,
        "/oauth/introspect",
        {"token": access_token},
        Authorization=basic(client_id, secret),
    )
    assert response.status_code == 200, response.content
    return json.loads(response.content)["active"]


def api_status(client: Client, access_token: str, org) -> int:
    return client.get(
        f"/api/v1/orgs/{org.pk}", headers={"Authorization": f"Bearer {access_token}"}
    ).status_code


def shown_secret(response) -> str:
    """The plaintext secret of the credentials pop-up in a page ('' if there is none)."""
    match = re.search(
        r'<textarea id="credentials-client-secret"[^>]*>([^<]*)</textarea>',
        response.content.decode(),
    )
    return html.unescape(match.group(1)) if match else ""
