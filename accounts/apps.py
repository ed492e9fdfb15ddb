from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Our side of accounts: allauth's adapter and templates, the sign-in lockout, MFA policy and
    organization invitations."""

    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"
