from dataclasses import dataclass

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from oauthapps import scopes as scope_grammar
from oauthapps.models import AppGrant, OAuthApp
from orgs.models import Organization, Service
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


def oauth_apps_for_org(*, org: Organization) -> QuerySet[OAuthApp]:
    """Apps owned by the org, with what the list shows loaded up front (three queries in all)."""
    return (
        OAuthApp.objects.filter(organization=org)
        .select_related("created_by")
        .prefetch_related("grants__organization")
        .order_by("name")
    )


def oauth_app_get(*, org: Organization, app_id: int) -> OAuthApp:
    """An app owned by `org` with its creator and grants; 404 for any other id."""
    return get_object_or_404(
        OAuthApp.objects.select_related("organization", "created_by").prefetch_related(
            "grants__organization__services", "grants__granted_by"
        ),
        organization=org,
        pk=app_id,
    )


@dataclass(frozen=True)
class GrantRow:
    grant: AppGrant
    grouped_scopes: list[tuple[ScopeGroup, list[ScopeOption]]]
    missing_services: list[str]  # names of services in the grant's scopes the org lacks


def oauth_app_grant_rows(*, app: OAuthApp, catalog: ScopeCatalog) -> list[GrantRow]:
    """The orgs the app was added to, each with the services its grant names but the org
    lacks. Needs `app` from `oauth_app_get` (grants and their orgs' services prefetched)."""
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
        )
        for grant in app.grants.all()
    ]


def oauth_app_is_added(*, app: OAuthApp, org: Organization) -> bool:
    """Whether the app was added to `org` (uses prefetched grants when there are some)."""
    return any(grant.organization_id == org.pk for grant in app.grants.all())


def oauth_app_name_taken(*, org: Organization, name: str) -> bool:
    """Whether the org already owns an app of this name (ignoring case)."""
    return OAuthApp.objects.filter(organization=org, name__iexact=name.strip()).exists()


def known_scopes() -> set[str]:
    """Every scope the catalog allows: the org roles and every service role (one query)."""
    from orgs.models import ServiceRole

    service_scopes = {
        f"svc:{service}:{role}"
        for service, role in ServiceRole.objects.values_list("service__slug", "slug")
    }
    return set(scope_grammar.ORG_SCOPE_VALUES) | service_scopes
