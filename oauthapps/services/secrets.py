"""An app's client secret after creation: regenerate, rotate with an overlap, end the overlap,
and revoke every token. A plaintext secret exists only in the return value of the function that
made it; the database keeps hashes, audit events keep neither."""

import hashlib
from datetime import timedelta

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from oauth2_provider.generators import generate_client_secret

from oauthapps import policies
from oauthapps.models import OAuthApp
from oauthapps.tokens.services import issued_tokens_revoke_all
from orgs.services import audit_record

OVERLAP_DEFAULT_HOURS = 48
OVERLAP_MAX_HOURS = 7 * 24
OVERLAP_MIN_HOURS = 1
SECRET_MAX_AGE_DAYS = 90


def secret_fingerprint(app: OAuthApp) -> str:
    """A short, one-way name for the app's current secret hash (not the secret).

    Forms that replace the secret carry it, so a form sent twice, or one from a page older than
    the last change, cannot replace a secret its sender never saw.
    """
    return hashlib.sha256(app.client_secret.encode()).hexdigest()[:16]


def has_overlap(app: OAuthApp) -> bool:
    """Whether a previous secret still works (a rotation's grace period is running)."""
    return bool(
        app.previous_client_secret
        and app.previous_secret_expires_at
        and app.previous_secret_expires_at > timezone.now()
    )


def _locked(app: OAuthApp) -> OAuthApp:
    """The app's row, locked for this transaction, with its organization (not locked). NO KEY
    UPDATE: the token endpoint's inserts (which reference the app) are not held up by it."""
    return (
        OAuthApp.objects.select_for_update(no_key=True, of=("self",))
        .select_related("organization")
        .get(pk=app.pk)
    )


def secret_expiry_data(app: OAuthApp) -> dict[str, str]:
    """The audit data of a new secret's expiry: nothing when it does not expire."""
    if app.secret_expires_at is None:
        return {}
    return {"secret_expires_at": app.secret_expires_at.isoformat()}


def _check_fingerprint(app: OAuthApp, fingerprint: str | None) -> None:
    if fingerprint is not None and fingerprint != secret_fingerprint(app):
        raise ValidationError(
            f"The secret of {app.name} was already replaced after this page was loaded, so "
            "nothing was changed. Reload the app's page if you still want a new secret."
        )


def _new_secret(app: OAuthApp, *, now) -> str:
    """A new current secret, expiring as the owning organization's policy says now."""
    secret = generate_client_secret()
    app.client_secret = secret
    app.hash_client_secret = True
    app.secret_created_at = now
    app.secret_expires_at = policies.secret_expires_at(
        app.organization.secret_expiry_days, made_at=now
    )
    app.secret_generation += 1
    return secret


@transaction.atomic
def oauth_app_regenerate_secret(
    *, app: OAuthApp, regenerated_by: User, fingerprint: str | None = None
) -> tuple[OAuthApp, str]:
    """Replace the secret at once: the old one (and any previous one still in an overlap) stops
    working now, and every token of the app is revoked, in every org.

    `fingerprint` (secret_fingerprint of the secret the user saw) makes a repeated submit a
    ValidationError rather than a second new secret. Returns the app and the new plaintext secret.
    """
    locked = _locked(app)
    _check_fingerprint(locked, fingerprint)
    now = timezone.now()
    secret = _new_secret(locked, now=now)
    locked.previous_client_secret = ""
    locked.previous_secret_expires_at = None
    # Tokens obtained with any older secret are revoked, whenever their rows are written.
    locked.tokens_valid_from_generation = locked.secret_generation
    locked.save(
        update_fields=[
            "client_secret",
            "secret_created_at",
            "secret_expires_at",
            "secret_generation",
            "tokens_valid_from_generation",
            "previous_client_secret",
            "previous_secret_expires_at",
            "updated",
        ]
    )
    revoked = issued_tokens_revoke_all(app=locked)
    audit_record(
        org=locked.organization,
        actor=regenerated_by,
        action="app.regenerate_secret",
        target=locked,
        data={
            "client_id": locked.client_id,
            "tokens_revoked": revoked,
            **secret_expiry_data(locked),
        },
    )
    return locked, secret


@transaction.atomic
def oauth_app_rotate_secret(
    *,
    app: OAuthApp,
    rotated_by: User,
    overlap_hours: int = OVERLAP_DEFAULT_HOURS,
    fingerprint: str | None = None,
) -> tuple[OAuthApp, str]:
    """Issue a new secret while the current one keeps working for `overlap_hours` (1 to 168),
    so clients can switch without downtime. Tokens stay valid.

    Refused while an earlier overlap is still running: rotating again would cut off the oldest
    secret without warning. Returns the app and the new plaintext secret.
    """
    if not OVERLAP_MIN_HOURS <= overlap_hours <= OVERLAP_MAX_HOURS:
        raise ValidationError(
            {
                "overlap_hours": f"The overlap must be between {OVERLAP_MIN_HOURS} hour and "
                f"{OVERLAP_MAX_HOURS} hours (7 days)."
            }
        )
    locked = _locked(app)
    _check_fingerprint(locked, fingerprint)
    if has_overlap(locked):
        raise ValidationError(
            "The previous secret still works until "
            f"{locked.previous_secret_expires_at:%b %d, %Y %H:%M} UTC. End that overlap first, "
            "then rotate again."
        )
    now = timezone.now()
    locked.previous_client_secret = locked.client_secret  # already a hash
    locked.previous_secret_expires_at = policies.previous_secret_ends_at(
        overlap_ends_at=now + timedelta(hours=overlap_hours),
        expires_at=locked.secret_expires_at,
    )
    secret = _new_secret(locked, now=now)
    locked.save(
        update_fields=[
            "client_secret",
            "secret_created_at",
            "secret_expires_at",
            "secret_generation",
            "previous_client_secret",
            "previous_secret_expires_at",
            "updated",
        ]
    )
    audit_record(
        org=locked.organization,
        actor=rotated_by,
        action="app.rotate_secret",
        target=locked,
        data={
            "client_id": locked.client_id,
            "overlap_hours": overlap_hours,
            "previous_secret_expires_at": locked.previous_secret_expires_at.isoformat(),
            **secret_expiry_data(locked),
        },
    )
    return locked, secret


@transaction.atomic
def oauth_app_end_secret_overlap(*, app: OAuthApp, ended_by: User) -> OAuthApp:
    """Retire the previous secret now instead of at the end of its grace period (idempotent)."""
    locked = _locked(app)
    if not locked.previous_client_secret and locked.previous_secret_expires_at is None:
        return locked
    was_running = has_overlap(locked)
    locked.previous_client_secret = ""
    locked.previous_secret_expires_at = None
    locked.save(
        update_fields=[
            "previous_client_secret",
            "previous_secret_expires_at",
            "updated",
        ]
    )
    if was_running:
        audit_record(
            org=locked.organization,
            actor=ended_by,
            action="app.end_secret_overlap",
            target=locked,
            data={"client_id": locked.client_id},
        )
    return locked


@transaction.atomic
def oauth_app_revoke_all_tokens(*, app: OAuthApp, revoked_by: User) -> int:
    """Revoke every token the app holds, in every org (the secret stays). Returns how many."""
    revoked = issued_tokens_revoke_all(app=app)
    audit_record(
        org=app.organization,
        actor=revoked_by,
        action="app.revoke_tokens",
        target=app,
        data={"client_id": app.client_id, "tokens_revoked": revoked},
    )
    return revoked
