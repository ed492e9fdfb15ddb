"""Fixtures shared by the token service and resource API tests (imported by both conftests).

Apps and grants are made through the real services (`oauth_app_create`, `oauth_app_add_to_org`).
The service catalog is (re)created here because transactional tests flush the migration's rows.
"""

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

import psycopg
import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.http import HttpResponse
from django.test import Client

from oauthapps.models import OAuthApp
from oauthapps.services import oauth_app_add_to_org, oauth_app_create
from oauthapps.tokens import keys, state
from orgs.models import Organization, OrganizationService, Service
from tests.factories import ServiceFactory, ServiceRoleFactory

CATALOG = {
    "compute": ["viewer", "operator", "admin"],
    "object-storage": ["viewer", "editor", "admin"],
    "billing": ["viewer", "admin"],
}


@dataclass
class Credentials:
    app: OAuthApp
    client_id: str
    client_secret: str

    @property
    def basic(self) -> str:
        raw = f"{self.client_id}:{self.client_secret}".encode()
        return "Basic " + base64.b64encode(raw).decode()


@pytest.fixture(autouse=True)
def fresh_key_cache() -> Iterator[None]:
    """Each test starts without parsed keys, apps or tokens in memory, as a new worker would."""
    keys.clear_cache()
    state.clear()
    yield
    keys.clear_cache()
    state.clear()


@pytest.fixture
def catalog(db) -> dict[str, Service]:
    services = {}
    for slug, roles in CATALOG.items():
        service = ServiceFactory(slug=slug)
        for role in roles:
            ServiceRoleFactory(service=service, slug=role)
        services[slug] = service
    return services


@pytest.fixture
def contains(catalog) -> Callable[..., None]:
    """contains(org, "compute", "billing"): the org subscribes to those services."""

    def subscribe(org: Organization, *slugs: str) -> None:
        for slug in slugs:
            OrganizationService.objects.get_or_create(
                organization=org, service=catalog[slug]
            )

    return subscribe


@pytest.fixture
def make_app(catalog, owner) -> Callable[..., Credentials]:
    """make_app(org, scopes=[...], ttl=30, add_to=[org, ...]): an app created like the wizard does."""
    counter = iter(range(1, 10_000))

    def make(
        org: Organization,
        *,
        scopes: list[str],
        ttl: int = 30,
        add_to: list[Organization] | None = None,
        created_by: User | None = None,
        name: str | None = None,
    ) -> Credentials:
        creator = created_by or owner
        app, secret = oauth_app_create(
            organization=org,
            created_by=creator,
            name=name or f"App {next(counter)}",
            access_token_ttl_minutes=ttl,
            scopes=scopes,
        )
        for target in add_to or []:
            oauth_app_add_to_org(app=app, org=target, added_by=creator)
        return Credentials(app=app, client_id=app.client_id, client_secret=secret)

    return make


@pytest.fixture
def make_key_app(catalog, owner) -> Callable[..., OAuthApp]:
    """make_key_app(org, key_pair, scopes=[...], add_to=[...]): a private_key_jwt app
    registering that key pair's public key (or `jwks_uri=...` instead), as the wizard does."""
    counter = iter(range(1, 10_000))

    def make(
        org: Organization,
        *keys,
        scopes: list[str],
        ttl: int = 30,
        add_to: list[Organization] | None = None,
        jwks_uri: str = "",
        name: str | None = None,
    ) -> OAuthApp:
        records = [record for key in keys for record in key.records()]
        app, secret = oauth_app_create(
            organization=org,
            created_by=owner,
            name=name or f"Key app {next(counter)}",
            access_token_ttl_minutes=ttl,
            scopes=scopes,
            client_auth=OAuthApp.ClientAuth.PRIVATE_KEY_JWT,
            public_keys=records,
            jwks_uri=jwks_uri,
        )
        assert secret is None
        for target in add_to or []:
            oauth_app_add_to_org(app=app, org=target, added_by=owner)
        return app

    return make


@pytest.fixture
def api_client() -> Client:
    """A test client with no session: what a script talking to the console looks like."""
    return Client()


def post_form(
    client: Client, path: str, data: dict | list | bytes, **headers: str
) -> HttpResponse:
    """POST an application/x-www-form-urlencoded body (a dict, a list of pairs, or raw bytes)."""
    body = data if isinstance(data, bytes) else urlencode(data)
    return client.post(
        path, body, content_type="application/x-www-form-urlencoded", headers=headers
    )


def get_token(client: Client, creds: Credentials, **data: str) -> dict:
    """A successful token response for the app (Basic authentication)."""
    response = post_form(
        client,
        "/oauth/token",
        {"grant_type": "client_credentials", **data},
        Authorization=creds.basic,
    )
    assert response.status_code == 200, response.content
    return json.loads(response.content)


def other_connection() -> psycopg.Connection:
    """A second PostgreSQL connection to the test database, outside Django: what another
    gunicorn instance (or an operator's psql) does behind this process's back."""
    settings = connection.settings_dict
    return psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        dbname=settings["NAME"],
        autocommit=True,
    )
