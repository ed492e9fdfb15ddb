from django.db.models import QuerySet

from oauthapps.models import OAuthApp
from orgs.models import Organization


def oauth_apps_for_org(*, org: Organization) -> QuerySet[OAuthApp]:
    """Apps owned by the org, with what the list shows prefetched."""
    return (
        OAuthApp.objects.filter(organization=org)
        .prefetch_related("grants__organization")
        .order_by("name")
    )
