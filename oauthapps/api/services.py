"""Writes through the resource API."""

from django.core.exceptions import ValidationError
from django.db import transaction

from oauthapps.api.selectors import ACTIVITY_ACTION
from oauthapps.tokens.models import IssuedToken
from orgs.models import AuditEvent, Service

ACTIVITY_MESSAGE_MAX_LENGTH = 500


@transaction.atomic
def api_service_activity_record(
    *, token: IssuedToken, service: Service, message: str, client_id: str
) -> AuditEvent:
    """Record an API client's activity on one of the org's services. It shows in the org's audit
    log, attributed to the app; it never holds the token."""
    message = message.strip()
    if not message:
        raise ValidationError({"message": "Write a message."})
    if len(message) > ACTIVITY_MESSAGE_MAX_LENGTH:
        raise ValidationError(
            {
                "message": f"Keep the message under {ACTIVITY_MESSAGE_MAX_LENGTH} characters."
            }
        )
    return AuditEvent.objects.create(
        organization_id=token.organization_id,
        actor=None,
        actor_label=f"OAuth app {client_id}",
        action=ACTIVITY_ACTION,
        target_type="service",
        target_id=str(service.pk),
        target_label=service.name,
        data={"client_id": client_id, "message": message, "jti": str(token.jti)},
    )
