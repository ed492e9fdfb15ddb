"""The credentials JSON (DESIGN.md §5): what "Download JSON" saves and scripts read."""

import json

from django.conf import settings

from oauthapps.models import OAuthApp


def credentials_document(*, app: OAuthApp, client_secret: str) -> dict:
    """Everything a script needs to get a token, and nothing it does not."""
    issuer = settings.CONSOLE_ISSUER
    return {
        "type": app.app_type,
        "name": app.name,
        "description": app.description,
        "client_id": app.client_id,
        "client_secret": client_secret,
        "org_id": str(app.organization_id),
        "issuer": issuer,
        "token_endpoint": f"{issuer}/oauth/token",
        "scopes": list(app.scopes),
        "access_token_ttl_minutes": app.access_token_ttl_minutes,
        "created_at": app.created.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def credentials_json(*, app: OAuthApp, client_secret: str) -> str:
    return json.dumps(
        credentials_document(app=app, client_secret=client_secret), indent=2
    )
