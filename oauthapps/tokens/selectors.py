"""Reads for the token service.

`issued_token_active` (every API call, introspection) is one hand-written SQL statement (through
the ORM, building it costs several times more CPU than PostgreSQL spends running it), plain enough
for SQLite and PostgreSQL alike, run on a kept Django cursor (prepared by psycopg after
`prepare_threshold` runs, see settings). `oauth_app_for_token_request` goes through the ORM, for a
client this process does not remember (or after a change). Both answers are remembered with the
token state version they were read at (state.py).

A statement that fails because the pooled connection broke while idle (PostgreSQL restarted, a
proxy dropped it) is run again once on a new connection (`reconnect_if_broken`), as Django's
per-request health check would, without its extra round trip on every request.
"""

from datetime import UTC, datetime
from functools import cache
from typing import NamedTuple
from uuid import UUID
from weakref import WeakKeyDictionary

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.backends.utils import CursorWrapper
from django.db.models import Case, When
from django.db.models.expressions import RawSQL
from django.db.utils import InterfaceError, OperationalError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from oauthapps.models import AppGrant, OAuthApp
from oauthapps.tokens import state
from oauthapps.tokens.models import IssuedToken
from orgs.models import Organization, OrganizationService

# Longer than any client_id we issue (40) and than the column (255): no query for such input.
CLIENT_ID_MAX_LENGTH = 255


class OrgGrant(NamedTuple):
    """What the app was granted in one organization, with the services that org contains."""

    org_id: UUID
    scopes: list[str]
    service_slugs: frozenset[str]


_UUID = models.UUIDField()


def _table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _instance(model: type[models.Model], values: dict[str, object]) -> models.Model:
    """A model instance from already converted column values (unlisted fields deferred)."""
    names = [f.attname for f in model._meta.concrete_fields if f.attname in values]
    return model.from_db(connection.alias, names, [values[name] for name in names])


@cache
def _active_token_sql(vendor: str) -> str:
    app, grant, token = _table(OAuthApp), _table(AppGrant), _table(IssuedToken)
    sql = state.versioned(
        # The columns of a row of _active_token, in its order.
        "t.jti, t.app_id, t.organization_id, t.scope, t.issued_at, t.expires_at, "
        "o.name, o.created_at",
        f"""
        FROM {token} t
        JOIN {app} a ON a.id = t.app_id
        JOIN {_table(Organization)} o ON o.id = t.organization_id
        WHERE t.jti = %s AND t.revoked_at IS NULL AND t.expires_at > %s AND a.is_disabled = %s
          AND (a.tokens_revoked_before IS NULL OR t.issued_at > a.tokens_revoked_before)
          AND t.secret_generation >= a.tokens_valid_from_generation
          AND EXISTS (SELECT 1 FROM {grant} g
                      WHERE g.app_id = t.app_id AND g.organization_id = t.organization_id)
        """,
    )
    return " ".join(sql.split())


BROKEN_CONNECTION_ERRORS = (OperationalError, InterfaceError)


def reconnect_if_broken() -> bool:
    """After a database error: if the connection is broken (and no transaction is under way),
    close it so that the next statement opens a new one, and say so."""
    if connection.in_atomic_block or connection.is_usable():
        return False
    connection.close()
    return True


# One Django cursor per database connection (per thread) for the hot statements: making a cursor costs as much
# as running one of them (measured: 85 µs for SELECT 1 on a new cursor, 50 µs on a kept one).
_cursors: WeakKeyDictionary = WeakKeyDictionary()


def hot_cursor() -> CursorWrapper:
    """Django's cursor for the token service's statements, kept for the life of the database
    connection (a new one while queries are being logged, so that they are)."""
    wrapper = connections[DEFAULT_DB_ALIAS]  # this thread's (the proxy is not hashable)
    wrapper.ensure_connection()
    if wrapper.queries_logged:
        return wrapper.cursor()
    raw, cursor = _cursors.get(wrapper, (None, None))
    if raw is not wrapper.connection:
        cursor = wrapper.cursor()
        _cursors[wrapper] = (wrapper.connection, cursor)
    return cursor


def _fetch_all(sql: str, params: list[object]) -> list[tuple]:
    """Run a read on Django's cursor; once more on a new connection if the pooled one broke."""
    try:
        cursor = hot_cursor()
        cursor.execute(sql, params)
    except BROKEN_CONNECTION_ERRORS:
        if not reconnect_if_broken():
            raise
        cursor = hot_cursor()
        cursor.execute(sql, params)
    return cursor.fetchall()


def _datetime(value: object) -> datetime:
    moment = value if isinstance(value, datetime) else parse_datetime(str(value))
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


def _is_valid_client_id(client_id: str) -> bool:
    # PostgreSQL refuses NUL characters in text; no client_id we issue contains one.
    return 0 < len(client_id) <= CLIENT_ID_MAX_LENGTH and "\x00" not in client_id


def remembered_app(
    client_id: str, org_id: UUID | None
) -> tuple[int, tuple[OAuthApp | None, list[OrgGrant]]] | None:
    """What this process last read for the client (oauth_app_for_token_request) and the version
    it read it at, or None. The caller must have the database confirm it (services.py)."""
    return state.apps.get((client_id, org_id))  # type: ignore[return-value]


def forget_client(call) -> None:
    """Drop what this process remembers of the call's client (it was not confirmed), if any."""
    state.apps.discard(call.decision.memory_key)


def oauth_app_for_token_request(
    *, client_id: str, org_id: UUID | None
) -> tuple[int, OAuthApp | None, list[OrgGrant]]:
    """The token state version, the app with `client_id` and the grants that may give its token
    an organization: with `org_id`, its grant in that org (or none); without, the grant in the
    owning org first and at most one other, which is all the org selection rules of DESIGN.md §6
    need. Each grant carries the slugs of the services its org contains. (version, None, []) for
    an unknown client_id.

    The version is read with the app, before the grants: what is read after it is as new or newer,
    so a decision confirmed against this version is never taken on older data. Remembered per
    (client_id, org_id) with the version (remembered_app). The caller must not change the app.
    """
    apps = OAuthApp.objects.annotate(state_version=RawSQL(state.version_sql(), []))
    valid = _is_valid_client_id(client_id)
    app = apps.filter(client_id=client_id).first() if valid else None
    if app is None:
        return state.UNKNOWN, None, []
    owner_first = Case(When(organization_id=app.organization_id, then=0), default=1)
    grants = AppGrant.objects.filter(app=app).order_by(owner_first, "id")
    grants = list(grants.filter(organization_id=org_id)[:1] if org_id else grants[:2])
    slugs: dict[UUID, set[str]] = {grant.organization_id: set() for grant in grants}
    services = OrganizationService.objects.filter(organization_id__in=slugs)
    for org, slug in services.values_list("organization_id", "service__slug"):
        slugs[org].add(slug)
    found = [
        OrgGrant(g.organization_id, g.scopes, frozenset(slugs[g.organization_id]))
        for g in grants
    ]
    state.apps.put((client_id, org_id), (app.state_version, (app, found)))
    return app.state_version, app, found


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
    # The jti as the database stores it: native on PostgreSQL, 32 hex digits on SQLite.
    db_jti = _UUID.get_db_prep_value(jti, connection)
    params = [db_jti, connection.ops.adapt_datetimefield_value(now), False, seen]
    sql = _active_token_sql(connection.vendor)
    version, rows = state.split(_fetch_all(sql, params))
    if cached is not None and version == seen:
        token = cached[1]
    else:
        token = _active_token(rows[0]) if rows else None
        state.tokens.put(jti, (version, token))
    if token is None or token.expires_at <= now:  # type: ignore[union-attr]
        return None
    return token  # type: ignore[return-value]


def _active_token(row: tuple) -> IssuedToken:
    jti, app_id, org_id, scope, issued_at, expires_at, org_name, org_created_at = row
    # UUIDs come as UUIDs from PostgreSQL, as 32 hex digits from SQLite.
    jti, org_id = _UUID.to_python(jti), _UUID.to_python(org_id)
    token = _instance(
        IssuedToken,
        {"jti": jti, "app_id": app_id, "organization_id": org_id, "scope": scope}
        | {"revoked_at": None}
        | {"issued_at": _datetime(issued_at), "expires_at": _datetime(expires_at)},
    )
    token.organization = _instance(
        Organization,
        {"id": org_id, "name": org_name, "created_at": _datetime(org_created_at)},
    )
    return token
