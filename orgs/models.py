import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

# The range of the "Client secrets expire after N days" policy (also oauthapps.policies).
SECRET_EXPIRY_MIN_DAYS = 30
SECRET_EXPIRY_MAX_DAYS = 730
SECRET_EXPIRY_RANGE_MESSAGE = (
    f"Client secrets must expire after {SECRET_EXPIRY_MIN_DAYS} to {SECRET_EXPIRY_MAX_DAYS} "
    "days (2 years). Leave it empty so they never expire."
)


class Organization(models.Model):
    """A tenant. Its public id (`org_id`) is a UUID, so ids reveal nothing about other orgs."""

    id = models.UUIDField(
        primary_key=True, default=uuid.uuid4, editable=False, verbose_name="org ID"
    )
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    require_mfa = models.BooleanField(
        default=False,
        verbose_name="require MFA for Owners and Administrators",
        help_text="Owners and Administrators without two-factor authentication must set it up "
        "before they can open any page of the organization.",
    )
    secret_expiry_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[
            MinValueValidator(SECRET_EXPIRY_MIN_DAYS, SECRET_EXPIRY_RANGE_MESSAGE),
            MaxValueValidator(SECRET_EXPIRY_MAX_DAYS, SECRET_EXPIRY_RANGE_MESSAGE),
        ],
        verbose_name="client secrets expire after (days)",
        help_text="New and regenerated client secrets of the organization's apps expire this "
        "many days after they are made (30 to 730). Empty: they never expire.",
    )
    services = models.ManyToManyField(
        "Service",
        through="OrganizationService",
        related_name="organizations",
        blank=True,
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Administrator"
        MEMBER = "member", "Member"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    is_developer = models.BooleanField(
        default=False,
        verbose_name="developer",
        help_text="Lets a member create and manage OAuth apps.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organization"], name="unique_membership"
            )
        ]
        ordering = ["organization__name", "user__email"]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.get_role_display()})"


class Service(models.Model):
    """A cloud service in the catalog. Its roles are the permission levels a scope can name."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ServiceRole(models.Model):
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="roles")
    slug = models.SlugField(max_length=50)
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=255, blank=True)
    position = models.PositiveSmallIntegerField(
        default=0, help_text="Order from least to most privileged."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["service", "slug"], name="unique_service_role"
            )
        ]
        ordering = ["service__name", "position", "slug"]

    def __str__(self) -> str:
        return f"{self.service.name}: {self.name}"

    @property
    def scope(self) -> str:
        return f"svc:{self.service.slug}:{self.slug}"


class OrganizationService(models.Model):
    """The organization contains (is subscribed to) the service."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="service_links"
    )
    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="organization_links"
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "service"], name="unique_organization_service"
            )
        ]
        verbose_name = "organization service"

    def __str__(self) -> str:
        return f"{self.service} in {self.organization}"


class Notification(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    level = models.CharField(
        max_length=16,
        choices=[("info", "Info"), ("warning", "Warning")],
        default="info",
    )
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    link = models.CharField(
        max_length=300,
        blank=True,
        help_text="A console path the notification points to.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_unread")]

    def __str__(self) -> str:
        return self.title

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class AuditEvent(models.Model):
    """Who did what to which org, member or app, and when. Never holds secrets."""

    organization = models.ForeignKey(
        Organization, null=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_label = models.CharField(
        max_length=254, blank=True, help_text="Who acted, kept if the user is deleted."
    )
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=32, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=255, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # An org's log, newest first: its pages (and their count) come from the index alone.
            models.Index(
                fields=["organization", "-created_at", "-id"],
                name="auditevent_org_newest",
            ),
            # The log of one app (or member) of an org: a link from the app's page.
            models.Index(
                fields=["organization", "target_type", "target_id"],
                name="auditevent_org_target",
            ),
            # On PostgreSQL the search has trigram indexes on UPPER(actor_label) and
            # UPPER(target_label), created by migration 0005 alone (SQLite cannot have them).
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.target_label}".strip()
