"""Reads for the resource API."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from orgs.models import AuditEvent, Organization, OrganizationService, Service

ACTIVITY_ACTION = "service.api_activity"


def api_services_for_org(*, org: Organization) -> QuerySet[Service]:
    """The services the org contains, with their roles (two queries)."""
    return (
        Service.objects.filter(organization_links__organization=org)
        .prefetch_related("roles")
        .order_by("name")
    )


def api_service_for_org(*, org: Organization, slug: str) -> OrganizationService:
    """The org's subscription to the service `slug`, with the service (404 if it has none)."""
    return get_object_or_404(
        OrganizationService.objects.select_related("service"),
        organization=org,
        service__slug=slug,
    )


def api_service_activity(
    *, org: Organization, service: Service, limit: int = 20
) -> list[AuditEvent]:
    """The newest activity API clients recorded on the service in this org."""
    return list(
        AuditEvent.objects.filter(
            organization=org,
            action=ACTIVITY_ACTION,
            target_type="service",
            target_id=str(service.pk),
        ).order_by("-created_at", "-id")[:limit]
    )
