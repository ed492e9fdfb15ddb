from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from oauth2_provider.models import AbstractApplication

from oauthapps import policies
from orgs.models import Organization

TTL_MIN_MINUTES = 1
TTL_MAX_MINUTES = 300
TTL_DEFAULT_MINUTES = 30
# The app's page lists this many of the latest addresses its IP allowlist refused.
REFUSED_ADDRESSES_KEPT = 10


class OAuthApp(AbstractApplication):
    """A registered OAuth client. The toolkit's Application, swapped in from the first migration.

    `organization` is the owning org (where it was created and is managed); the orgs it was
    *added to* are its `grants`.
    """

    class AppType(models.TextChoices):
        SERVER_TO_SERVER = "server_to_server", "Server to server app"

    class ClientAuth(models.TextChoices):
        """How the app authenticates at the token endpoint (RFC 7591 names where they exist):
        a client secret (HTTP Basic or form fields), or a JWT signed with its private key
        (private_key_jwt, RFC 7523 §2.2), verified with the public keys registered here."""

        CLIENT_SECRET = "client_secret", "Client secret"
        PRIVATE_KEY_JWT = "private_key_jwt", "Private key JWT"

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
    # The owning organization's expiry policy (policies.py), set when a secret is made.
    secret_expires_at = models.DateTimeField(
        null=True,
        blank=True,
        db_index=True,
        help_text="When the current client secret stops working (the owning organization's "
        "expiry policy when it was made). Empty: it does not expire.",
    )
    allowed_networks = models.JSONField(
        default=list,
        blank=True,
        validators=[policies.validate_networks],
        verbose_name="IP allowlist",
        help_text="CIDR blocks (IPv4 or IPv6) the app may authenticate from. Empty: any address.",
    )
    client_auth = models.CharField(
        max_length=32,
        choices=ClientAuth.choices,
        default=ClientAuth.CLIENT_SECRET,
        verbose_name="client authentication",
    )
    # private_key_jwt: at most two public keys (two for a rotation), as stored by
    # client_keys.key_record: {"kid", "thumbprint", "alg", "jwk", "added_at"}; or a JWKS URL.
    public_keys = models.JSONField(
        default=list,
        blank=True,
        editable=False,
        help_text="Public keys that verify the app's client assertions (private_key_jwt).",
    )
    jwks_uri = models.URLField(
        max_length=500,
        blank=True,
        verbose_name="JWKS URL",
        help_text="Where the app publishes its public keys (private_key_jwt), instead of "
        "registering them here.",
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

    @property
    def uses_private_key_jwt(self) -> bool:
        return self.client_auth == self.ClientAuth.PRIVATE_KEY_JWT


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


class RefusedAddress(models.Model):
    """An address the app's IP allowlist refused at client authentication: the latest few per
    app, shown on its page (services.client_policies.refused_address_record keeps them bounded)."""

    app = models.ForeignKey(
        OAuthApp, on_delete=models.CASCADE, related_name="refused_addresses"
    )
    address = models.CharField(max_length=64)
    first_refused_at = models.DateTimeField()
    last_refused_at = models.DateTimeField()
    refusals = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = "refused address"
        ordering = ["-last_refused_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["app", "address"], name="unique_refused_address"
            )
        ]

    def __str__(self) -> str:
        return self.address


class SecretExpiryNotice(models.Model):
    """The owning organization's Owners were told that this secret of the app (by generation)
    expires within `days_before` days: one row per notice, so the daily command sends each once."""

    app = models.ForeignKey(
        OAuthApp, on_delete=models.CASCADE, related_name="secret_expiry_notices"
    )
    secret_generation = models.PositiveIntegerField()
    days_before = models.PositiveSmallIntegerField()
    sent_at = models.DateTimeField()

    class Meta:
        verbose_name = "secret expiry notice"
        ordering = ["-sent_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["app", "secret_generation", "days_before"],
                name="unique_secret_expiry_notice",
            )
        ]

    def __str__(self) -> str:
        return f"{self.app}: secret {self.secret_generation}, {self.days_before} days"


class UsedClientAssertion(models.Model):
    """A client assertion (private_key_jwt) the token service accepted, kept until it expires so
    that it is accepted only once (RFC 7523 §3, `jti`), on every instance: the primary key makes
    the second INSERT of the same assertion fail. Its `key` is a hash of the client ID and the
    `jti`, never the assertion. Expired rows are deleted (client_assertions.prune)."""

    key = models.CharField(max_length=64, primary_key=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "used client assertion"

    def __str__(self) -> str:
        return self.key
