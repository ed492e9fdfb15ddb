"""State changes of accounts: verified addresses for accounts made outside sign-up, invitations
to organizations and the organizations' MFA policy."""

import secrets
from collections.abc import Callable
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from console.accounts import emails, mfa
from console.accounts.models import Invitation
from console.accounts.selectors import hash_key, user_holds_address
from orgs import services as org_services
from orgs.models import Membership, Organization
from orgs.permissions import can_assign_role


@transaction.atomic
def email_address_verify(*, user: User) -> EmailAddress | None:
    """Record the user's email as their one verified, primary address, for accounts made or
    re-addressed by staff or by commands (createsuperuser, create_oauth_app, demo_data, Django
    admin), whose address is vouched for by whoever made them. The account's other addresses
    are dropped, as allauth's own email change does: an old address must neither sign in nor
    receive password-reset links. Raises if another account already holds it verified."""
    email = (user.email or "").strip().lower()
    if not email:
        return None
    if (
        EmailAddress.objects.filter(email__iexact=email, verified=True)
        .exclude(user=user)
        .exists()
    ):
        raise ValidationError(
            {"email": f"Another account already uses {email} as its verified address."}
        )
    EmailAddress.objects.filter(user=user).exclude(email__iexact=email).delete()
    address, _ = EmailAddress.objects.update_or_create(
        user=user,
        email__iexact=email,
        defaults={"email": email, "verified": True, "primary": True},
    )
    return address


def _issue_link(invitation: Invitation) -> str:
    """A fresh single-use key for the invitation (the previous link stops working)."""
    key = secrets.token_urlsafe(32)
    now = timezone.now()
    invitation.key_hash = hash_key(key)
    invitation.sent_at = now
    invitation.expires_at = now + timedelta(days=settings.CONSOLE_INVITATION_DAYS)
    return key


def _send_invitation_email(*, invitation: Invitation, accept_url: str) -> None:
    context = {
        "invitation": invitation,
        "org": invitation.organization,
        "inviter": invitation.invited_by,
        "role": _role_label(invitation),
        "accept_url": accept_url,
    }
    subject = render_to_string("accounts/email/invitation_subject.txt", context)
    body = render_to_string("accounts/email/invitation_message.txt", context)
    message = EmailMultiAlternatives(
        " ".join(subject.split()), body, to=[invitation.email]
    )
    emails.with_html_alternative(message).send()


def _role_label(invitation: Invitation) -> str:
    label = Membership.Role(invitation.role).label
    return f"{label} (Developer)" if invitation.is_developer else label


def _notify_inviter(invitation: Invitation, title: str) -> None:
    if invitation.invited_by is None:
        return
    org_services.notification_send(
        user=invitation.invited_by,
        org=invitation.organization,
        title=title,
        link=reverse("orgs:member_list", args=[invitation.organization_id]),
    )


def _audit(invitation: Invitation, *, actor: User | None, action: str) -> None:
    org_services.audit_record(
        org=invitation.organization,
        actor=actor,
        action=action,
        target=invitation,
        data={
            "email": invitation.email,
            "role": invitation.role,
            "is_developer": invitation.is_developer,
        },
    )


@transaction.atomic
def invitation_create(
    *,
    org: Organization,
    email: str,
    role: str,
    is_developer: bool,
    invited_by: Membership,
    accept_url_for: Callable[[str], str],
) -> Invitation:
    """Invite an email address (with or without an account) to the org with a role, and email it
    the link. Only roles `invited_by` may give (Administrators never invite Owners); never a
    current member or an address with an open invitation. Nothing is saved if the email fails."""
    email = email.strip().lower()
    if not can_assign_role(invited_by, role):
        raise ValidationError({"role": "Only Owners can invite someone as an Owner."})
    if Membership.objects.filter(organization=org, user__email__iexact=email).exists():
        raise ValidationError({"email": f"{email} is already a member of {org.name}."})
    if Invitation.objects.pending().filter(organization=org, email=email).exists():
        raise ValidationError(
            {
                "email": f"{email} already has a pending invitation to {org.name}. "
                "Resend it from the list below if it got lost."
            }
        )
    # An expired, never-used invitation to the same address makes way for the new one.
    Invitation.objects.open().filter(organization=org, email=email).update(
        revoked_at=timezone.now()
    )
    invitation = Invitation(
        organization=org,
        email=email,
        role=role,
        is_developer=is_developer,
        invited_by=invited_by.user,
    )
    key = _issue_link(invitation)
    invitation.full_clean()
    invitation.save()
    _audit(invitation, actor=invited_by.user, action="invitation.create")
    _notify_inviter(invitation, f"Invitation sent to {email}")
    _send_invitation_email(invitation=invitation, accept_url=accept_url_for(key))
    return invitation


