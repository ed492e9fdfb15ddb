import hashlib

from allauth.account.models import EmailAddress
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from console.accounts.models import Invitation
from orgs.models import Organization


def hash_key(key: str) -> str:
    """How an invitation link's key is stored (SHA-256: the key itself is never kept)."""
    return hashlib.sha256(key.encode()).hexdigest()


def invitation_for_key(*, key: str) -> Invitation | None:
    """The invitation a link's key opens (whatever its state), or None for a forged key."""
    return (
        Invitation.objects.select_related("organization", "invited_by")
        .filter(key_hash=hash_key(key))
        .first()
    )


def invitations_open_for_org(*, org: Organization) -> QuerySet[Invitation]:
    """The org's invitations nobody accepted or revoked (pending or expired), newest first,
    with their inviters (one query)."""
    return (
        Invitation.objects.open().filter(organization=org).select_related("invited_by")
    )


def invitation_get(*, org: Organization, invitation_id: int) -> Invitation:
    """An invitation of this org (404 for any other id)."""
    return get_object_or_404(
        Invitation.objects.select_related("organization", "invited_by"),
        organization=org,
        pk=invitation_id,
    )


def user_holds_address(*, user: User, email: str) -> bool:
    """Is `email` the user's own address: the account's email, or one they confirmed? (An
    address only waiting for confirmation, as in a pending email change, is not theirs yet.)"""
    return (user.email or "").lower() == email.lower() or EmailAddress.objects.filter(
        user=user, email__iexact=email, verified=True
    ).exists()
