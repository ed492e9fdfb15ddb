from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.shortcuts import get_object_or_404

from oauthapps import scopes as scope_grammar
from oauthapps.models import REFUSED_ADDRESSES_KEPT, AppGrant, OAuthApp, RefusedAddress
from orgs.models import Organization, OrganizationService, Service
from orgs.selectors import organization_service_slugs

ORG_GROUP = "org"
_ORG_ROLE_LABELS = {
    "org:owner": ("Owner", "Everything an Owner of the organization may do."),
    "org:admin": ("Administrator", "Manage members and apps, but not Owners."),
    "org:member": ("Member", "Read the organization and its members."),
}


@dataclass(frozen=True)
class ScopeOption:
    scope: str
    label: str
    description: str


@dataclass(frozen=True)
class ScopeGroup:
    """Organization roles, or one service's roles: one fieldset of the scopes step."""

    key: str  # "org" or the service slug
    title: str
    description: str
    options: tuple[ScopeOption, ...]
    is_service: bool
    in_org: bool  # the organization contains the service (always True for org roles)

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(option.scope for option in self.options)


@dataclass(frozen=True)
class ScopeCatalog:
    """Every scope an app can ask for, grouped as the wizard shows them, seen from one org."""

    groups: tuple[ScopeGroup, ...]

    @property
    def choices(self) -> list[tuple[str, str]]:
        return [
            (option.scope, f"{group.title}: {option.label}")
            for group in self.groups
            for option in group.options
        ]

    @property
    def group_choices(self) -> list[tuple[str, str]]:
        return [(group.key, group.title) for group in self.groups]

    def group(self, key: str) -> ScopeGroup | None:
        return next((group for group in self.groups if group.key == key), None)

    def label(self, scope: str) -> str:
        return dict(self.choices).get(scope, scope)

    def grouped(
        self, scopes: list[str] | set[str] | frozenset[str]
    ) -> list[tuple[ScopeGroup, list[ScopeOption]]]:
        """The given scopes under their groups, in catalog order; empty groups left out."""
        wanted = set(scopes)
        return [
            (group, chosen)
            for group in self.groups
            if (chosen := [o for o in group.options if o.scope in wanted])
        ]

    def title_of(self, key: str) -> str:
        """A group's display name (the service name), or the key when it left the catalog."""
        group = self.group(key)
        return group.title if group else key

    def missing_groups(self, scopes: list[str]) -> list[ScopeGroup]:
        """Service groups named by the scopes that the organization does not contain."""
        return [group for group, _ in self.grouped(scopes) if not group.in_org]


def scope_catalog(*, org: Organization | None = None) -> ScopeCatalog:
    """The scope catalog: org roles, then every service with its roles (two queries, three with
    `org`, which marks the services that org does not contain)."""
    contained = organization_service_slugs(org=org) if org is not None else None
    org_group = ScopeGroup(
        key=ORG_GROUP,
        title="Organization",
        description="The role the app acts with in the organization.",
        options=tuple(
            ScopeOption(scope, *_ORG_ROLE_LABELS.get(scope, (label, "")))
            for scope, label in scope_grammar.ORG_SCOPES
        ),
        is_service=False,
        in_org=True,
    )
    service_groups = tuple(
        ScopeGroup(
            key=service.slug,
            title=service.name,
            description=service.description,
            options=tuple(
                ScopeOption(
                    f"svc:{service.slug}:{role.slug}", role.name, role.description
                )
                for role in service.roles.all()
            ),
            is_service=True,
            in_org=contained is None or service.slug in contained,
        )
        for service in Service.objects.prefetch_related("roles").order_by("name")
    )
    return ScopeCatalog(groups=(org_group, *service_groups))


def _with_page_relations(queryset: QuerySet[OAuthApp]) -> QuerySet[OAuthApp]:
    return queryset.select_related("organization", "created_by").prefetch_related(
        "grants__organization__services", "grants__granted_by"
    )


def oauth_app_get(*, org: Organization, app_id: int) -> OAuthApp:
    """An app owned by `org` with its creator and grants; 404 for any other id, including apps
    only added to `org`: what may change an app goes through this."""
    return get_object_or_404(
        _with_page_relations(OAuthApp.objects.all()), organization=org, pk=app_id
    )


