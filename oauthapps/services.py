from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator
from oauth2_provider.generators import generate_client_secret

from oauthapps import scopes as scope_grammar
from oauthapps.models import AppGrant, OAuthApp
from oauthapps.selectors import known_scopes, oauth_app_name_taken
from orgs.models import Organization, Service
from orgs.selectors import organization_service_slugs
from orgs.services import audit_record, notification_send

APP_NAME_MAX_LENGTH = 100
APP_DESCRIPTION_MAX_LENGTH = 1000


def _name_taken_message(name: str, organization: Organization) -> str:
    return f"An app named “{name}” already exists in {organization.name}. Choose another name."


def _clean_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - known_scopes())
    if unknown:
        raise ValidationError({"scopes": f"Unknown scope: {', '.join(unknown)}."})
    if not scopes:
        raise ValidationError({"scopes": "Choose at least one scope."})
    return scope_grammar.normalize(scopes)


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
) -> tuple[OAuthApp, str]:
    """Register a server-to-server app owned by `organization`.

    Returns the app and its plaintext secret, which exists only in this return value: the
    database keeps a hash. Names are trimmed, at most 100 characters and unique in the org
    regardless of case; a clash is a ValidationError on `name`.
    """
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
    if oauth_app_name_taken(org=organization, name=name):
        raise ValidationError({"name": _name_taken_message(name, organization)})
    secret = generate_client_secret()
    app = OAuthApp(
        organization=organization,
        created_by=created_by,
        app_type=app_type,
        name=name,
        description=description,
        access_token_ttl_minutes=access_token_ttl_minutes,
        scopes=_clean_scopes(scopes),
        client_type=OAuthApp.CLIENT_CONFIDENTIAL,
        authorization_grant_type=OAuthApp.GRANT_CLIENT_CREDENTIALS,
        client_secret=secret,
        hash_client_secret=True,
        secret_created_at=timezone.now(),
    )
    app.full_clean(exclude=["client_secret"])
    try:
        with transaction.atomic():
            app.save()
    except IntegrityError:
        raise ValidationError(
            {"name": _name_taken_message(app.name, organization)}
        ) from None
    audit_record(
        org=organization,
        actor=created_by,
        action="app.create",
        target=app,
        data={
            "client_id": app.client_id,
            "scopes": app.scopes,
            "ttl_minutes": app.access_token_ttl_minutes,
        },
    )
    return app, secret


@transaction.atomic
def oauth_app_add_to_org(
    *, app: OAuthApp, org: Organization, added_by: User
) -> tuple[AppGrant, list[str]]:
    """Add the app to `org`, granting it the app's current scopes there (a snapshot).

    Idempotent: adding twice keeps one grant. Returns the grant and the service slugs named in
    the scopes that the org does not contain; when there are any, the user is notified.
    """
    grant, created = AppGrant.objects.get_or_create(
        app=app,
        organization=org,
        defaults={"scopes": list(app.scopes), "granted_by": added_by},
    )
    missing = scope_grammar.missing_services(
        grant.scopes, organization_service_slugs(org=org)
    )
    if created:
        audit_record(
            org=org,
            actor=added_by,
            action="app.add_to_org",
            target=app,
            data={"client_id": app.client_id, "scopes": grant.scopes},
        )
        if missing:
            _notify_missing_services(app=app, org=org, user=added_by, missing=missing)
    return grant, missing


def _notify_missing_services(
    *, app: OAuthApp, org: Organization, user: User, missing: list[str]
) -> None:
    names = dict(Service.objects.filter(slug__in=missing).values_list("slug", "name"))
    listed = ", ".join(names.get(slug, slug) for slug in missing)
    plural = len(missing) > 1
    notification_send(
        user=user,
        org=org,
        level="warning",
        # Names are up to 100 characters each; the title column holds 200.
        title=Truncator(
            f"{app.name} was added to {org.name}, which does not include all services in its scope"
        ).chars(200),
        body=(
            f"{org.name} does not contain {listed}, named in the scopes of {app.name}. "
            f"Tokens for {org.name} will not carry {'those scopes' if plural else 'that scope'} "
            f"until an Owner adds the service{'s' if plural else ''} on the organization's Services page."
        ),
        link=reverse("orgs:service_list", args=[org.pk]),
    )
