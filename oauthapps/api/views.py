"""The resource API (`/api/v1/`): small on purpose. It shows end to end that a token's scopes decide
what its client may read and change (DESIGN.md §6)."""

import json
from uuid import UUID

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse, JsonResponse

from console.http import json_methods
from console.issuer import issuer
from oauthapps.api import openapi, selectors, services
from oauthapps.api.auth import (
    ANY_ORG_ROLE,
    ANY_ROLE,
    ANY_SERVICE_ROLE,
    ORG_ADMIN,
    SERVICE_ADMIN,
    api_error,
    token_access,
)
from orgs.models import AuditEvent, Service
from orgs.selectors import members_for_org

MAX_JSON_BYTES = 16 * 1024


# What JsonResponse would write (its encoder's default handles dates, UUIDs, decimals), without
# building an encoder class instance and a second round of header checks per response.
_encode = json.JSONEncoder(default=DjangoJSONEncoder().default).encode


def _json(data: dict, status: int = 200) -> HttpResponse:
    return HttpResponse(
        _encode(data),
        status=status,
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def _service(service: Service) -> dict:
    return {
        "slug": service.slug,
        "name": service.name,
        "description": service.description,
        "roles": [role.slug for role in service.roles.all()],
    }


def _activity(event: AuditEvent) -> dict:
    return {
        "id": event.pk,
        "message": event.data.get("message", ""),
        "client_id": event.data.get("client_id", ""),
        "created_at": event.created_at.isoformat(),
    }


@json_methods("GET")
@token_access(ANY_ORG_ROLE)
def org_detail(request: HttpRequest, org_id: UUID) -> HttpResponse:
    org = request.org
    return _json(
        {"id": str(org.pk), "name": org.name, "created_at": org.created_at.isoformat()}
    )


@json_methods("GET")
@token_access(ORG_ADMIN)
def member_list(request: HttpRequest, org_id: UUID) -> HttpResponse:
    members = [
        {
            "email": membership.user.email,
            "role": membership.role,
            "is_developer": membership.is_developer,
            "joined_at": membership.created_at.isoformat(),
        }
        for membership in members_for_org(org=request.org)
    ]
    return _json({"org_id": str(org_id), "members": members})


@json_methods("GET")
@token_access(ANY_ROLE)
def service_list(request: HttpRequest, org_id: UUID) -> HttpResponse:
    services_ = [
        _service(service) for service in selectors.api_services_for_org(org=request.org)
    ]
    return _json({"org_id": str(org_id), "services": services_})


@json_methods("GET")
@token_access(ANY_SERVICE_ROLE)
def service_detail(
    request: HttpRequest, org_id: UUID, service_slug: str
) -> HttpResponse:
    service = selectors.api_service_for_org(org=request.org, slug=service_slug).service
    prefix = f"svc:{service.slug}:"
    granted = sorted(
        scope.removeprefix(prefix)
        for scope in request.access_token_claims.scopes
        if scope.startswith(prefix)
    )
    activity = selectors.api_service_activity(org=request.org, service=service)
    return _json(
        {
            "org_id": str(org_id),
            "service": _service(service),
            "granted_roles": granted,
            "activity": [_activity(event) for event in activity],
        }
    )


@json_methods("POST")
@token_access(SERVICE_ADMIN)
def service_activity_create(
    request: HttpRequest, org_id: UUID, service_slug: str
) -> HttpResponse:
    service = selectors.api_service_for_org(org=request.org, slug=service_slug).service
    payload = _json_body(request)
    if isinstance(payload, JsonResponse):
        return payload
    message = payload.get("message")
    if not isinstance(message, str):
        return api_error(
            400, "invalid_request", 'Send a JSON object like {"message": "..."}.'
        )
    try:
        event = services.api_service_activity_record(
            token=request.access_token,
            service=service,
            message=message,
            client_id=request.access_token_claims.client_id,
        )
    except ValidationError as exc:
        return api_error(400, "invalid_request", " ".join(exc.messages))
    return _json(_activity(event), status=201)


def _json_body(request: HttpRequest) -> dict | JsonResponse:
    if request.content_type != "application/json":
        return api_error(400, "invalid_request", "Send the body as application/json.")
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > MAX_JSON_BYTES:
        return api_error(400, "invalid_request", "The request body is too large.")
    try:
        payload = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return api_error(
            400, "invalid_request", "The request body is not valid JSON (UTF-8)."
        )
    if not isinstance(payload, dict):
        return api_error(
            400, "invalid_request", 'Send a JSON object like {"message": "..."}.'
        )
    return payload


@json_methods("GET")
@login_not_required
def openapi_document(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        openapi.document(issuer=issuer(request)), json_dumps_params={"indent": 2}
    )
