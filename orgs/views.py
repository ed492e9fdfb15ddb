from uuid import UUID

from allauth.account.decorators import verified_email_required
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from console.accounts import selectors as account_selectors
from console.http import AuthedRequest
from console.lists import render_list
from orgs import selectors, services
from orgs.forms import (
    MemberChangeForm,
    MemberInviteForm,
    OrganizationForm,
    OrgSwitchForm,
    SecretExpiryPolicyForm,
)
from orgs.lists import (
    MemberListForm,
    NotificationListForm,
    members_page,
    notifications_page,
)
from orgs.models import Membership
from orgs.permissions import (
    Action,
    assignable_roles,
    can_assign_role,
    can_manage_member,
    fresh_second_factor,
    membership_of,
    org_access,
)


@require_GET
def home(request: AuthedRequest) -> HttpResponse:
    """Send people to their active org, another org they belong to, or to create their first."""
    membership = selectors.membership_for_home(
        memberships=selectors.memberships_for_user(user=request.user),
        active_org_id=request.session.get(selectors.ACTIVE_ORG_SESSION_KEY),
    )
    if membership is None:
        return redirect("orgs:org_create")
    return redirect("orgs:org_overview", org_id=membership.organization_id)


@require_http_methods(["GET", "POST"])
@verified_email_required
def org_create(request: AuthedRequest) -> HttpResponse:
    form = OrganizationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        org = services.org_create(
            name=form.cleaned_data["name"], created_by=request.user
        )
        request.session[selectors.ACTIVE_ORG_SESSION_KEY] = str(org.pk)
        messages.success(
            request, f"Organization {org.name} created. You are its Owner."
        )
        return redirect("orgs:org_overview", org_id=org.pk)
    return render(
        request,
        "orgs/org_create.html",
        {"form": form, "is_first": not request.user.memberships.exists()},
    )


@require_POST
def org_switch(request: AuthedRequest) -> HttpResponse:
    form = OrgSwitchForm(request.POST)
    membership = (
        membership_of(request.user, form.cleaned_data["org_id"])
        if form.is_valid()
        else None
    )
    if membership is None:
        raise Http404("No such organization.")
    request.session[selectors.ACTIVE_ORG_SESSION_KEY] = str(membership.organization_id)
    return redirect("orgs:org_overview", org_id=membership.organization_id)


@require_http_methods(["GET"])
@org_access(Action.ORG_VIEW)
def org_overview(request: AuthedRequest, org_id: UUID) -> HttpResponse:
    return org_overview_page(request)


def org_overview_page(
    request: AuthedRequest, *, secret_policy_form: SecretExpiryPolicyForm | None = None
) -> HttpResponse:
    """The overview, with the secret expiry form's errors when its POST failed."""
    context = selectors.org_overview_counts(org=request.org)
    form = secret_policy_form or SecretExpiryPolicyForm(
        initial={"secret_expiry_days": request.org.secret_expiry_days or ""}
    )
    return render(
        request,
        "orgs/org_overview.html",
        {
            "org": request.org,
            "membership": request.membership,
            "secret_policy_form": form,
            **context,
        },
    )


@require_POST
@org_access(Action.SECURITY_MANAGE)
@fresh_second_factor
def org_secret_policy(request: AuthedRequest, org_id: UUID) -> HttpResponse:
    form = SecretExpiryPolicyForm(request.POST)
    if not form.is_valid():
        return org_overview_page(request, secret_policy_form=form)
    days = form.cleaned_data["secret_expiry_days"]
    services.org_secret_expiry_set(
        org=request.org, secret_expiry_days=days, changed_by=request.user
    )
    if days is None:
        messages.success(request, f"Client secrets of {request.org.name} never expire.")
    else:
        messages.success(
            request,
            f"New client secrets of {request.org.name} expire after {days} days. Existing "
            "secrets keep their expiry until they are rotated or regenerated.",
        )
    return redirect("orgs:org_overview", org_id=org_id)


def member_list_page(
    request: AuthedRequest,
    *,
    invite_form: MemberInviteForm | None = None,
    change_form: MemberChangeForm | None = None,
    change_target: Membership | None = None,
) -> HttpResponse:
    """The Members page, with a bound form's errors when a POST failed (the member views here
    and console.accounts' invitation views render it)."""
    roles = assignable_roles(request.membership)
    form = MemberListForm(request.GET)
    listing = members_page(org=request.org, query=form.parse())
    context = {
        "org": request.org,
        "form": form,
        "listing": listing,
        "rows": [(m, can_manage_member(request.membership, m)) for m in listing.rows],
        "roles": roles,
        "invite_form": invite_form or MemberInviteForm(roles=roles),
        # Invitations nobody accepted or revoked yet (templates/accounts/_invitations.html).
        "invitations": [
            (invitation, can_assign_role(request.membership, invitation.role))
            for invitation in account_selectors.invitations_open_for_org(
                org=request.org
            )
        ]
        if Action.MEMBERS_MANAGE in request.org_perms
        else [],
        "change_form": change_form,
        "change_target": change_target,
    }
    return render_list(request, "orgs/member_list.html", context)


