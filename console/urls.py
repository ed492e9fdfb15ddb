from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path

from console import views
from orgs import views as org_views
from orgs.forms import EmailAuthenticationForm

urlpatterns = [
    path("", org_views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    # The hot paths first: URLs are resolved in order, and each pattern tried costs CPU.
    # (The API's prefix first: it rules out its whole include in one match.)
    path("api/v1/", include("oauthapps.api.urls")),
    path("", include("oauthapps.tokens.urls")),
    path(
        "accounts/login/",
        login_not_required(
            auth_views.LoginView.as_view(
                authentication_form=EmailAuthenticationForm,
                redirect_authenticated_user=True,
            )
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/signup/", org_views.signup, name="signup"),
    path("admin/", admin.site.urls),
    path("", include("orgs.urls")),
    path("", include("oauthapps.urls")),
]
handler500 = "console.errors.server_error"
handler400 = "console.errors.bad_request"
handler403 = "console.errors.permission_denied"
handler404 = "console.errors.page_not_found"
