import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from oauth2_provider.models import AbstractApplication

from orgs.models import Organization

TTL_MIN_MINUTES = 1
TTL_MAX_MINUTES = 300
TTL_DEFAULT_MINUTES = 30


class OAuthApp(AbstractApplication):
    """A registered OAuth client. The toolkit's Application, swapped in from the first migration.

    `organization` is the owning org (where it was created and is managed); the orgs it was
    *added to* are its `grants`.
    """

    class AppType(models.TextChoices):
        SERVER_TO_SERVER = "server_to_server", "Server to server app"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="owned_apps"
    )
    app_type = models.CharField(
        max_length=32, choices=AppType.choices, default=AppType.SERVER_TO_SERVER
    )
    description = models.TextField(blank=True, max_length=1000)
    access_token_ttl_minutes = models.PositiveSmallIntegerField(
        default=TTL_DEFAULT_MINUTES,
        validators=[
            MinValueValidator(TTL_MIN_MINUTES),
            MaxValueValidator(TTL_MAX_MINUTES),
        ],
        verbose_name="access token TTL (minutes)",
    )
    scopes = models.JSONField(
        default=list,
        blank=True,
        help_text="Scope tokens, e.g. org:member svc:compute:viewer.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    is_disabled = models.BooleanField(
        default=False,
        help_text="A disabled app gets invalid_client at the token endpoint.",
    )
    secret_created_at = models.DateTimeField(null=True, blank=True)
    previous_client_secret = models.CharField(
        max_length=255,
        blank=True,
        help_text="Hash of the secret still valid during a rotation overlap.",
    )
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    tokens_revoked_before = models.DateTimeField(
        null=True, blank=True, help_text="Tokens issued before this are revoked."
    )
    # Which secret a token was obtained with, as a number: a token row records the generation of
    # the secret that authenticated its request, so a regeneration revokes every token obtained
    # with an older secret, including one whose row is written after the regeneration committed
    # (a request that authenticated just before it). Times cannot decide that race; numbers can.
    secret_generation = models.PositiveIntegerField(
        default=1,
        editable=False,
        help_text="The current secret's number: 1 for the first, one more for each new secret.",
    )
    tokens_valid_from_generation = models.PositiveIntegerField(
        default=1,
        editable=False,
        help_text="Tokens obtained with a secret of an older generation are revoked "
        "(a regeneration sets it to the new secret's).",
    )

    class Meta(AbstractApplication.Meta):
        swappable = "OAUTH2_PROVIDER_APPLICATION_MODEL"
        verbose_name = "OAuth app"
        ordering = ["name"]
        indexes = [
            # The apps list's default sort, both ways: its first and last pages come from here.
            # On PostgreSQL the search also has trigram indexes on UPPER(name), UPPER(description)
            # and UPPER(client_id), created by migration 0005 alone (SQLite cannot have them).
            models.Index(fields=["name", "id"], name="oauthapp_name_id"),
        ]
        constraints = [
            # "Billing" and "billing" are one name: the database refuses the second even when
            # two requests create them at once (the service's own check cannot see an
            # uncommitted row; it turns this refusal into the same error on `name`).
            models.UniqueConstraint(
                "organization",
                Lower("name"),
                name="unique_app_name_per_org_ignoring_case",
                violation_error_message="An app with this name already exists in this "
                "organization. Choose another name.",
            )
        ]

    def __str__(self) -> str:
        return self.name or self.client_id


class AppGrant(models.Model):
    """The app was added to this organization, with the scopes granted there (a snapshot)."""

    app = models.ForeignKey(OAuthApp, on_delete=models.CASCADE, related_name="grants")
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="app_grants"
    )
    scopes = models.JSONField(default=list, blank=True)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    granted_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "organization grant"
        constraints = [
            models.UniqueConstraint(
                fields=["app", "organization"], name="unique_app_grant"
            )
        ]
        ordering = ["organization__name"]

    def __str__(self) -> str:
        return f"{self.app} in {self.organization}"


class IssuedToken(models.Model):
    """One row per access token issued: what introspection, revocation and usage read.

    The token itself (a signed JWT) is never stored; its `jti` is the key.
    """

    jti = models.UUIDField(
        primary_key=True, default=uuid.uuid4, editable=False, verbose_name="JWT ID"
    )
    # Written once per token on the token endpoint's hot path, so no database-level foreign key
    # constraints: checking them locks the app's and the organization's rows on every INSERT
    # (about 40 % of PostgreSQL's work for it). Deleting an app or an organization still deletes
    # its tokens (Django cascades), and a row whose app or organization is gone (an INSERT racing
    # a deletion) is never active: the hot-path reads join both. The app's own index is the
    # (app, issued_at) one below.
    app = models.ForeignKey(
        OAuthApp,
        on_delete=models.CASCADE,
        related_name="issued_tokens",
        db_constraint=False,
        db_index=False,
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    scope = models.TextField()
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    secret_generation = models.PositiveIntegerField(
        default=1,
        editable=False,
        help_text="The generation of the client secret the token was obtained with.",
    )

    class Meta:
        verbose_name = "access token"
        ordering = ["-issued_at"]
        indexes = [
            models.Index(fields=["app", "issued_at"], name="issuedtoken_app_issued")
        ]

    def __str__(self) -> str:
        return str(self.jti)

    @property
    def is_revoked(self) -> bool:
        """Revoked on its own, or with all of its app's tokens (by time, or by a regeneration of
        the secret it was obtained with): the rule of selectors.issued_token_active."""
        app = self.app
        return (
            self.revoked_at is not None
            or (
                app.tokens_revoked_before is not None
                and self.issued_at <= app.tokens_revoked_before
            )
            or self.secret_generation < app.tokens_valid_from_generation
        )


class SigningKey(models.Model):
    """An RS256 key pair for signing access tokens. The newest unretired key signs; the JWKS
    publishes every key until the tokens it signed have expired."""

    kid = models.CharField(max_length=64, primary_key=True)
    private_key_pem = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(
        null=True, blank=True, help_text="When a newer key took over signing."
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.kid
