"""Invitations to an organization (invite, resend, revoke, accept) and its MFA policy."""

import smtplib
from collections.abc import Callable
from uuid import UUID

from allauth.account.adapter import get_adapter
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from console.accounts import selectors, services
from console.accounts.forms import MfaPolicyForm
from console.accounts.models import Invitation
from console.http import AuthedRequest
from orgs.forms import MemberInviteForm
from orgs.permissions import (
    Action,
    assignable_roles,
    can_assign_role,
    fresh_second_factor,
    org_access,
)
from orgs.views import member_list_page

EMAIL_FAILED = "The invitation email could not be sent, so nothing was saved. Try again in a moment."


def _accept_url_for(request: HttpRequest) -> Callable[[str], str]:
    return lambda key: request.build_absolute_uri(
        reverse("accounts:invitation_accept", args=[key])
    )


@require_POST
@org_access(Action.MEMBERS_MANAGE)
def invitation_create(request: AuthedRequest, org_id: UUID) -> HttpResponse:
    form = MemberInviteForm(request.POST, roles=assignable_roles(request.membership))
    if form.is_valid():
        try:
            invitation = services.invitation_create(
                org=request.org,
                invited_by=request.membership,
                accept_url_for=_accept_url_for(request),
                **form.cleaned_data,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        except (smtplib.SMTPException, OSError):
            form.add_error(None, EMAIL_FAILED)
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect("orgs:member_list", org_id=org_id)
    return member_list_page(request, invite_form=form)


def _invitation_to_manage(request: AuthedRequest, invitation_id: int) -> Invitation:
    invitation = selectors.invitation_get(org=request.org, invitation_id=invitation_id)
    if not can_assign_role(request.membership, invitation.role):
        raise PermissionDenied("Only Owners can manage invitations of Owners.")
    return invitation


@require_POST
@org_access(Action.MEMBERS_MANAGE)
def invitation_resend(
    request: AuthedRequest, org_id: UUID, invitation_id: int
) -> HttpResponse:
    invitation = _invitation_to_manage(request, invitation_id)
    try:
        services.invitation_resend(
            invitation=invitation,
            resent_by=request.user,
            accept_url_for=_accept_url_for(request),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except (smtplib.SMTPException, OSError):
        messages.error(request, EMAIL_FAILED)
    else:
        messages.success(request, f"Invitation sent again to {invitation.email}.")
    return redirect("orgs:member_list", org_id=org_id)


@require_POST
@org_access(Action.MEMBERS_MANAGE)
def invitation_revoke(
    request: AuthedRequest, org_id: UUID, invitation_id: int
) -> HttpResponse:
    invitation = _invitation_to_manage(request, invitation_id)
    try:
        services.invitation_revoke(invitation=invitation, revoked_by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Invitation to {invitation.email} revoked.")
    return redirect("orgs:member_list", org_id=org_id)


@login_not_required
@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, key: str) -> HttpResponse:
    invitation = selectors.invitation_for_key(key=key)
    if invitation is None or not invitation.is_pending:
        status = 404 if invitation is None else 410
        return render(
            request,
            "accounts/invitation_invalid.html",
            {"invitation": invitation},
            status=status,
        )
    user = request.user
    if not user.is_authenticated:
        # The link reached this address: signing up with it needs no second verification.
        get_adapter(request).stash_verified_email(request, invitation.email)
    is_for_user = user.is_authenticated and selectors.user_holds_address(
        user=user, email=invitation.email
    )
    error = None
    if request.method == "POST" and user.is_authenticated:
        try:
            membership = services.invitation_accept(invitation=invitation, user=user)
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            messages.success(
                request,
                f"Welcome to {membership.organization.name}. "
                f"You joined as {membership.get_role_display()}.",
            )
            return redirect("orgs:org_overview", org_id=membership.organization_id)
    context = {"invitation": invitation, "is_for_user": is_for_user, "error": error}
    return render(request, "accounts/invitation_accept.html", context)


@require_POST
@org_access(Action.SECURITY_MANAGE)
@fresh_second_factor
def org_mfa_policy(request: AuthedRequest, org_id: UUID) -> HttpResponse:
    form = MfaPolicyForm(request.POST)
    if form.is_valid():
        try:
            services.org_require_mfa_set(
                org=request.org,
                require_mfa=form.cleaned_data["require_mfa"],
                changed_by=request.user,
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            state = "requires" if request.org.require_mfa else "no longer requires"
            messages.success(
                request,
                f"{request.org.name} {state} two-factor authentication for Owners and "
                "Administrators.",
            )
    return redirect("orgs:org_overview", org_id=org_id)
