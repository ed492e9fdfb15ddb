"""State changes of the token service: revoking issued tokens, rotating and pruning.

Revocation is exact and immediate on every instance, because every API call and introspection
reads the IssuedToken row (selectors.issued_token_active) instead of trusting a cache.
"""

from collections.abc import Callable
from datetime import datetime
from functools import cache
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from oauthapps import policies
from oauthapps.models import (
    REFUSED_ADDRESSES_KEPT,
    IssuedToken,
    OAuthApp,
    RefusedAddress,
    SigningKey,
)
from oauthapps.tokens import db, keys, state
from orgs.models import Organization

# The columns the INSERT sets, in the order of its values (revoked_at stays NULL).
_INSERTED_FIELDS = [
    "jti",
    "app",
    "organization",
    "scope",
    "issued_at",
    "expires_at",
    "secret_generation",
]


@cache
def _insert_sql(vendor: str, *, if_version: bool = False) -> str:
    """The INSERT of one IssuedToken row; with `if_version`, only while the token state version
    is the one given as the last parameter (state.py)."""
    fields = [IssuedToken._meta.get_field(name) for name in _INSERTED_FIELDS]
    table = connection.ops.quote_name(IssuedToken._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    condition = f" WHERE {state.version_sql()} = %s" if if_version else ""
    if vendor == "postgresql":
        # Commit without waiting for the WAL flush (this statement only; see issued_token_record).
        return (
            "WITH async_commit AS (SELECT set_config('synchronous_commit', 'off', true)) "
            f"INSERT INTO {table} ({columns}) SELECT {placeholders} FROM async_commit"
            f"{condition}"
        )
    if if_version:
        return f"INSERT INTO {table} ({columns}) SELECT {placeholders}{condition}"
    return f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"


def _insert_values(row: dict) -> list[object]:
    """The INSERT's parameters for a row given as issued_token_record's arguments."""
    uuid_field, ops = IssuedToken._meta.pk, connection.ops
    return [  # _INSERTED_FIELDS, in order
        uuid_field.get_db_prep_value(row["jti"], connection),
        row["app_id"],
        uuid_field.get_db_prep_value(row["organization_id"], connection),
        row["scope"],
        ops.adapt_datetimefield_value(row["issued_at"]),
        ops.adapt_datetimefield_value(row["expires_at"]),
        row["secret_generation"],
    ]


def issued_token_record_if_unchanged[T](
    *, version: int, meanwhile: Callable[[], T], **row
) -> tuple[bool, T]:
    """Record a token just issued (as `issued_token_record`), but only if the token state version
    is still `version`: the one the caller read the app and its grants at. Returns whether it did,
    and what `meanwhile()` returned: the caller's work (it must not use the database) runs while
    PostgreSQL executes the statement (db.execute_meanwhile).

    The token endpoint's fast path decides from what this process remembers of the app; this one
    statement both confirms that nothing it depends on has changed since, and writes the row, in
    one snapshot. When it returns False nothing was written, and the caller decides again from the
    database.
    """
    values = [*_insert_values(row), version]
    sql = _insert_sql(connection.vendor, if_version=True)
    rowcount, result = db.execute_meanwhile(sql, values, meanwhile)
    return rowcount == 1, result


def issued_token_record(
    *,
    jti: UUID,
    app_id: int,
    organization_id: UUID,
    scope: str,
    issued_at: datetime,
    expires_at: datetime,
    secret_generation: int,
) -> IssuedToken:
    """Record a token just issued: the row introspection, revocation and the API read.

    The token endpoint's only write, so it is one INSERT built once per process (the ORM's save
    machinery costs more than the statement) and runs without a transaction of its own: a single
    statement is atomic, and BEGIN/COMMIT would be one more round trip per token.

    On PostgreSQL it commits with `synchronous_commit = off` (set for its own transaction only):
    the row is visible to every other connection as soon as the statement returns, so
    introspection and the API see the token at once, but the commit does not wait for the disk
    (about 0.3 ms here). The only risk is losing the last fraction of a second of rows if
    PostgreSQL itself crashes, and that fails closed: a token without its row is refused by the
    API and reported inactive by introspection, and its client simply gets a new one. Revocations
    and every other write keep synchronous commits.
    """
    row = {
        "jti": jti,
        "app_id": app_id,
        "organization_id": organization_id,
        "scope": scope,
        "issued_at": issued_at,
        "expires_at": expires_at,
        "secret_generation": secret_generation,
    }
    db.execute(_insert_sql(connection.vendor), _insert_values(row))
    return IssuedToken(**row)


@transaction.atomic
def refused_address_record(*, app_id: int, address: str) -> None:
    """Remember that the app's IP allowlist refused a request from `address` (its count and
    latest time), for the app's page. Only refusals write: a granted request never comes here.
    At most REFUSED_ADDRESSES_KEPT addresses are kept per app, the latest; an address that is
    not one is kept as "unknown"."""
    parsed = policies.parse_address(address)
    address = str(parsed) if parsed is not None else "unknown"
    now = timezone.now()
    seen_before = RefusedAddress.objects.filter(app_id=app_id, address=address)
    if seen_before.update(last_refused_at=now, refusals=F("refusals") + 1):
        return
    try:
        with transaction.atomic():
            RefusedAddress.objects.create(
                app_id=app_id,
                address=address,
                first_refused_at=now,
                last_refused_at=now,
            )
    except IntegrityError:  # a concurrent refusal of the same address made the row
        seen_before.update(last_refused_at=now, refusals=F("refusals") + 1)
        return
    older = RefusedAddress.objects.filter(app_id=app_id).order_by(
        "-last_refused_at", "-pk"
    )[REFUSED_ADDRESSES_KEPT:]
    RefusedAddress.objects.filter(
        pk__in=list(older.values_list("pk", flat=True))
    ).delete()


@transaction.atomic
def issued_tokens_revoke_for_org(*, app: OAuthApp, org: Organization) -> int:
    """Revoke the app's unexpired tokens for `org` (when it is removed from that org).

    Returns how many were revoked. Call it in the same transaction that deletes the grant: a token
    minted concurrently is then refused too, because the API also requires the grant to exist.
    """
    now = timezone.now()
    return IssuedToken.objects.filter(
        app=app, organization=org, revoked_at__isnull=True, expires_at__gt=now
    ).update(revoked_at=now)


@transaction.atomic
def issued_tokens_revoke_all(*, app: OAuthApp) -> int:
    """Revoke every token of the app (its secret was regenerated, or it is being deleted).

    Also moves `tokens_revoked_before` to now, so a token issued before now whose row is written a
    moment later is refused as well. (A token obtained with the old secret at the moment of a
    regeneration may be issued after it commits: the secret generation refuses that one, see
    models.OAuthApp.secret_generation.) Returns how many rows changed.
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
    return bool(
        IssuedToken.objects.filter(app=app, jti=jti, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
    )


@transaction.atomic
def issued_tokens_prune(*, expired_before: datetime) -> int:
    """Delete the rows of tokens that expired before `expired_before`; returns how many.

    Those tokens fail verification on their `exp` alone, so their rows only serve history.
    """
    deleted, _ = IssuedToken.objects.filter(expires_at__lt=expired_before).delete()
    return deleted


@transaction.atomic
def signing_key_rotate() -> SigningKey:
    """Make a new signing key current. The previous one is retired but stays in the JWKS until
    every token it signed has expired; keys retired before that window are deleted.

    Refuses (ValueError) when the key comes from CONSOLE_SIGNING_KEY_PEM: there, rotating means
    deploying a new PEM, and the console retires the previous key by itself.
    """
    if settings.CONSOLE_SIGNING_KEY_PEM:
        raise ValueError(
            "The signing key comes from CONSOLE_SIGNING_KEY_PEM / CONSOLE_SIGNING_KEY_FILE. "
            "To rotate it, deploy a new PEM there: the previous key is retired automatically and "
            "stays in the JWKS until the tokens it signed have expired."
        )
    now = timezone.now()
    pem = keys.generate_private_key_pem()
    kid = keys.thumbprint(keys.load_pem("", pem).public_key)
    SigningKey.objects.filter(retired_at__isnull=True).update(retired_at=now)
    SigningKey.objects.filter(retired_at__lt=now - keys.PUBLISH_WINDOW).delete()
    key = SigningKey.objects.create(kid=kid, private_key_pem=pem)
    keys.clear_cache()
    return key
