from django.urls import path

from oauthapps.tokens import views

app_name = "oauth"

urlpatterns = [
    path("oauth/token", views.token, name="token"),
    path("oauth/introspect", views.introspect, name="introspect"),
    path("oauth/revoke", views.revoke, name="revoke"),
    path(
        ".well-known/oauth-authorization-server",
        views.authorization_server_metadata,
        name="metadata",
    ),
    path(".well-known/jwks.json", views.jwks, name="jwks"),
    # The cloned console's paths, so its scripts only change the host (DESIGN.md §6).
    path("csp/gateway/am/api/auth/authorize", views.token, name="csp_authorize"),
    path(
        "csp/gateway/am/api/auth/token-public-key",
        views.token_public_key,
        name="csp_token_public_key",
    ),
]
