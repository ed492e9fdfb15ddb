"""Reads for the token service. The two on the hot path are one SQL statement each:
`oauth_app_for_token_request` (token endpoint) and `issued_token_active` (every API call)."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.db.models import (
    Case,
    Exists,
    F,
    FilteredRelation,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    StringAgg,
    Subquery,
    Value,
    When,
)
from django.utils import timezone

from oauthapps.models import AppGrant, IssuedToken, OAuthApp, SigningKey
from orgs.models import OrganizationService

# Longer than any client_id we issue (40) and than the column (255): no query for such input.
CLIENT_ID_MAX_LENGTH = 255


@dataclass(frozen=True)
class OrgGrant:
    """What the app was granted in one organization, with the services that org contains."""

    org_id: UUID
    scopes: list[str]
    service_slugs: frozenset[str]


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
    """
    if not _is_valid_client_id(client_id):
        return None, []
    condition = Q(grants__organization_id=org_id) if org_id else Q(grants__isnull=False)
    services = (
        OrganizationService.objects.filter(
            organization_id=OuterRef("org_grant__organization_id")
        )
        .values("organization_id")
        .annotate(slugs=StringAgg("service__slug", delimiter=Value(" ")))
        .values("slugs")
    )
    rows = list(
        OAuthApp.objects.filter(client_id=client_id)
        .annotate(org_grant=FilteredRelation("grants", condition=condition))
        .annotate(
            grant_org_id=F("org_grant__organization_id"),
            grant_scopes=F("org_grant__scopes"),
            grant_service_slugs=Subquery(services),
            is_owning_org=Case(
                When(org_grant__organization_id=F("organization_id"), then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            ),
        )
        .order_by("is_owning_org", "org_grant__id")[:2]
    )
    if not rows:
        return None, []
    grants = [
        OrgGrant(
            org_id=UUID(str(row.grant_org_id)),
            scopes=list(row.grant_scopes or []),
            service_slugs=frozenset((row.grant_service_slugs or "").split()),
        )
        for row in rows
        if row.grant_org_id is not None
    ]
    return rows[0], grants


def oauth_app_by_client_id(*, client_id: str) -> OAuthApp | None:
    """The app with this client_id, or None (also for input no client_id could be)."""
    if not _is_valid_client_id(client_id):
        return None
    return OAuthApp.objects.filter(client_id=client_id).first()


def issued_token_active(*, jti: UUID) -> IssuedToken | None:
    """The issued token with its organization if it is still good, in one query, else None.

    Good means: not revoked (one by one, or all of the app's at once through
    `tokens_revoked_before`), not expired, its app not disabled, and the app still added to the
    token's organization. Nothing here is cached: every instance sees a revocation at once.
    """
    now = timezone.now()
    grant_exists = AppGrant.objects.filter(
        app_id=OuterRef("app_id"), organization_id=OuterRef("organization_id")
    )
    return (
        IssuedToken.objects.select_related("organization")
        .filter(
            Q(app__tokens_revoked_before__isnull=True)
            | Q(issued_at__gt=F("app__tokens_revoked_before")),
            Exists(grant_exists),
            jti=jti,
            revoked_at__isnull=True,
            expires_at__gt=now,
            app__is_disabled=False,
        )
        .first()
    )


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
