from allauth.account import views as account_views
from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path
from django.views.decorators.http import require_http_methods

from console import views
from orgs import views as org_views

# Django admin signs in through the console's sign-in (with its lockout and second factor).
admin.site.login = secure_admin_login(admin.site.login)

get_or_post = require_http_methods(["GET", "POST"])

urlpatterns = [
    path("", org_views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    # The hot paths first: URLs are resolved in order, and each pattern tried costs CPU.
    # (The API's prefix first: it rules out its whole include in one match.)
    path("api/v1/", include("oauthapps.api.urls")),
    path("", include("oauthapps.tokens.urls")),
    # allauth's own names are account_login etc.; "login", "logout" and "signup" name the same
    # pages for templates and tests written before allauth (and answer only GET and POST).
    path("accounts/login/", get_or_post(account_views.login), name="login"),
    path("accounts/logout/", get_or_post(account_views.logout), name="logout"),
    path("accounts/signup/", get_or_post(account_views.signup), name="signup"),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("", include("console.accounts.urls")),
    path("", include("orgs.urls")),
    path("", include("oauthapps.urls")),
]
handler500 = "console.errors.server_error"
handler400 = "console.errors.bad_request"
handler403 = "console.errors.permission_denied"
handler404 = "console.errors.page_not_found"
# allauth's rate limits answer through this (allauth.core.ratelimit.respond_429).
handler429 = "console.accounts.lockout.too_many_requests"
