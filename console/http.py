from django.contrib.auth.models import User
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from orgs.models import Membership, Organization


class AuthedRequest(HttpRequest):
    """A request that passed login and, for org pages, `org_access` (which sets org and membership)."""

    user: User
    htmx: HtmxDetails
    org: Organization
    membership: Membership
