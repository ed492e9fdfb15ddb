from django.contrib.auth.models import User
from django.db import models
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from orgs.models import (
    Membership,
    Notification,
    Organization,
    OrganizationService,
    Service,
)

ACTIVE_ORG_SESSION_KEY = "active_org_id"


def memberships_for_user(*, user: User) -> list[Membership]:
    """The user's memberships with their orgs, for the switcher (one query)."""
    return list(
        Membership.objects.filter(user=user)
        .select_related("organization")
        .order_by("organization__name")
    )


def notifications_unread_count(*, user: User) -> int:
    """How many of the user's notifications are unread."""
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def organization_owners(*, org: Organization) -> list[User]:
    """The org's Owners, by email (who is told about its apps)."""
    return list(
        User.objects.filter(
            memberships__organization=org, memberships__role=Membership.Role.OWNER
        ).order_by("email")
    )


def organization_service_slugs(*, org: Organization) -> set[str]:
    """Slugs of the services the org contains."""
    return set(org.services.values_list("slug", flat=True))


def service_catalog() -> QuerySet[Service]:
    """Every service in the catalog with its roles prefetched (two queries)."""
    return Service.objects.prefetch_related("roles")


def members_for_org(*, org: Organization) -> QuerySet[Membership]:
    """The org's memberships with their users, Owners first."""
    return (
        Membership.objects.filter(organization=org)
        .select_related("user")
        .order_by(
            models.Case(
                models.When(role=Membership.Role.OWNER, then=0),
                models.When(role=Membership.Role.ADMIN, then=1),
                default=2,
            ),
            "user__email",
        )
    )


def membership_get(*, org: Organization, membership_id: int) -> Membership:
    """A membership of this org (404 for any other id)."""
    return get_object_or_404(
        Membership.objects.select_related("user", "organization"),
        organization=org,
        pk=membership_id,
    )


def notifications_for_user(*, user: User) -> QuerySet[Notification]:
    """The user's notifications, newest first, with their orgs (no query per row)."""
    return Notification.objects.filter(user=user).select_related("organization")


def membership_for_home(
    *, memberships: list[Membership], active_org_id: str | None
) -> Membership | None:
    """The membership "/" should open: the active org if still a member, else the first org."""
    return next(
        (m for m in memberships if str(m.organization_id) == active_org_id),
        memberships[0] if memberships else None,
    )


def notification_get(*, user: User, notification_id: int) -> Notification:
    """One of the user's own notifications (404 for anyone else's)."""
    return get_object_or_404(Notification, user=user, pk=notification_id)


def service_get(*, slug: str) -> Service:
    """A service of the catalog by slug (404 if there is none)."""
    return get_object_or_404(Service, slug=slug)


def _count_for_org(
    model: type[models.Model], field: str = "organization"
) -> models.Subquery:
    return models.Subquery(
        model.objects.filter(**{field: models.OuterRef("pk")})
        .order_by()
        .values(field)
        .annotate(n=models.Count("pk"))
        .values("n")[:1],
        output_field=models.IntegerField(),
    )


def org_overview_counts(*, org: Organization) -> dict[str, int]:
    """Figures for the overview page: members, services, apps owned and apps added (one query)."""
    from oauthapps.models import AppGrant, OAuthApp

    counts = (
        Organization.objects.filter(pk=org.pk)
        .annotate(
            member_count=_count_for_org(Membership),
            service_count=_count_for_org(OrganizationService),
            app_count=_count_for_org(OAuthApp),
            added_app_count=_count_for_org(AppGrant),
        )
        .values("member_count", "service_count", "app_count", "added_app_count")
        .get()
    )
    return {name: value or 0 for name, value in counts.items()}
