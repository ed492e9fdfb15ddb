from django.db.models import QuerySet

from oauthapps import scopes as scope_grammar
from oauthapps.models import OAuthApp
from orgs.models import Organization


def oauth_apps_for_org(*, org: Organization) -> QuerySet[OAuthApp]:
    """Apps owned by the org, with what the list shows prefetched."""
    return (
        OAuthApp.objects.filter(organization=org)
        .prefetch_related("grants__organization")
        .order_by("name")
    )


def known_scopes() -> set[str]:
    """Every scope the catalog allows: the org roles and every service role (one query)."""
    from orgs.models import ServiceRole

    service_scopes = {
        f"svc:{service}:{role}"
        for service, role in ServiceRole.objects.values_list("service__slug", "slug")
    }
    return set(scope_grammar.ORG_SCOPE_VALUES) | service_scopes
