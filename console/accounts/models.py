from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from orgs.models import Membership, Organization


class InvitationQuerySet(models.QuerySet):
    def open(self) -> "InvitationQuerySet":
        """Neither accepted nor revoked (pending, or expired unused)."""
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True)

    def pending(self) -> "InvitationQuerySet":
        """Open and not expired: the link still works."""
        return self.open().filter(expires_at__gt=timezone.now())


class Invitation(models.Model):
    """An invitation by email to join an organization with a role.

    The link's key is shown once (in the email) and stored only as a SHA-256 hash. Accepting,
    revoking or re-sending ends the current link; a link also ends `expires_at`.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField(help_text="Lower-cased.")
    role = models.CharField(max_length=16, choices=Membership.Role.choices)
    is_developer = models.BooleanField(default=False, verbose_name="developer")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-sent_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "email"],
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="unique_open_invitation",
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} to {self.organization}"

    @property
    def status(self) -> str:
        if self.accepted_at is not None:
            return self.Status.ACCEPTED
        if self.revoked_at is not None:
            return self.Status.REVOKED
        if self.expires_at <= timezone.now():
            return self.Status.EXPIRED
        return self.Status.PENDING

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING
