"""State changes of the token service: revoking issued tokens (at once on every instance: see
selectors.issued_token_active), rotating and pruning."""

from datetime import datetime
from functools import cache
from uuid import UUID

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from oauthapps.models import OAuthApp
from oauthapps.tokens import keys, selectors, state
from oauthapps.tokens.access_tokens import NewToken
from oauthapps.tokens.models import IssuedToken, SigningKey
from orgs.models import Organization


class Unconfirmed(Exception):
    """The token was decided on data that changed before its row could be recorded: nothing was
    written, the token must not be sent, and the pipeline decides again (server.py)."""


@cache
def _insert_sql(vendor: str) -> str:
    """The INSERT of one IssuedToken row, only while the token state version is the one given as
    the last parameter but one (state.py), or in any case when the last parameter is true."""
    # Every column but revoked_at (it stays NULL), in the model's order: that of the values.
    fields = [f for f in IssuedToken._meta.concrete_fields if f.name != "revoked_at"]
    table = connection.ops.quote_name(IssuedToken._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    insert = f"INSERT INTO {table} ({columns}) SELECT {placeholders}"
    condition = f"WHERE ({state.version_sql()} = %s OR %s)"
    if vendor == "postgresql":
        # Commit without waiting for the WAL flush (this statement only; see issued_token_record).
        async_commit = "SELECT set_config('synchronous_commit', 'off', true)"
        return f"WITH async_commit AS ({async_commit}) {insert} FROM async_commit {condition}"
    return f"{insert} {condition}"


def issued_token_record(
    *,
    version: int | None,
    token: NewToken,
    app_id: int,
    organization_id: UUID,
    secret_generation: int,
) -> None:
    """Record a token just issued: the row introspection, revocation and the API read.

    With a `version` (the decision came from this process's memory, read at that token state
    version: state.py), only if the version is still the same, else it writes nothing and raises
    Unconfirmed: this one statement, a warm worker's only one, both confirms the decision and
    records it, in one snapshot. Without one (the decision was just read from the database), it
    writes the row. No transaction: one statement is atomic, and BEGIN/COMMIT is a round trip more.

    On PostgreSQL it commits with `synchronous_commit = off` (set for its own transaction only):
    the row is visible to every other connection as soon as the statement returns, but the commit
    does not wait for the disk. If PostgreSQL itself crashes, the last fraction of a second of rows
    may be lost, and that fails closed: a token without its row is refused by the API and reported
    inactive by introspection. Revocations and every other write keep synchronous commits.
    """
    uuid_field, ops = IssuedToken._meta.pk, connection.ops
    values = [  # the model's fields but revoked_at, in order (_insert_sql)
        uuid_field.get_db_prep_value(token.jti, connection),
        app_id,
        uuid_field.get_db_prep_value(organization_id, connection),
        token.claims["scope"],
        ops.adapt_datetimefield_value(token.issued_at),
        ops.adapt_datetimefield_value(token.expires_at),
        secret_generation,
        version if version is not None else state.UNKNOWN,
        version is None,
    ]
    cursor = selectors.hot_cursor()
    cursor.execute(_insert_sql(connection.vendor), values)
    if cursor.rowcount != 1:
        raise Unconfirmed


@transaction.atomic
def issued_tokens_revoke_for_org(*, app: OAuthApp, org: Organization) -> int:
    """Revoke the app's unexpired tokens for `org` (when it is removed from that org); returns how
    many. Call it in the same transaction that deletes the grant: a token minted concurrently is
    then refused too, because the API also requires the grant to exist."""
    now = timezone.now()
    return IssuedToken.objects.filter(
        app=app, organization=org, revoked_at__isnull=True, expires_at__gt=now
    ).update(revoked_at=now)


@transaction.atomic
def issued_tokens_revoke_all(*, app: OAuthApp) -> int:
    """Revoke every token of the app (its secret was regenerated, or it is being deleted).

    Also moves `tokens_revoked_before` to now, so a token issued before now whose row is written a
    moment later is refused as well (one obtained with the old secret but issued after the
    regeneration commits is refused by models.OAuthApp.secret_generation). Returns how many.
    """
    now = timezone.now()
    OAuthApp.objects.filter(pk=app.pk).update(tokens_revoked_before=now)
    app.tokens_revoked_before = now
    return IssuedToken.objects.filter(
        app=app, revoked_at__isnull=True, expires_at__gt=now
    ).update(revoked_at=now)


@transaction.atomic
def issued_token_revoke(*, app: OAuthApp, jti: UUID) -> bool:
    """Revoke one token of the app (RFC 7009, or an admin action). Idempotent: the first
    revocation time is kept. Returns whether the token was active until now."""
    active = IssuedToken.objects.filter(app=app, jti=jti, revoked_at__isnull=True)
    return bool(active.update(revoked_at=timezone.now()))


@transaction.atomic
def issued_tokens_prune(*, expired_before: datetime) -> int:
    """Delete the rows of tokens that expired before `expired_before` (their `exp` refuses them
    already: the rows only serve history); returns how many."""
    deleted, _ = IssuedToken.objects.filter(expires_at__lt=expired_before).delete()
    return deleted


@transaction.atomic
def signing_key_rotate() -> SigningKey:
    """Make a new signing key current (keys.new_current_key); a ValueError that says what to do
    instead when the key comes from the environment."""
    if settings.CONSOLE_SIGNING_KEY_PEM:
        raise ValueError(
            "The signing key comes from CONSOLE_SIGNING_KEY_PEM / CONSOLE_SIGNING_KEY_FILE. "
            "To rotate it, deploy a new PEM there: the previous key is retired automatically and "
            "stays in the JWKS until the tokens it signed have expired."
        )
    key = keys.new_current_key()
    keys.clear_cache()
    return SigningKey.objects.get(kid=key.kid)
