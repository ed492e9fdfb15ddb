"""The credentials JSON (DESIGN.md §5): what "Download JSON" saves and scripts read."""

import base64
import json
from datetime import UTC, datetime

from django.utils.text import slugify

from console.issuer import issuer as configured_issuer
from oauthapps.models import OAuthApp


def credentials_document(
    *, app: OAuthApp, client_secret: str | None, issuer: str | None = None
) -> dict:
    """Everything a script needs to get a token, and nothing it does not. `issuer`: the
    console's URL as console.issuer gave it for the request (CONSOLE_ISSUER by default).

    An app that authenticates with private_key_jwt has no secret: the document says so
    (`token_endpoint_auth_method`) and names its public keys' fingerprints or its JWKS URL;
    the private key stays with whoever runs the app."""
    issuer = issuer or configured_issuer()
    if app.uses_private_key_jwt:
        authentication: dict = {"token_endpoint_auth_method": "private_key_jwt"}
        if app.jwks_uri:
            authentication["jwks_uri"] = app.jwks_uri
        else:
            authentication["public_key_fingerprints"] = [
                record["thumbprint"] for record in app.public_keys
            ]
    else:
        authentication = {"client_secret": client_secret}
    if not app.uses_private_key_jwt:
        # The organization's secret expiry policy (oauthapps/policies.py); null: never.
        expires = app.secret_expires_at
        expiry = {"client_secret_expires_at": _utc(expires) if expires else None}
    else:
        expiry = {}
    return {
        "type": app.app_type,
        "name": app.name,
        "description": app.description,
        "client_id": app.client_id,
        **authentication,
        "org_id": str(app.organization_id),
        "issuer": issuer,
        "token_endpoint": f"{issuer}/oauth/token",
        "scopes": list(app.scopes),
        "access_token_ttl_minutes": app.access_token_ttl_minutes,
        "created_at": _utc(app.created),
        **expiry,
    }


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def credentials_json(
    *, app: OAuthApp, client_secret: str | None, issuer: str | None = None
) -> str:
    return json.dumps(
        credentials_document(app=app, client_secret=client_secret, issuer=issuer),
        indent=2,
    )


def credentials_filename(*, app: OAuthApp) -> str:
    """`<app-name-slug>-credentials.json`; apps whose name has no ASCII letters get a generic stem."""
    return f"{slugify(app.name) or 'oauth-app'}-credentials.json"


def credentials_data_url(
    *, app: OAuthApp, client_secret: str | None, issuer: str | None = None
) -> str:
    """The credentials JSON as a `data:` URL, so "Download JSON" needs no second request and the
    server never keeps the plaintext secret anywhere to serve it from."""
    payload = base64.b64encode(
        credentials_json(app=app, client_secret=client_secret, issuer=issuer).encode()
    ).decode()
    return f"data:application/json;base64,{payload}"
