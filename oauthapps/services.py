from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from oauth2_provider.generators import generate_client_secret

from oauthapps import scopes as scope_grammar
from oauthapps.models import AppGrant, OAuthApp
from oauthapps.selectors import known_scopes
from orgs.models import Organization
from orgs.selectors import organization_service_slugs
from orgs.services import audit_record, notification_send


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
) -> tuple[OAuthApp, str]:
    """Register a server-to-server app owned by `organization`.

    Returns the app and its plaintext secret, which exists only in this return value: the
    database keeps a hash. A second app with the same name in the org is a ValidationError.
    """
    secret = generate_client_secret()
    app = OAuthApp(
        organization=organization,
        created_by=created_by,
        name=name.strip(),
        description=description.strip(),
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
            {
                "name": f"An app named “{app.name}” already exists in {organization.name}."
            }
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
            notification_send(
                user=added_by,
                org=org,
                level="warning",
                title=f"{app.name} was added to {org.name}, which does not include all services in its scope",
                body=f"{org.name} does not contain: {', '.join(missing)}. Tokens for this organization will not carry those scopes until an Owner adds the services.",
                link=reverse("orgs:service_list", args=[org.pk]),
            )
    return grant, missing
