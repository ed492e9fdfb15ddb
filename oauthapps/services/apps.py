"""An app's life: create, edit, delete, and the staff switches (disable, enable)."""

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from oauth2_provider.generators import generate_client_secret

from oauthapps import policies
from oauthapps import scopes as scope_grammar
from oauthapps.models import AppGrant, OAuthApp
from oauthapps.selectors import known_scopes, oauth_app_name_taken
from oauthapps.services.grants import (
    grants_follow_scope_change,
    notify_owners_app_removed,
)
from oauthapps.services.keys import check_key_source, key_audit_data
from oauthapps.services.secrets import secret_expiry_data
from oauthapps.tokens.services import issued_tokens_revoke_all
from orgs import permissions
from orgs.models import Organization
from orgs.services import audit_record

APP_NAME_MAX_LENGTH = 100
APP_DESCRIPTION_MAX_LENGTH = 1000
EDITABLE_FIELDS = (
    "name",
    "description",
    "access_token_ttl_minutes",
    "scopes",
    "allowed_networks",
)


def _name_taken_message(name: str, organization: Organization) -> str:
    return f"An app named “{name}” already exists in {organization.name}. Choose another name."


def _clean_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - known_scopes())
    if unknown:
        raise ValidationError({"scopes": f"Unknown scope: {', '.join(unknown)}."})
    if not scopes:
        raise ValidationError({"scopes": "Choose at least one scope."})
    return scope_grammar.normalize(scopes)


def _clean_networks(networks: list[str]) -> list[str]:
    try:
        return policies.normalize_networks(list(networks))
    except ValidationError as exc:
        raise ValidationError({"allowed_networks": exc.messages}) from None


def _clean_name_and_description(
    *, organization: Organization, name: str, description: str, app_id: int | None
) -> tuple[str, str]:
    """Trimmed, at most 100/1000 characters, the name unique in the org (ignoring case)."""
    name, description = name.strip(), description.strip()
    # The toolkit's `name` may be blank and a TextField's max_length is not validated: check here.
    if not name:
        raise ValidationError({"name": "Enter a name for the app."})
    if len(name) > APP_NAME_MAX_LENGTH:
        raise ValidationError(
            {"name": f"Use at most {APP_NAME_MAX_LENGTH} characters for the name."}
        )
    if len(description) > APP_DESCRIPTION_MAX_LENGTH:
        raise ValidationError(
            {
                "description": f"Keep the description to {APP_DESCRIPTION_MAX_LENGTH} characters."
            }
        )
    if oauth_app_name_taken(org=organization, name=name, exclude_app_id=app_id):
        raise ValidationError({"name": _name_taken_message(name, organization)})
    return name, description


def _save(app: OAuthApp, **kwargs: object) -> None:
    """Save; a name clash that slipped past the check (a concurrent request) is a name error.

    The database's constraint on the lower-cased name per organization is the last word, so
    callers skip full_clean's own reading of it (validate_constraints=False): a clash committed
    meanwhile would come out of that as an error on no field.
    """
    try:
        with transaction.atomic():
            app.save(**kwargs)
    except IntegrityError:
        raise ValidationError(
            {"name": _name_taken_message(app.name, app.organization)}
        ) from None


@transaction.atomic
def oauth_app_create(
    *,
    organization: Organization,
    created_by: User,
    name: str,
    description: str = "",
    access_token_ttl_minutes: int,
    scopes: list[str],
    app_type: str = OAuthApp.AppType.SERVER_TO_SERVER,
    client_auth: str = OAuthApp.ClientAuth.CLIENT_SECRET,
    public_keys: list[dict] | None = None,
    jwks_uri: str = "",
) -> tuple[OAuthApp, str | None]:
    """Register a server-to-server app owned by `organization`.

    Returns the app and its plaintext secret, which exists only in this return value: the
    database keeps a hash. An app that authenticates with private_key_jwt (`client_auth`) has
    no secret (None): it registers `public_keys` (records of client_keys.key_records) or a
    `jwks_uri` instead (services.keys.check_key_source). Names are trimmed, at most 100 characters and unique in the org
    regardless of case; a clash is a ValidationError on `name`. Nobody gains more through an
    app than their own role: scopes naming an organization role above the creator's own in the
    org are a ValidationError on `scopes` saying who can (permissions.scope_refusal). The rule
    bounds members; a creator who is not one (staff or a script calling the service; the
    console's pages let only members in) is not bounded by it.
    """
    name, description = _clean_name_and_description(
        organization=organization, name=name, description=description, app_id=None
    )
    scopes = _clean_scopes(scopes)
    membership = permissions.membership_of(created_by, organization)
    if membership is not None and (
        refusal := permissions.scope_refusal(membership, scopes)
    ):
        raise ValidationError({"scopes": refusal})
    uses_keys = client_auth == OAuthApp.ClientAuth.PRIVATE_KEY_JWT
    if uses_keys:
        check_key_source(public_keys=public_keys or [], jwks_uri=jwks_uri)
    # A private_key_jwt app still gets a random secret's hash (the column is the toolkit's), but
    # nobody ever sees it and the validator never accepts a secret for such an app.
    secret = generate_client_secret()
    now = timezone.now()
    app = OAuthApp(
        organization=organization,
        created_by=created_by,
        app_type=app_type,
        name=name,
        description=description,
        access_token_ttl_minutes=access_token_ttl_minutes,
        scopes=scopes,
        client_type=OAuthApp.CLIENT_CONFIDENTIAL,
        authorization_grant_type=OAuthApp.GRANT_CLIENT_CREDENTIALS,
        client_secret=secret,
        hash_client_secret=True,
        secret_created_at=None if uses_keys else now,
        # A private_key_jwt app's secret is never shown nor used: it does not expire.
        secret_expires_at=None
        if uses_keys
        else policies.secret_expires_at(organization.secret_expiry_days, made_at=now),
        client_auth=client_auth,
        public_keys=(public_keys or []) if uses_keys else [],
        jwks_uri=jwks_uri if uses_keys else "",
    )
    app.full_clean(exclude=["client_secret"], validate_constraints=False)
    _save(app)
    audit_record(
        org=organization,
        actor=created_by,
        action="app.create",
        target=app,
        data={
            "client_id": app.client_id,
            "scopes": app.scopes,
            "ttl_minutes": app.access_token_ttl_minutes,
            **secret_expiry_data(app),
            **key_audit_data(app),
        },
    )
    return app, None if uses_keys else secret


