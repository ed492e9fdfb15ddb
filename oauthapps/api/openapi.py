"""The OpenAPI 3.1 description of the resource API, served at /api/v1/openapi.json."""

from django.urls import reverse

from oauthapps import scopes as scope_grammar
from oauthapps.api.auth import (
    ANY_ORG_ROLE,
    ANY_ROLE,
    ANY_SERVICE_ROLE,
    ORG_ADMIN,
    SERVICE_ADMIN,
    ScopeRule,
)
from orgs.models import ServiceRole

SCHEME = "consoleOAuth"


def _error_response(description: str) -> dict:
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
        },
    }


def _ok(description: str, schema: str) -> dict:
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}
        },
    }


def _security(alternatives: list[str]) -> list[dict]:
    """Each listed scope alone is enough; [] means any scope of the token's organization."""
    if not alternatives:
        return [{SCHEME: []}]
    return [{SCHEME: [scope]} for scope in alternatives]


def _operation(
    operation_id: str,
    summary: str,
    rule: ScopeRule,
    alternatives: list[str],
    ok: dict,
    parameters: list[str],
    *,
    request_body: dict | None = None,
) -> dict:
    operation = {
        "operationId": operation_id,
        "summary": summary,
        "description": f"Needs {rule.summary}.",
        "parameters": [
            {"$ref": f"#/components/parameters/{name}"} for name in parameters
        ],
        "security": _security(alternatives),
        "responses": {
            **ok,
            "401": _error_response(
                "No access token, or it is invalid, expired or revoked "
                '(WWW-Authenticate: Bearer error="invalid_token").'
            ),
            "403": _error_response(
                "The token lacks the scope this needs (insufficient_scope)."
            ),
            "404": _error_response(
                "Another organization than the token's, or a service it does not contain."
            ),
        },
    }
    if request_body is not None:
        operation["requestBody"] = request_body
        operation["responses"]["400"] = _error_response(
            "The body is not what is described."
        )
    return operation


def _scope_descriptions() -> dict[str, str]:
    described = dict(scope_grammar.ORG_SCOPES)
    for role in ServiceRole.objects.select_related("service"):
        described[role.scope] = f"{role.service.name}: {role.name}"
    return {scope: described[scope] for scope in scope_grammar.normalize(described)}


def document(*, issuer: str) -> dict:
    """The OpenAPI 3.1 document, its URLs under `issuer` (console.issuer)."""
    org_roles = ANY_ORG_ROLE.listed({})
    admin_roles = ORG_ADMIN.listed({})
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Cloud Services Console API",
            "version": "1.0.0",
            "description": (
                "Get an access token with your OAuth app's credentials (client credentials grant "
                "at the token URL below, optionally with orgId), then send it as "
                "`Authorization: Bearer <token>`. The token's scopes decide what you may read and "
                "change; it works only for the organization it was issued for."
            ),
        },
        "servers": [{"url": issuer + "/api/v1"}],
        "security": [{SCHEME: []}],
        "paths": {
            "/orgs/{org_id}": {
                "get": _operation(
                    "getOrganization",
                    "Read the organization",
                    ANY_ORG_ROLE,
                    org_roles,
                    {"200": _ok("The organization.", "Organization")},
                    ["org_id"],
                )
            },
            "/orgs/{org_id}/members": {
                "get": _operation(
                    "listMembers",
                    "List the organization's members",
                    ORG_ADMIN,
                    admin_roles,
                    {"200": _ok("The members, Owners first.", "MemberList")},
                    ["org_id"],
                )
            },
            "/orgs/{org_id}/services": {
                "get": _operation(
                    "listServices",
                    "List the services the organization contains",
                    ANY_ROLE,
                    [],
                    {"200": _ok("The services.", "ServiceList")},
                    ["org_id"],
                )
            },
            "/orgs/{org_id}/services/{service_slug}": {
                "get": _operation(
                    "getService",
                    "Read one service: its roles, your roles and its recent activity",
                    ANY_SERVICE_ROLE,
                    [],
                    {"200": _ok("The service.", "ServiceDetail")},
                    ["org_id", "service_slug"],
                )
            },
            "/orgs/{org_id}/services/{service_slug}/activity": {
                "post": _operation(
                    "recordServiceActivity",
                    "Record activity on a service (shows in the organization's audit log)",
                    SERVICE_ADMIN,
                    [],
                    {"201": _ok("The recorded activity.", "Activity")},
                    ["org_id", "service_slug"],
                    request_body={
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ActivityInput"}
                            }
                        },
                    },
                )
            },
        },
        "components": {
            "securitySchemes": {
                SCHEME: {
                    "type": "oauth2",
                    "description": "Client credentials grant; client_secret_basic or client_secret_post.",
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": issuer + reverse("oauth:token"),
                            "scopes": _scope_descriptions(),
                        }
                    },
                }
            },
            "parameters": {
                "org_id": {
                    "name": "org_id",
                    "in": "path",
                    "required": True,
                    "description": "The organization ID (the token's org_id claim).",
                    "schema": {"type": "string", "format": "uuid"},
                },
                "service_slug": {
                    "name": "service_slug",
                    "in": "path",
                    "required": True,
                    "description": "The service, e.g. compute.",
                    "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]*$"},
                },
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "error_description"],
                    "properties": {
                        "error": {"type": "string"},
                        "error_description": {"type": "string"},
                    },
                },
                "Organization": {
                    "type": "object",
                    "required": ["id", "name", "created_at"],
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "name": {"type": "string"},
                        "created_at": {"type": "string", "format": "date-time"},
                    },
                },
                "MemberList": {
                    "type": "object",
                    "required": ["org_id", "members"],
                    "properties": {
                        "org_id": {"type": "string", "format": "uuid"},
                        "members": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": [
                                    "email",
                                    "role",
                                    "is_developer",
                                    "joined_at",
                                ],
                                "properties": {
                                    "email": {"type": "string", "format": "email"},
                                    "role": {
                                        "type": "string",
                                        "enum": ["owner", "admin", "member"],
                                    },
                                    "is_developer": {"type": "boolean"},
                                    "joined_at": {
                                        "type": "string",
                                        "format": "date-time",
                                    },
                                },
                            },
                        },
                    },
                },
                "Service": {
                    "type": "object",
                    "required": ["slug", "name", "description", "roles"],
                    "properties": {
                        "slug": {"type": "string"},
                        "name": {"type": "string"},
                        "description": {"type": "string"},
                        "roles": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "ServiceList": {
                    "type": "object",
                    "required": ["org_id", "services"],
                    "properties": {
                        "org_id": {"type": "string", "format": "uuid"},
                        "services": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Service"},
                        },
                    },
                },
                "ServiceDetail": {
                    "type": "object",
                    "required": ["org_id", "service", "granted_roles", "activity"],
                    "properties": {
                        "org_id": {"type": "string", "format": "uuid"},
                        "service": {"$ref": "#/components/schemas/Service"},
                        "granted_roles": {"type": "array", "items": {"type": "string"}},
                        "activity": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Activity"},
                        },
                    },
                },
                "ActivityInput": {
                    "type": "object",
                    "required": ["message"],
                    "properties": {
                        "message": {"type": "string", "minLength": 1, "maxLength": 500}
                    },
                },
                "Activity": {
                    "type": "object",
                    "required": ["id", "message", "client_id", "created_at"],
                    "properties": {
                        "id": {"type": "integer"},
                        "message": {"type": "string"},
                        "client_id": {"type": "string"},
                        "created_at": {"type": "string", "format": "date-time"},
                    },
                },
            },
        },
    }
