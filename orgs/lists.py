"""The Members and Notifications lists: their query forms and the selectors that return a page.

See console/lists.py for how a list query is parsed and paginated.
"""

from django import forms
from django.contrib.auth.models import User
from django.db.models import Case, IntegerField, Q, When

from console.lists import ListPage, ListQuery, ListQueryForm, paginate, search_terms
from orgs.models import Membership, Notification, Organization

ROLE_RANK = Case(
    When(role=Membership.Role.OWNER, then=0),
    When(role=Membership.Role.ADMIN, then=1),
    default=2,
    output_field=IntegerField(),
)


class MemberListForm(ListQueryForm):
    search_label = "Search members"
    search_placeholder = "Email"
    sorts = {
        "role": ("Role", ("role_rank", "user__email")),
        "email": ("Email", ("user__email",)),
        "developer": ("Developer", ("-is_developer", "user__email")),
        "joined": ("Member since", ("created_at", "id")),
    }
    default_sort = "role"

    # Plural values: the page's own role pickers keep the model's values to themselves.
    member_role = forms.ChoiceField(
        label="Role",
        required=False,
        choices=[
            ("", "Any role"),
            *((f"{v}s", f"{label}s") for v, label in Membership.Role.choices),
        ],
    )
    developer = forms.ChoiceField(
        label="Developer",
        required=False,
        choices=[("", "Anyone"), ("yes", "Developers"), ("no", "Not Developers")],
    )


def members_page(*, org: Organization, query: ListQuery) -> ListPage:
    """One page of the org's memberships (users loaded) for the parsed query: email search, role
    and Developer filters, a sort; two queries (the count, the page)."""
    members = (
        Membership.objects.filter(organization=org)
        .select_related("user")
        .annotate(role_rank=ROLE_RANK)
    )
    for term in search_terms(query["q"]):
        members = members.filter(user__email__icontains=term)
    if query["member_role"]:
        members = members.filter(role=query["member_role"].removesuffix("s"))
    if query["developer"]:
        members = members.filter(is_developer=query["developer"] == "yes")
    return paginate(members.order_by(*query.order_by), query)


class NotificationListForm(ListQueryForm):
    default_per_page = 50
    search_label = "Search notifications"
    search_placeholder = "Title or text"
    sorts = {"created": ("Date", ("created_at", "id"))}
    default_sort = "-created"

    state = forms.ChoiceField(
        label="Show",
        required=False,
        choices=[("", "All"), ("unread", "Unread"), ("read", "Read")],
    )
    level = forms.ChoiceField(
        label="Level",
        required=False,
        choices=[("", "Any level"), ("info", "Info"), ("warning", "Warning")],
    )


def notifications_page(*, user: User, query: ListQuery) -> ListPage:
    """One page of the user's own notifications (orgs loaded) for the parsed query: text search,
    read/unread and level filters, newest or oldest first; two queries."""
    notifications = Notification.objects.filter(user=user).select_related(
        "organization"
    )
    for term in search_terms(query["q"]):
        notifications = notifications.filter(
            Q(title__icontains=term) | Q(body__icontains=term)
        )
    if query["state"]:
        notifications = notifications.filter(read_at__isnull=query["state"] == "unread")
    if query["level"]:
        notifications = notifications.filter(level=query["level"])
    return paginate(notifications.order_by(*query.order_by), query)