@transaction.atomic
def oauth_app_update(
    *,
    app: OAuthApp,
    updated_by: User,
    name: str,
    description: str,
    access_token_ttl_minutes: int,
    scopes: list[str],
    allowed_networks: list[str] | None = None,
) -> OAuthApp:
    """Change the app's name, description, TTL, scopes (same rules as creating it) and IP
    allowlist (`allowed_networks`, CIDR blocks; None keeps it; an entry that is not a network is
    a ValidationError on `allowed_networks` and nothing changes).

    New tokens follow at once (the allowlist applies from the next client authentication); tokens already issued keep their scope and expiry. The grants
    follow the scopes as DESIGN.md §1 (Grant) and §2 say (grants_follow_scope_change): narrowing
    applies at once in every org; the owning org's grant widens too when the editor may widen it
    there (their role is at least the highest organization role the app holds or would hold, as
    Owners' always is); otherwise, and in every other org, the widening waits for an Owner of
    that org to re-grant, and its Owners are notified. An app not added to its owning org has no
    grant there to wait in: a widening the editor may not make is a ValidationError on `scopes`.
    """
    name, description = _clean_name_and_description(
        organization=app.organization,
        name=name,
        description=description,
        app_id=app.pk,
    )
    scopes = _clean_scopes(scopes)
    allowed_networks = _clean_networks(
        app.allowed_networks if allowed_networks is None else allowed_networks
    )
    before = {field: getattr(app, field) for field in EDITABLE_FIELDS}
    if set(scopes) != set(before["scopes"]):
        _check_widening_without_grant(app=app, editor=updated_by, scopes=scopes)
    app.name, app.description = name, description
    app.access_token_ttl_minutes = access_token_ttl_minutes
    app.scopes = scopes
    app.allowed_networks = allowed_networks
    app.full_clean(exclude=["client_secret"], validate_constraints=False)
    changes = {
        field: {"from": before[field], "to": getattr(app, field)}
        for field in EDITABLE_FIELDS
        if before[field] != getattr(app, field)
    }
    if not changes:
        return app
    _save(app, update_fields=[*EDITABLE_FIELDS, "updated"])
    data: dict[str, object] = {"client_id": app.client_id, "changes": changes}
    if "scopes" in changes:
        waiting = grants_follow_scope_change(
            app=app, editor=updated_by, previous_scopes=before["scopes"]
        )
        if waiting:
            data["awaiting_owner"] = (
                waiting  # scopes an Owner of the owning org must re-grant
            )
    audit_record(
        org=app.organization,
        actor=updated_by,
        action="app.edit",
        target=app,
        data=data,
    )
    return app


def _check_widening_without_grant(
    *, app: OAuthApp, editor: User, scopes: list[str]
) -> None:
    """Refuse a widening the editor may not make when the app is not added to its owning org:
    what it asks for is what adding it there grants, and there is no grant to hold it back."""
    if AppGrant.objects.filter(app=app, organization_id=app.organization_id).exists():
        return
    membership = permissions.membership_of(editor, app.organization_id)
    if membership is None:
        return  # staff or a script: not bounded by a member's role (see oauth_app_create)
    refusal = permissions.widening_refusal(
        membership, granted=app.scopes, wanted=scopes
    )
    if refusal:
        raise ValidationError(
            {
                "scopes": f"{refusal} {app.name} is not added to {app.organization.name}, "
                "so the new scopes cannot wait there for an Owner to re-grant them."
            }
        )


@transaction.atomic
def oauth_app_delete(*, app: OAuthApp, deleted_by: User) -> None:
    """Delete the app: every token it holds is revoked and it leaves every organization it was
    added to (each is audited there, and its Owners are notified)."""
    revoked = issued_tokens_revoke_all(app=app)
    for grant in AppGrant.objects.filter(app=app).select_related("organization"):
        audit_record(
            org=grant.organization,
            actor=deleted_by,
            action="app.remove_from_org",
            target=app,
            data={"client_id": app.client_id, "reason": "app deleted"},
        )
        notify_owners_app_removed(
            app=app, org=grant.organization, actor=deleted_by, deleted=True
        )
    audit_record(
        org=app.organization,
        actor=deleted_by,
        action="app.delete",
        target=app,
        data={"client_id": app.client_id, "tokens_revoked": revoked},
    )
    app.delete()


@transaction.atomic
def oauth_app_set_disabled(
    *, app: OAuthApp, is_disabled: bool, changed_by: User
) -> OAuthApp:
    """Disable the app (its client authentication fails with invalid_client and its tokens stop
    working everywhere at once), or enable it again. Staff do this from Django admin."""
    if app.is_disabled == is_disabled:
        return app
    app.is_disabled = is_disabled
    app.save(update_fields=["is_disabled", "updated"])
    audit_record(
        org=app.organization,
        actor=changed_by,
        action="app.disable" if is_disabled else "app.enable",
        target=app,
        data={"client_id": app.client_id},
    )
    return app
