from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Our side of accounts: allauth's adapter and templates, the sign-in lockout, MFA policy and
    organization invitations. Nested in the project package (like `oauthapps.tokens`), with the
    label `accounts`: its tables, migrations and templates are named after the label."""

    name = "console.accounts"
    label = "accounts"
    verbose_name = "Accounts"
    default_auto_field = "django.db.models.BigAutoField"
