from django.apps import AppConfig


class TokensConfig(AppConfig):
    """The token service. An app of its own for its one table (the token state version) and the
    database triggers that keep it, so its migrations never collide with `oauthapps`' own."""

    name = "oauthapps.tokens"
    label = "tokens"
    verbose_name = "Token service"
