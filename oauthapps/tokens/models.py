import uuid

from django.db import models


class TokenStateVersion(models.Model):
    """One row whose `version` changes, in the same transaction, with every change that can decide
    whether a client may get a token or whether an issued token is still good: apps, grants,
    organizations, their services, revocations (migrations/0001_initial.py has the triggers;
    state.py says how the token endpoint and the API use it)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    version = models.BigIntegerField()

    class Meta:
        db_table = "tokens_state_version"

    def __str__(self) -> str:
        return str(self.version)


class IssuedToken(models.Model):
    """One row per access token issued (the JWT itself is never stored; its `jti` is the key):
    what introspection, revocation and usage read."""

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
        "oauthapps.OAuthApp",
        on_delete=models.CASCADE,
        related_name="issued_tokens",
        db_constraint=False,
        db_index=False,
    )
    organization = models.ForeignKey(
        "orgs.Organization",
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
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
        # Both tables keep their names from before the tokens app owned them.
        db_table = "oauthapps_issuedtoken"
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
        before = app.tokens_revoked_before
        return (
            self.revoked_at is not None
            or (before is not None and self.issued_at <= before)
            or self.secret_generation < app.tokens_valid_from_generation
        )


class SigningKey(models.Model):
    """A key pair for signing access tokens (RS256, ES256 or EdDSA; tokens/keys.py). The newest
    unretired key signs; the JWKS publishes every key until the tokens it signed have expired."""

    class Algorithm(models.TextChoices):
        RS256 = "RS256", "RS256"
        ES256 = "ES256", "ES256"
        EDDSA = "EdDSA", "EdDSA"

    kid = models.CharField(max_length=64, primary_key=True)
    algorithm = models.CharField(
        max_length=8, choices=Algorithm.choices, default=Algorithm.RS256
    )
    private_key_pem = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(
        null=True, blank=True, help_text="When a newer key took over signing."
    )

    class Meta:
        db_table = "oauthapps_signingkey"  # (see IssuedToken)
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.kid
