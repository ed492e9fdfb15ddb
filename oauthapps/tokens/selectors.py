"""Reads for the token service.

The two on the hot path are one SQL statement each: `oauth_app_for_token_request` (every token
request) and `issued_token_active` (every API call, introspection). They are written in SQL, once,
because building the same query through the ORM costs several times more CPU than PostgreSQL
spends running it, and the token endpoint has to be fast (issue 6). Their answers are remembered
per process and reused only while the token state version is unchanged (state.py): the statement
then only reads that version, and skips the joins. The SQL is plain enough for SQLite and
PostgreSQL alike; the tests run on both.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from uuid import UUID

from django.db import connection, models
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from oauthapps.models import AppGrant, IssuedToken, OAuthApp, SigningKey
from oauthapps.tokens import db, state
from orgs.models import Organization, OrganizationService, Service

# Longer than any client_id we issue (40) and than the column (255): no query for such input.
CLIENT_ID_MAX_LENGTH = 255


@dataclass(frozen=True)
class OrgGrant:
    """What the app was granted in one organization, with the services that org contains."""

    org_id: UUID
    scopes: list[str]
    service_slugs: frozenset[str]


# The app's columns the token endpoint needs (in the model's order); the others stay deferred.
_APP_FIELDS = [
    field.attname
    for field in OAuthApp._meta.concrete_fields
    if field.attname
    in {
        "id",
        "client_id",
        "client_secret",
        "previous_client_secret",
        "previous_secret_expires_at",
        "is_disabled",
        "app_type",
        "authorization_grant_type",
        "access_token_ttl_minutes",
        "organization_id",
        "secret_generation",
        "client_auth",
        "public_keys",
        "jwks_uri",
    }
]
_UUID = models.UUIDField()


def _table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _instance(model: type[models.Model], values: dict[str, object]) -> models.Model:
    """A model instance from already converted column values (unlisted fields deferred)."""
    names = [
        field.attname
        for field in model._meta.concrete_fields
        if field.attname in values
    ]
    return model.from_db(connection.alias, names, [values[name] for name in names])


@cache
def _hot_sql_for(vendor: str, name: str) -> str:
    app, grant, token = _table(OAuthApp), _table(AppGrant), _table(IssuedToken)
    org_service, service, org = (
        _table(OrganizationService),
        _table(Service),
        _table(Organization),
    )
    if name == "active_token":
        return state.versioned(
            _ACTIVE_TOKEN_COLUMNS,
            f"""
            FROM {token} t
            JOIN {app} a ON a.id = t.app_id
            JOIN {org} o ON o.id = t.organization_id
            WHERE t.jti = %s AND t.revoked_at IS NULL AND t.expires_at > %s AND a.is_disabled = %s
              AND (a.tokens_revoked_before IS NULL OR t.issued_at > a.tokens_revoked_before)
              AND t.secret_generation >= a.tokens_valid_from_generation
              AND EXISTS (SELECT 1 FROM {grant} g
                          WHERE g.app_id = t.app_id AND g.organization_id = t.organization_id)
            """,
        )
    columns = [
        *(f"a.{connection.ops.quote_name(name)}" for name in _APP_FIELDS),
        "g.id",
        "g.organization_id",
        "g.scopes",
        "s.slug",
    ]
    from_where = f"""
        FROM {app} a
        LEFT JOIN {grant} g ON g.app_id = a.id{{grant_condition}}
        LEFT JOIN {org_service} os ON os.organization_id = g.organization_id
        LEFT JOIN {service} s ON s.id = os.service_id
        WHERE {{app_condition}}
    """
    if name == "app_for_org":
        return state.versioned(
            columns,
            from_where.format(
                grant_condition=" AND g.organization_id = %s",
                app_condition="a.client_id = %s",
            ),
        )
    # The owning org's grant first, then the oldest other one: two are enough to decide.
    # (Not correlated with `a`: SQLite cannot see outer columns in a subquery's ORDER BY.)
    return state.versioned(
        columns,
        from_where.format(
            grant_condition="",
            app_condition=f"""a.client_id = %s AND (g.id IS NULL OR g.id IN (
                SELECT g2.id FROM {grant} g2 JOIN {app} a2 ON a2.id = g2.app_id
                WHERE a2.client_id = %s
                ORDER BY CASE WHEN g2.organization_id = a2.organization_id THEN 0 ELSE 1 END, g2.id
                LIMIT 2))""",
        ),
    )


_ACTIVE_TOKEN_COLUMNS = [
    "t.jti",
    "t.app_id",
    "t.organization_id",
    "t.scope",
    "t.issued_at",
    "t.expires_at",
    "o.name",
    "o.created_at",
]


@cache
def _compact_hot_sql(vendor: str, name: str) -> str:
    return " ".join(_hot_sql_for(vendor, name).split())


def _hot_sql(name: str) -> str:
    return _compact_hot_sql(connection.vendor, name)


def _db_uuid(value: UUID) -> object:
    """A UUID as this database stores it (native on PostgreSQL, 32 hex digits on SQLite)."""
    return _UUID.get_db_prep_value(value, connection)


def _uuid(value: object) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def _datetime(value: object) -> datetime | None:
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else parse_datetime(str(value))
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


def _json_list(value: object) -> list:
    decoded = json.loads(value) if isinstance(value, str | bytes) else value
    return list(decoded or [])


def _is_valid_client_id(client_id: str) -> bool:
    # PostgreSQL refuses NUL characters in text; no client_id we issue contains one.
    return 0 < len(client_id) <= CLIENT_ID_MAX_LENGTH and "\x00" not in client_id


def oauth_app_for_token_request(
    *, client_id: str, org_id: UUID | None
) -> tuple[OAuthApp | None, list[OrgGrant]]:
    """The app with `client_id` and the grants that may give its token an organization, in one query.

    With `org_id`: its grant in that org (or none). Without: the grant in the owning org first, and at
    most one other, which is all the org selection rules of DESIGN.md §6 need. Each grant carries the
    slugs of the services its org contains. (None, []) for an unknown client_id.

    Remembered per (client_id, org_id) while the token state version stays the same (state.py).
    The caller must not change the returned app.
    """
    if not _is_valid_client_id(client_id):
        return None, []
    key = (client_id, org_id)
    cached = state.apps.get(key)
    seen = cached[0] if cached is not None else state.UNKNOWN
    if org_id is None:
        sql, params = _hot_sql("app_for_any_org"), [client_id, client_id, seen]
    else:
        sql, params = _hot_sql("app_for_org"), [_db_uuid(org_id), client_id, seen]
    version, rows = state.split(db.fetch_all(sql, params))
    if cached is not None and version == seen:
        return cached[1]  # type: ignore[return-value]
    result = _app_with_grants(rows)
    state.apps.put(key, version, result)
    return result


def _app_with_grants(rows: list[tuple]) -> tuple[OAuthApp | None, list[OrgGrant]]:
    if not rows:
        return None, []
    values = dict(zip(_APP_FIELDS, rows[0], strict=False))
    values["organization_id"] = _uuid(values["organization_id"])
    values["previous_secret_expires_at"] = _datetime(
        values["previous_secret_expires_at"]
    )
    values["is_disabled"] = bool(values["is_disabled"])
    values["public_keys"] = _json_list(values["public_keys"])
    app = _instance(OAuthApp, values)
    grants: dict[int, OrgGrant] = {}
    for *_, grant_id, grant_org_id, grant_scopes, service_slug in sorted(
        rows, key=lambda row: row[-4] or 0
    ):
        if grant_id is None:
            continue
        grant = grants.get(grant_id) or OrgGrant(
            org_id=_uuid(grant_org_id),
            scopes=_json_list(grant_scopes),
            service_slugs=frozenset(),
        )
        if service_slug is not None:
            grant = OrgGrant(
                grant.org_id, grant.scopes, grant.service_slugs | {service_slug}
            )
        grants[grant_id] = grant
    # The owning org's grant first (sorted() is stable: otherwise the oldest grant first).
    return app, sorted(
        grants.values(), key=lambda grant: grant.org_id != app.organization_id
    )


def oauth_app_by_client_id(*, client_id: str) -> OAuthApp | None:
    """The app with this client_id, or None (also for input no client_id could be)."""
    if not _is_valid_client_id(client_id):
        return None
    return OAuthApp.objects.filter(client_id=client_id).first()


def issued_token_active(*, jti: UUID) -> IssuedToken | None:
    """The issued token with its organization if it is still good, in one query, else None.

    Good means: not revoked (one by one, or all of the app's at once through
    `tokens_revoked_before`, or by a regeneration of the secret it was obtained with:
    `tokens_valid_from_generation`), not expired, its app not disabled, and the app still added to
    the token's organization (IssuedToken.is_revoked is the same rule). The answer is remembered
    per jti, and reused only while the token state version stays the same (state.py), so every
    instance sees a revocation at once. The caller must not change the returned token.
    """
    now = timezone.now()
    cached = state.tokens.get(jti)
    seen = cached[0] if cached is not None else state.UNKNOWN
    params = [
        _db_uuid(jti),
        connection.ops.adapt_datetimefield_value(now),
        False,
        seen,
    ]
    version, rows = state.split(db.fetch_all(_hot_sql("active_token"), params))
    if cached is not None and version == seen:
        token = cached[1]
    else:
        token = _active_token(rows[0]) if rows else None
        state.tokens.put(jti, version, token)
    if token is None or token.expires_at <= now:  # type: ignore[union-attr]
        return None
    return token  # type: ignore[return-value]


def _active_token(row: tuple) -> IssuedToken:
    (
        jti_value,
        app_id,
        org_id,
        scope,
        issued_at,
        expires_at,
        org_name,
        org_created_at,
    ) = row
    token = _instance(
        IssuedToken,
        {
            "jti": _uuid(jti_value),
            "app_id": app_id,
            "organization_id": _uuid(org_id),
            "scope": scope,
            "issued_at": _datetime(issued_at),
            "expires_at": _datetime(expires_at),
            "revoked_at": None,
        },
    )
    token.organization = _instance(
        Organization,
        {
            "id": _uuid(org_id),
            "name": org_name,
            "created_at": _datetime(org_created_at),
        },
    )
    return token


def issued_tokens_for_app(*, app: OAuthApp) -> QuerySet[IssuedToken]:
    """The app's issued tokens with their organizations, newest first."""
    return (
        IssuedToken.objects.filter(app=app)
        .select_related("organization")
        .order_by("-issued_at")
    )


def issued_token_for_app(*, app: OAuthApp, jti: UUID) -> IssuedToken | None:
    """One of the app's issued tokens (None for another app's)."""
    return IssuedToken.objects.filter(app=app, jti=jti).first()


def signing_key_current() -> SigningKey | None:
    """The newest key not yet retired."""
    return (
        SigningKey.objects.filter(retired_at__isnull=True)
        .order_by("-created_at")
        .first()
    )


def signing_key_published(*, kid: str, retired_after: datetime) -> SigningKey | None:
    """The key named `kid` if it is current or was retired after `retired_after`."""
    return (
        SigningKey.objects.filter(kid=kid)
        .filter(Q(retired_at__isnull=True) | Q(retired_at__gt=retired_after))
        .first()
    )


def signing_keys_published(*, retired_after: datetime) -> QuerySet[SigningKey]:
    """Current keys and those retired after `retired_after`, newest first."""
    return SigningKey.objects.filter(
        Q(retired_at__isnull=True) | Q(retired_at__gt=retired_after)
    ).order_by("-created_at")