def oauth_app_get_visible(*, org: Organization, app_id: int) -> OAuthApp:
    """An app `org` owns or was added to (what its members may look at); 404 for others."""
    added_here = AppGrant.objects.filter(app=OuterRef("pk"), organization=org)
    return get_object_or_404(
        _with_page_relations(
            OAuthApp.objects.filter(Q(organization=org) | Exists(added_here))
        ),
        pk=app_id,
    )


def oauth_app_grant_get(*, org: Organization, app_id: int) -> AppGrant:
    """The app's grant in `org` (the app and its owning org loaded); 404 if it was not added."""
    return get_object_or_404(
        AppGrant.objects.select_related("app__organization", "organization"),
        organization=org,
        app_id=app_id,
    )


def oauth_app_find_by_client_id(*, client_id: str) -> OAuthApp | None:
    """The app with this client ID (its owning org loaded), or None."""
    client_id = client_id.strip()
    if not client_id or len(client_id) > 255:
        return None
    return (
        OAuthApp.objects.select_related("organization")
        .filter(client_id=client_id)
        .first()
    )


def grant_is_pending(*, grant: AppGrant, app: OAuthApp) -> bool:
    """Whether the app now asks for other scopes than the org granted (it needs a re-grant)."""
    return set(grant.scopes) != set(app.scopes)


def scopes_awaiting_owner(*, app: OAuthApp) -> list[str]:
    """The app's scopes its owning org has not granted (yet): a widening waiting for an Owner's
    re-grant there. Empty when it is not added to its owning org (one query)."""
    grant = AppGrant.objects.filter(
        app=app, organization_id=app.organization_id
    ).first()
    if grant is None:
        return []
    return scope_grammar.normalize(set(app.scopes) - set(grant.scopes))


@dataclass(frozen=True)
class GrantRow:
    grant: AppGrant
    grouped_scopes: list[tuple[ScopeGroup, list[ScopeOption]]]
    missing_services: list[str]  # names of services in the grant's scopes the org lacks
    is_pending: bool  # the app's scopes changed since this org granted them
    added_scopes: list[str]  # what a re-grant would add (labels)
    removed_scopes: list[str]  # what a re-grant would take away (labels)
    can_grant: bool  # the viewer may remove the app from this org / re-grant there


def oauth_app_grant_rows(
    *,
    app: OAuthApp,
    catalog: ScopeCatalog,
    grantable_org_ids: set[UUID] | frozenset[UUID] = frozenset(),
    only_org: Organization | None = None,
) -> list[GrantRow]:
    """The orgs the app was added to (or only `only_org`'s grant), each with the services its
    grant names but the org lacks, and whether a scope change waits for its re-grant. Needs `app`
    from `oauth_app_get`/`oauth_app_get_visible` (grants and their orgs' services prefetched)."""
    return [
        GrantRow(
            grant=grant,
            grouped_scopes=catalog.grouped(grant.scopes),
            missing_services=[
                catalog.title_of(slug)
                for slug in scope_grammar.missing_services(
                    grant.scopes,
                    [service.slug for service in grant.organization.services.all()],
                )
            ],
            is_pending=grant_is_pending(grant=grant, app=app),
            added_scopes=[
                catalog.label(scope)
                for scope in scope_grammar.normalize(
                    set(app.scopes) - set(grant.scopes)
                )
            ],
            removed_scopes=[
                catalog.label(scope)
                for scope in scope_grammar.normalize(
                    set(grant.scopes) - set(app.scopes)
                )
            ],
            can_grant=grant.organization_id in grantable_org_ids,
        )
        for grant in app.grants.all()
        if only_org is None or grant.organization_id == only_org.pk
    ]


def refused_addresses_for_app(*, app: OAuthApp) -> list[RefusedAddress]:
    """The latest addresses the app's IP allowlist refused, newest first (at most the few that
    services.client_policies.refused_address_record keeps)."""
    return list(
        RefusedAddress.objects.filter(app=app).order_by("-last_refused_at", "-pk")[
            :REFUSED_ADDRESSES_KEPT
        ]
    )