@require_http_methods(["GET"])
@org_access(Action.ORG_VIEW)
def member_list(request: AuthedRequest, org_id: UUID) -> HttpResponse:
    return member_list_page(request)


@require_POST
@org_access(Action.MEMBERS_MANAGE)
@fresh_second_factor
def member_change(
    request: AuthedRequest, org_id: UUID, membership_id: int
) -> HttpResponse:
    target = selectors.membership_get(org=request.org, membership_id=membership_id)
    if not can_manage_member(request.membership, target):
        raise PermissionDenied("Only Owners can change an Owner's role.")
    form = MemberChangeForm(request.POST, roles=assignable_roles(request.membership))
    if not form.is_valid():
        return member_list_page(request, change_form=form, change_target=target)
    try:
        services.membership_change(
            membership=target, changed_by=request.user, **form.cleaned_data
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{target.user.email} is now {_role_label(target)}.")
    return redirect("orgs:member_list", org_id=org_id)


@require_POST
@org_access(Action.MEMBERS_MANAGE)
def member_remove(
    request: AuthedRequest, org_id: UUID, membership_id: int
) -> HttpResponse:
    target = selectors.membership_get(org=request.org, membership_id=membership_id)
    if not can_manage_member(request.membership, target):
        raise PermissionDenied("Only Owners can remove an Owner.")
    try:
        services.membership_remove(membership=target, removed_by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("orgs:member_list", org_id=org_id)
    if target.user_id == request.user.pk:
        messages.success(request, f"You left {request.org.name}.")
        return redirect("home")
    messages.success(request, f"{target.user.email} removed from {request.org.name}.")
    return redirect("orgs:member_list", org_id=org_id)


def _role_label(membership: Membership) -> str:
    label = membership.get_role_display()
    return f"{label} (Developer)" if membership.is_developer else label


@require_http_methods(["GET"])
@org_access(Action.ORG_VIEW)
def service_list(request: AuthedRequest, org_id: UUID) -> HttpResponse:
    contained = selectors.organization_service_slugs(org=request.org)
    rows = [
        (service, service.slug in contained) for service in selectors.service_catalog()
    ]
    return render(
        request,
        "orgs/service_list.html",
        {"org": request.org, "rows": rows, "contained_count": len(contained)},
    )


@require_POST
@org_access(Action.SERVICES_MANAGE)
def service_add(request: AuthedRequest, org_id: UUID, slug: str) -> HttpResponse:
    service = selectors.service_get(slug=slug)
    services.organization_service_add(
        org=request.org, service=service, added_by=request.user
    )
    messages.success(request, f"{service.name} added to {request.org.name}.")
    return redirect("orgs:service_list", org_id=org_id)


@require_POST
@org_access(Action.SERVICES_MANAGE)
def service_remove(request: AuthedRequest, org_id: UUID, slug: str) -> HttpResponse:
    service = selectors.service_get(slug=slug)
    services.organization_service_remove(
        org=request.org, service=service, removed_by=request.user
    )
    messages.success(request, f"{service.name} removed from {request.org.name}.")
    return redirect("orgs:service_list", org_id=org_id)


@require_http_methods(["GET"])
def notification_list(request: AuthedRequest) -> HttpResponse:
    form = NotificationListForm(request.GET)
    listing = notifications_page(user=request.user, query=form.parse())
    rows = [(n, services.is_console_path(n.link)) for n in listing.rows]
    context = {"form": form, "listing": listing, "rows": rows}
    return render_list(request, "orgs/notification_list.html", context)


@require_POST
def notification_read(request: AuthedRequest, notification_id: int) -> HttpResponse:
    notification = selectors.notification_get(
        user=request.user, notification_id=notification_id
    )
    services.notification_mark_read(notification=notification)
    if request.POST.get("follow") and services.is_console_path(notification.link):
        return redirect(notification.link)
    return redirect("orgs:notification_list")


@require_POST
def notifications_read_all(request: AuthedRequest) -> HttpResponse:
    count = services.notifications_mark_all_read(user=request.user)
    messages.success(
        request, f"Marked {count} notification{'s' if count != 1 else ''} as read."
    )
    return redirect("orgs:notification_list")
