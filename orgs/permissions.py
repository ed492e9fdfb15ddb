"""The one place that knows which role may do what in an organization.

Views ask through `org_access` (a decorator) or `can`; templates test `"apps.manage" in org_perms`.
Domain invariants (an org keeps at least one Owner) live in services, not here.
"""

from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from typing import Any
from uuid import UUID

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from console.accounts import mfa
from orgs.models import Membership, Organization
from orgs.selectors import ACTIVE_ORG_SESSION_KEY

Role = Membership.Role


class Action(StrEnum):
    ORG_VIEW = "org.view"
    MEMBERS_MANAGE = "members.manage"  # add/remove/change members who are not Owners
    OWNERS_MANAGE = "owners.manage"  # make or unmake Owners, remove Owners
    SERVICES_MANAGE = "services.manage"
    APPS_VIEW = "apps.view"
    APPS_CREATE = "apps.create"
    APPS_MANAGE = "apps.manage"  # edit / regenerate secret / delete apps this org owns
    APPS_GRANT = (
        "apps.grant"  # add apps to this org, remove them, re-grant changed scopes
    )
    AUDIT_VIEW = "audit.view"
    SECURITY_MANAGE = "security.manage"  # the org's sign-in policy (require MFA)


_EVERYONE = frozenset({Action.ORG_VIEW, Action.APPS_VIEW})

ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    Role.OWNER: frozenset(Action),
    Role.ADMIN: _EVERYONE
    | {
        Action.MEMBERS_MANAGE,
        Action.APPS_CREATE,
        Action.APPS_MANAGE,
        Action.AUDIT_VIEW,
    },
    Role.MEMBER: _EVERYONE,
}

# The Developer flag adds app management to whatever the role allows.
DEVELOPER_ACTIONS: frozenset[Action] = frozenset(
    {Action.APPS_CREATE, Action.APPS_MANAGE}
)


def actions_for(membership: Membership | None) -> frozenset[Action]:
    """Every action the membership allows; nothing for a non-member."""
    if membership is None:
        return frozenset()
    actions = ROLE_ACTIONS[membership.role]
    if membership.is_developer:
        actions = actions | DEVELOPER_ACTIONS
    return actions


def membership_of(
    user: User | AnonymousUser, org: Organization | UUID | str
) -> Membership | None:
    """The user's membership in the org (with the org loaded), or None."""
    if not user.is_authenticated:
        return None
    org_id = org.pk if isinstance(org, Organization) else org
    return (
        Membership.objects.select_related("organization")
        .filter(user=user, organization_id=org_id)
        .first()
    )


def can(
    user: User | AnonymousUser, org: Organization | UUID | str, action: Action
) -> bool:
    """May this user do this action in this organization?"""
    return action in actions_for(membership_of(user, org))


def can_manage_member(actor: Membership, target: Membership) -> bool:
    """May `actor` change or remove `target`? Administrators manage everyone but Owners."""
    allowed = actions_for(actor)
    if target.role == Role.OWNER:
        return Action.OWNERS_MANAGE in allowed
    return Action.MEMBERS_MANAGE in allowed


def can_assign_role(actor: Membership, role: str) -> bool:
    """May `actor` give someone this role? Only Owners make Owners."""
    allowed = actions_for(actor)
    if role == Role.OWNER:
        return Action.OWNERS_MANAGE in allowed
    return Action.MEMBERS_MANAGE in allowed


def assignable_roles(actor: Membership) -> list[tuple[str, str]]:
    """The (value, label) role choices `actor` may give to someone, in rank order."""
    return [
        (value, label) for value, label in Role.choices if can_assign_role(actor, value)
    ]


def org_access(
    action: Action,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """View decorator: 404 for non-members (no existence leak), 403 for members lacking `action`,
    and Owners/Administrators of an org that requires MFA go to set it up first.

    Loads the org with the caller's membership in one query and sets `request.org`,
    `request.membership` and `request.org_perms`. The org a member opens becomes their active
    org (the header switcher and "/" follow it).
    """

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(
            request: HttpRequest, org_id: UUID, *args: Any, **kwargs: Any
        ) -> HttpResponse:
            membership = membership_of(request.user, org_id)
            if membership is None:
                raise Http404("No such organization.")
            allowed = actions_for(membership)
            if action not in allowed:
                raise PermissionDenied(
                    f"Your role in {membership.organization} does not allow this."
                )
            request.org = membership.organization  # type: ignore[attr-defined]
            request.membership = membership  # type: ignore[attr-defined]
            request.org_perms = {str(a) for a in allowed}  # type: ignore[attr-defined]
            if request.session.get(ACTIVE_ORG_SESSION_KEY) != str(
                membership.organization_id
            ):
                request.session[ACTIVE_ORG_SESSION_KEY] = str(
                    membership.organization_id
                )
            if mfa_setup_required(membership, request.user):
                return mfa.send_to_mfa_setup(request, membership.organization.name)
            return view(request, org_id, *args, **kwargs)

        return wrapper

    return decorator


def mfa_setup_required(membership: Membership, user: User) -> bool:
    """Must this member (`user`'s membership) turn on two-factor authentication before using
    the org? Yes for Owners and Administrators of an org that requires it, until they have."""
    return (
        membership.organization.require_mfa
        and membership.role in (Role.OWNER, Role.ADMIN)
        and not mfa.has_mfa(user)
    )


def fresh_second_factor(
    view: Callable[..., HttpResponse],
) -> Callable[..., HttpResponse]:
    """View decorator (inside `org_access`) for sensitive actions: creating an app,
    regenerating or rotating a secret, adding an app to an org or re-granting its scopes there,
    changing roles, the org's MFA policy. Someone with two-factor authentication must have entered a code in the last 15
    minutes; otherwise they are asked for one first and the action then goes through."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if mfa.has_mfa(request.user) and not mfa.is_second_factor_fresh(request):
            return mfa.ask_for_second_factor(request)
        return view(request, *args, **kwargs)

    return wrapper


def orgs_allowing(user: User | AnonymousUser, action: Action) -> list[Organization]:
    """The organizations where the user may do `action`, by name (one query). E.g. the orgs an
    app may be added to by this user: those where they hold `apps.grant`."""
    if not user.is_authenticated:
        return []
    memberships = (
        Membership.objects.select_related("organization")
        .filter(user=user)
        .order_by("organization__name")
    )
    return [m.organization for m in memberships if action in actions_for(m)]
