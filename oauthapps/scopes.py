"""The scope grammar (DESIGN.md §3): `org:<role>` and `svc:<service-slug>:<role-slug>`."""

import re
from collections.abc import Iterable

ORG_SCOPES: tuple[tuple[str, str], ...] = (
    ("org:owner", "Organization Owner"),
    ("org:admin", "Organization Administrator"),
    ("org:member", "Organization Member"),
)
ORG_SCOPE_VALUES = frozenset(value for value, _ in ORG_SCOPES)
_SVC_SCOPE = re.compile(r"^svc:([a-z0-9][a-z0-9-]*):([a-z0-9][a-z0-9-]*)$")


def service_of(scope: str) -> str | None:
    """The service slug a `svc:` scope names, or None for other scopes."""
    match = _SVC_SCOPE.match(scope)
    return match.group(1) if match else None


def is_well_formed(scope: str) -> bool:
    return scope in ORG_SCOPE_VALUES or _SVC_SCOPE.match(scope) is not None


def normalize(scopes: Iterable[str]) -> list[str]:
    """Unique scopes in a stable order: org roles first (as listed), then services alphabetically."""
    unique = set(scopes)
    org = [value for value, _ in ORG_SCOPES if value in unique]
    return org + sorted(unique - ORG_SCOPE_VALUES)


def missing_services(
    scopes: Iterable[str], contained_service_slugs: Iterable[str]
) -> list[str]:
    """Service slugs named by the scopes that the organization does not contain."""
    contained = set(contained_service_slugs)
    return sorted(
        {
            slug
            for scope in scopes
            if (slug := service_of(scope)) and slug not in contained
        }
    )


def effective(
    requested: Iterable[str] | None,
    granted: Iterable[str],
    contained_service_slugs: Iterable[str],
) -> list[str]:
    """requested (default: all granted) ∩ granted, minus `svc:` scopes of services the org lacks."""
    granted_set = set(granted)
    wanted = granted_set if requested is None else set(requested) & granted_set
    contained = set(contained_service_slugs)
    return normalize(
        scope
        for scope in wanted
        if (slug := service_of(scope)) is None or slug in contained
    )
