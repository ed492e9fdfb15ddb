from django.http import HttpRequest

from orgs import selectors


def console(request: HttpRequest) -> dict:
    """The shell's data: the org switcher's list and the unread notification count.

    Org pages get `org` and `org_perms` from `org_access` (on the request); other pages show the
    active org from the session.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    memberships = selectors.memberships_for_user(user=user)
    active_org = getattr(request, "org", None)
    if active_org is None:
        active_id = request.session.get(selectors.ACTIVE_ORG_SESSION_KEY)
        active_org = next(
            (
                m.organization
                for m in memberships
                if str(m.organization_id) == active_id
            ),
            None,
        )
    return {
        "switcher_memberships": memberships,
        "active_org": active_org,
        "org_perms": getattr(request, "org_perms", frozenset()),
        "unread_notifications": selectors.notifications_unread_count(user=user),
    }