def oauth_apps_with_secrets_expiring(
    *, after: datetime, until: datetime
) -> QuerySet[OAuthApp]:
    """Apps whose current secret expires after `after` and no later than `until`, with their
    organizations, soonest first (along the expiry's index)."""
    return (
        OAuthApp.objects.filter(
            secret_expires_at__gt=after, secret_expires_at__lte=until
        )
        .select_related("organization")
        .order_by("secret_expires_at", "pk")
    )


def oauth_app_is_added(*, app: OAuthApp, org: Organization) -> bool:
    """Whether the app was added to `org` (uses prefetched grants when there are some)."""
    return any(grant.organization_id == org.pk for grant in app.grants.all())


@dataclass(frozen=True)
class OrgCandidate:
    org: Organization
    missing_services: list[str]  # names of services in the app's scopes this org lacks


def add_to_org_candidates(
    *, app: OAuthApp, grantable: list[Organization], catalog: ScopeCatalog
) -> list[OrgCandidate]:
    """The orgs of `grantable` the app is not added to yet, each with the services in the app's
    scopes it lacks (one query for all their services; grants come prefetched with `app`)."""
    added = {grant.organization_id for grant in app.grants.all()}
    orgs = [org for org in grantable if org.pk not in added]
    contained: dict[UUID, set[str]] = {org.pk: set() for org in orgs}
    for org_id, slug in OrganizationService.objects.filter(
        organization__in=orgs
    ).values_list("organization_id", "service__slug"):
        contained[org_id].add(slug)
    return [
        OrgCandidate(
            org=org,
            missing_services=[
                catalog.title_of(slug)
                for slug in scope_grammar.missing_services(
                    app.scopes, contained[org.pk]
                )
            ],
        )
        for org in orgs
    ]


def service_names(*, slugs: list[str]) -> str:
    """The catalog names of these services, comma separated, in the order given."""
    names = dict(Service.objects.filter(slug__in=slugs).values_list("slug", "name"))
    return ", ".join(names.get(slug, slug) for slug in slugs)


def oauth_app_name_taken(
    *, org: Organization, name: str, exclude_app_id: int | None = None
) -> bool:
    """Whether the org already owns an app of this name (ignoring case), other than
    `exclude_app_id` (the app being renamed)."""
    apps = OAuthApp.objects.filter(organization=org, name__iexact=name.strip())
    if exclude_app_id is not None:
        apps = apps.exclude(pk=exclude_app_id)
    return apps.exists()


def known_scopes() -> set[str]:
    """Every scope the catalog allows: the org roles and every service role (one query)."""
    from orgs.models import ServiceRole

    service_scopes = {
        f"svc:{service}:{role}"
        for service, role in ServiceRole.objects.values_list("service__slug", "slug")
    }
    return set(scope_grammar.ORG_SCOPE_VALUES) | service_scopes


# The audit log ----------------------------------------------------------------------------

AUDIT_ACTIONS: dict[str, str] = {
    "app.create": "Created app",
    "app.edit": "Edited app",
    "app.regenerate_secret": "Regenerated secret",
    "app.rotate_secret": "Rotated secret (overlap)",
    "app.end_secret_overlap": "Ended secret overlap",
    "app.add_public_key": "Added public key",
    "app.remove_public_key": "Removed public key",
    "app.change_jwks_uri": "Changed JWKS URL",
    "app.revoke_tokens": "Revoked all tokens",
    "app.disable": "Disabled app",
    "app.enable": "Enabled app",
    "app.delete": "Deleted app",
    "app.add_to_org": "Added app to org",
    "app.remove_from_org": "Removed app from org",
    "app.regrant": "Re-granted scopes",
    "member.add": "Added member",
    "member.change": "Changed member role",
    "member.remove": "Removed member",
    "service.add": "Added service",
    "service.remove": "Removed service",
    "org.create": "Created organization",
    "org.require_mfa": "Changed MFA requirement",
    "org.secret_expiry": "Changed secret expiry policy",
    "invitation.create": "Invited member",
    "invitation.resend": "Resent invitation",
    "invitation.revoke": "Revoked invitation",
    "invitation.accept": "Accepted invitation",
}
APP_TARGET = "oauthapp"
AUDIT_TARGETS = {
    APP_TARGET: "OAuth app",
    "user": "Member",
    "service": "Service",
    "organization": "Organization",
    "invitation": "Invitation",
}