@transaction.atomic
def invitation_resend(
    *,
    invitation: Invitation,
    resent_by: User,
    accept_url_for: Callable[[str], str],
) -> Invitation:
    """Email a pending (or expired) invitation again with a new link valid for another
    CONSOLE_INVITATION_DAYS; the old link stops working."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at or invitation.revoked_at:
        raise ValidationError(
            f"The invitation to {invitation.email} was already "
            f"{'accepted' if invitation.accepted_at else 'revoked'}."
        )
    key = _issue_link(invitation)
    invitation.save(update_fields=["key_hash", "sent_at", "expires_at"])
    _audit(invitation, actor=resent_by, action="invitation.resend")
    _notify_inviter(invitation, f"Invitation to {invitation.email} sent again")
    _send_invitation_email(invitation=invitation, accept_url=accept_url_for(key))
    return invitation


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, revoked_by: User) -> Invitation:
    """Withdraw an invitation that was not accepted; its link stops working."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at:
        raise ValidationError(
            f"{invitation.email} already accepted the invitation; remove them from the "
            "members instead."
        )
    if invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        _audit(invitation, actor=revoked_by, action="invitation.revoke")
        _notify_inviter(invitation, f"Invitation to {invitation.email} revoked")
    return invitation


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    """Join the invited org with the invited role and Developer flag, as the account that holds
    the invited address (its own or a confirmed one). Single use: a second accept, or one after
    revocation or expiry, changes nothing."""
    # Lock only the invitation's row (its inviter may be gone: an outer join PostgreSQL
    # cannot lock), so two accepts of one link cannot both pass.
    invitation = (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("organization", "invited_by")
        .get(pk=invitation.pk)
    )
    if not invitation.is_pending:
        raise ValidationError(
            f"This invitation is no longer valid ({invitation.get_status_display()})."
        )
    if not user_holds_address(user=user, email=invitation.email):
        raise ValidationError(
            f"This invitation is for {invitation.email}; you are signed in as {user.email}."
        )
    org = invitation.organization
    if Membership.objects.filter(organization=org, user=user).exists():
        raise ValidationError(f"You are already a member of {org.name}.")
    membership = org_services.membership_add(
        org=org,
        user=user,
        role=invitation.role,
        is_developer=invitation.is_developer,
        added_by=invitation.invited_by,
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    _audit(invitation, actor=user, action="invitation.accept")
    _notify_inviter(invitation, f"{user.email} accepted your invitation to {org.name}")
    return membership


@transaction.atomic
def org_require_mfa_set(
    *, org: Organization, require_mfa: bool, changed_by: User
) -> Organization:
    """Turn the org's "Require MFA for Owners and Administrators" policy on or off. Whoever
    turns it on must have a second factor themselves (or they would lock themselves out)."""
    if require_mfa and not mfa.has_mfa(changed_by):
        raise ValidationError(
            "Turn on two-factor authentication for your own account first: the policy "
            "would otherwise send you to set it up before any page of this organization."
        )
    if org.require_mfa != require_mfa:
        org.require_mfa = require_mfa
        org.save(update_fields=["require_mfa"])
        org_services.audit_record(
            org=org,
            actor=changed_by,
            action="org.require_mfa",
            target=org,
            data={"require_mfa": require_mfa},
        )
    return org
