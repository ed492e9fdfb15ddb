"""The one place that knows which role may do what in an organization.

Views ask through `org_access` (a decorator) or `can`; templates test `"apps.manage" in org_perms`.
Domain invariants (an org keeps at least one Owner) live in services, not here.

The role table says who may manage apps; the rule at the end of this module (DESIGN.md §2,
"nobody gains more through an app than their own role") says which apps, and which scopes, a
member's own role lets them hold the secret of or widen: views and services ask it too.
"""

from collections.abc import Callable, Iterable
from enum import StrEnum
from functools import wraps
from typing import TYPE_CHECKING, Any
from uuid import UUID

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from console.accounts import mfa
from orgs.models import Membership, Organization
from orgs.selectors import ACTIVE_ORG_SESSION_KEY

if TYPE_CHECKING:
    from oauthapps.models import OAuthApp

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
    # The org's security policies: require MFA, and client secrets' expiry (Owners only).
    SECURITY_MANAGE = "security.manage"


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


# Nobody gains more through an app than their own role (DESIGN.md §2) ------------------------
#
# An action that yields an app's secret (create, regenerate, rotate) or widens what the app may
# do in an organization (edit its scopes, re-grant) needs the actor's own role there to be at
# least the highest organization role the app holds or would hold. Owners always may. For the
# secret, "there" is the app's owning organization (where its secret is made and managed), and
# the app's role is the highest in its scopes and in every organization's grant: a secret works
# everywhere the app was added.

# Organization roles, lowest first: "at least" compares along this order.
ROLE_ORDER: tuple[str, ...] = (Role.MEMBER, Role.ADMIN, Role.OWNER)
ORG_SCOPE_ROLES: dict[str, str] = {
    "org:member": Role.MEMBER,
    "org:admin": Role.ADMIN,
    "org:owner": Role.OWNER,
}
_SCOPE_OF_ROLE = {role: scope for scope, role in ORG_SCOPE_ROLES.items()}
_WHO_HOLDS = {
    Role.OWNER: "an Owner",
    Role.ADMIN: "Owners and Administrators",
    Role.MEMBER: "Owners, Administrators and Developers",
}


def highest_org_role(scopes: Iterable[str]) -> str | None:
    """The highest organization role (org:owner > org:admin > org:member) the scopes name, as a
    Membership.Role value; None when they name none."""
    roles = {ORG_SCOPE_ROLES[scope] for scope in scopes if scope in ORG_SCOPE_ROLES}
    return max(roles, key=ROLE_ORDER.index, default=None)


def app_org_role(app: "OAuthApp") -> str | None:
    """The highest organization role the app holds or would hold: in any organization's grant,
    or in its own scopes (what adding it grants, and what a pending change asks for). Reads
    `app.grants.all()`, prefetched by the app selectors."""
    granted = [scope for grant in app.grants.all() for scope in grant.scopes]
    return highest_org_role([*app.scopes, *granted])


def role_is_at_least(membership: Membership | None, role: str | None) -> bool:
    """Whether the member's own role in the org is at least `role` (any member's is when `role`
    is None, i.e. the scopes name no organization role). A non-member's never is."""
    if membership is None:
        return False
    return role is None or ROLE_ORDER.index(membership.role) >= ROLE_ORDER.index(role)


def withheld_org_scopes(membership: Membership) -> frozenset[str]:
    """The organization roles (as scopes) above the member's own: they cannot give an app these."""
    return frozenset(
        scope
        for scope, role in ORG_SCOPE_ROLES.items()
        if not role_is_at_least(membership, role)
    )


def role_phrase(role: str) -> str:
    """ "the Owner role (org:owner)": how messages name an organization role."""
    return f"the {Role(role).label} role ({_SCOPE_OF_ROLE[role]})"


def withheld_note(membership: Membership) -> str:
    """What the scopes step tells a member about the organization roles above their own ("" for
    Owners): which ones they cannot give, and who can."""
    withheld = sorted(
        withheld_org_scopes(membership),
        key=lambda scope: ROLE_ORDER.index(ORG_SCOPE_ROLES[scope]),
        reverse=True,
    )
    if not withheld:
        return ""
    org = membership.organization.name
    roles = " or ".join(role_phrase(ORG_SCOPE_ROLES[scope]) for scope in withheld)
    who = "; ".join(
        f"{_WHO_HOLDS[Role(ORG_SCOPE_ROLES[scope])]} of {org} can give {scope}"
        for scope in withheld
    )
    return (
        f"Your role in {org} is {membership.get_role_display()}, so an app you create cannot "
        f"have {roles}: nobody gains more through an app than their own role. Only {who}."
    )


def _refusal(membership: Membership | None, role: str | None, what: str) -> str:
    """ "Only <who> of <org> can <what>. Your role in <org> is <role>." """
    if membership is None:
        return f"Only members of the organization can {what}."
    org = membership.organization
    who = _WHO_HOLDS[Role(role)] if role is not None else "members"
    return (
        f"Only {who} of {org.name} can {what}. "
        f"Your role in {org.name} is {membership.get_role_display()}."
    )


def scope_refusal(membership: Membership | None, scopes: Iterable[str]) -> str | None:
    """Why the member may not give an app these scopes (creating it, or making an app not yet
    added to its organization ask for them), or None when they may."""
    role = highest_org_role(scopes)
    if role_is_at_least(membership, role):
        return None
    what = f"give an app {role_phrase(role)}" if role else "give an app scopes"
    return _refusal(membership, role, what)


def secret_refusal(membership: Membership | None, app: "OAuthApp") -> str | None:
    """Why the member may not regenerate or rotate the app's secret, or None when they may: their
    role in its owning org must be at least the app's (app_org_role)."""
    role = app_org_role(app)
    if role_is_at_least(membership, role):
        return None
    what = f"regenerate or rotate the secret of {app.name}"
    if role is not None:
        what += f", which holds or would hold {role_phrase(role)}"
    return _refusal(membership, role, what)


def key_refusal(membership: Membership | None, app: "OAuthApp") -> str | None:
    """Why the member may not add public keys to a private_key_jwt app or change its JWKS URL
    (which gives whoever holds the private key the app's tokens, as a new secret would), or
    None when they may: the rule of secret_refusal."""
    role = app_org_role(app)
    if role_is_at_least(membership, role):
        return None
    what = f"add public keys to {app.name} or change its JWKS URL"
    if role is not None:
        what += f", which holds or would hold {role_phrase(role)}"
    return _refusal(membership, role, what)


def may_widen_grant(
    membership: Membership | None, *, granted: Iterable[str], wanted: Iterable[str]
) -> bool:
    """Whether the member may change a grant in their org from `granted` to `wanted` at once.
    Narrowing always; a widening needs a role at least the highest organization role the grant
    holds or would hold (Owners always may)."""
    granted, wanted = set(granted), set(wanted)
    if wanted <= granted:
        return True
    return role_is_at_least(membership, highest_org_role(granted | wanted))


def widening_refusal(
    membership: Membership | None, *, granted: Iterable[str], wanted: Iterable[str]
) -> str | None:
    """Why the member may not make that change (may_widen_grant), or None when they may."""
    granted, wanted = set(granted), set(wanted)
    if may_widen_grant(membership, granted=granted, wanted=wanted):
        return None
    role = highest_org_role(granted | wanted)
    what = "widen the scopes of an app"
    if role is not None:
        what += f" that holds or would hold {role_phrase(role)}"
    return _refusal(membership, role, what)
