"""The public keys of apps that authenticate with private_key_jwt (RFC 7523 §2.2): add them (at
most two, so a client can switch keys without downtime), remove one, change the JWKS URL.

A change applies to the next token request on every instance: the keys live on the app's row,
whose every change moves the token state version (tokens/state.py). The records come from
client_keys.key_records (the forms parse what was pasted); nothing here sees a private key.
"""

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from oauthapps import client_keys
from oauthapps.models import OAuthApp
from oauthapps.services.secrets import _locked
from oauthapps.tokens.services import issued_tokens_revoke_all
from orgs.services import audit_record


def check_key_source(*, public_keys: list[dict], jwks_uri: str) -> None:
    """A private_key_jwt app registers public keys (one or two) or a JWKS URL, not both."""
    if public_keys and jwks_uri:
        raise ValidationError(
            {"jwks_uri": "Paste public keys or give a JWKS URL, not both."}
        )
    if not public_keys and not jwks_uri:
        raise ValidationError(
            {
                "public_keys": "Paste the public key the app signs its client assertions "
                "with, or give the URL of its JWKS."
            }
        )
    if len(public_keys) > client_keys.MAX_KEYS:
        raise ValidationError(
            {"public_keys": f"An app has at most {client_keys.MAX_KEYS} public keys."}
        )
    _check_records(public_keys)
    if jwks_uri:
        try:
            client_keys.check_jwks_url(jwks_uri)
        except client_keys.InvalidJWKSURL as exc:
            raise ValidationError({"jwks_uri": str(exc)}) from None


def _check_records(records: list[dict]) -> None:
    """Records as client_keys.key_records makes them, each a usable public key (a caller other
    than the console's forms, e.g. a script, could pass anything)."""
    try:
        client_keys.stored_keys(records)
        for record in records:
            if record["thumbprint"] != client_keys.thumbprint(record["jwk"]):
                raise client_keys.InvalidPublicKey(
                    "A key's fingerprint does not match it."
                )
    except (client_keys.InvalidPublicKey, KeyError, TypeError, AttributeError) as exc:
        raise ValidationError(
            {"public_keys": f"Not a public key record (client_keys.key_records): {exc}"}
        ) from None


def key_audit_data(app: OAuthApp) -> dict[str, object]:
    """What the audit log keeps of a private_key_jwt app's keys: fingerprints, or its URL."""
    if not app.uses_private_key_jwt:
        return {}
    data: dict[str, object] = {"client_auth": app.client_auth}
    if app.jwks_uri:
        data["jwks_uri"] = app.jwks_uri
    else:
        data["key_fingerprints"] = [record["thumbprint"] for record in app.public_keys]
    return data


def _keys_app(app: OAuthApp, *, with_registered_keys: bool) -> OAuthApp:
    """The app's row, locked, if it manages keys the way asked; ValidationError otherwise."""
    locked = _locked(app)
    if not locked.uses_private_key_jwt:
        raise ValidationError(
            f"{locked.name} authenticates with a client secret: it has no public keys."
        )
    if with_registered_keys and locked.jwks_uri:
        raise ValidationError(
            f"{locked.name} takes its public keys from its JWKS URL: publish or remove keys there."
        )
    if not with_registered_keys and not locked.jwks_uri:
        raise ValidationError(
            f"{locked.name} has registered public keys, not a JWKS URL."
        )
    return locked


@transaction.atomic
def oauth_app_add_public_keys(
    *, app: OAuthApp, added_by: User, public_keys: list[dict]
) -> OAuthApp:
    """Register more public keys (at most two in all): the app may sign with any of them."""
    locked = _keys_app(app, with_registered_keys=True)
    _check_records(public_keys)
    try:
        locked.public_keys = client_keys.merged(locked.public_keys, public_keys)
    except client_keys.InvalidPublicKey as exc:
        raise ValidationError({"public_keys": str(exc)}) from None
    locked.save(update_fields=["public_keys", "updated"])
    audit_record(
        org=locked.organization,
        actor=added_by,
        action="app.add_public_key",
        target=locked,
        data={
            "client_id": locked.client_id,
            "key_fingerprints": [record["thumbprint"] for record in public_keys],
        },
    )
    return locked


@transaction.atomic
def oauth_app_remove_public_key(
    *, app: OAuthApp, removed_by: User, thumbprint: str, revoke_tokens: bool = False
) -> tuple[OAuthApp, int]:
    """Stop accepting assertions signed with this key, at once. Tokens already issued stay
    valid until they expire unless `revoke_tokens` (a key that leaked). Returns the app and
    how many tokens were revoked. The app's only key cannot be removed: add its successor first."""
    locked = _keys_app(app, with_registered_keys=True)
    kept = [r for r in locked.public_keys if r["thumbprint"] != thumbprint]
    if len(kept) == len(locked.public_keys):
        raise ValidationError(
            "That key is not registered for the app any more (it was removed meanwhile)."
        )
    if not kept:
        raise ValidationError(
            f"This is the only public key of {locked.name}: add the new key first, switch "
            "the app to it, then remove this one."
        )
    locked.public_keys = kept
    locked.save(update_fields=["public_keys", "updated"])
    revoked = issued_tokens_revoke_all(app=locked) if revoke_tokens else 0
    audit_record(
        org=locked.organization,
        actor=removed_by,
        action="app.remove_public_key",
        target=locked,
        data={
            "client_id": locked.client_id,
            "key_fingerprint": thumbprint,
            "tokens_revoked": revoked,
        },
    )
    return locked, revoked


@transaction.atomic
def oauth_app_change_jwks_uri(
    *, app: OAuthApp, changed_by: User, jwks_uri: str
) -> OAuthApp:
    """Take the app's public keys from another JWKS URL, from the next token request on."""
    locked = _keys_app(app, with_registered_keys=False)
    check_key_source(public_keys=[], jwks_uri=jwks_uri)
    previous = locked.jwks_uri
    if jwks_uri == previous:
        return locked
    locked.jwks_uri = jwks_uri
    locked.full_clean(exclude=["client_secret"], validate_constraints=False)
    locked.save(update_fields=["jwks_uri", "updated"])
    client_keys.forget_jwks(previous)
    audit_record(
        org=locked.organization,
        actor=changed_by,
        action="app.change_jwks_uri",
        target=locked,
        data={"client_id": locked.client_id, "from": previous, "to": jwks_uri},
    )
    return locked
