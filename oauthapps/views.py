from uuid import UUID

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.views.decorators.http import require_http_methods

from console.http import AuthedRequest
from oauthapps import selectors, services
from oauthapps.credentials import credentials_data_url, credentials_filename
from oauthapps.models import OAuthApp
from oauthapps.wizard import STEPS, Wizard, progress
from orgs.permissions import Action, org_access


@require_http_methods(["GET"])
@org_access(Action.APPS_VIEW)
def app_list(request: AuthedRequest, org_id: UUID) -> HttpResponse:
    catalog = selectors.scope_catalog()
    rows = [
        (app, catalog.grouped(app.scopes))
        for app in selectors.oauth_apps_for_org(org=request.org)
    ]
    return render(
        request, "oauthapps/app_list.html", {"org": request.org, "rows": rows}
    )


@require_http_methods(["GET", "POST"])
@org_access(Action.APPS_CREATE)
def app_create(request: AuthedRequest, org_id: UUID) -> HttpResponse:
    wizard = Wizard(request.POST if request.method == "POST" else None, org=request.org)
    context: dict = {"org": request.org, "wizard": wizard}
    if wizard.is_complete:
        try:
            app, secret = services.oauth_app_create(
                organization=request.org,
                created_by=request.user,
                **wizard.service_data(),
            )
        except ValidationError as exc:
            wizard.show_service_error(exc)
        else:
            context["created"] = _credentials_context(request, app, secret)
    # History restores (Back into the wizard) need the whole page, not the fragment.
    is_fragment = request.htmx and not request.htmx.history_restore_request
    template = "oauthapps/app_create.html"
    response = render(
        request, f"{template}#wizard" if is_fragment else template, context
    )
    if "created" in context and is_fragment:
        # The secret lives only in this response; a reload lands on the app page instead.
        response["HX-Push-Url"] = context["created"]["app_url"]
    patch_vary_headers(response, ["HX-Request"])
    add_never_cache_headers(response)
    return response


def _credentials_context(request: AuthedRequest, app: OAuthApp, secret: str) -> dict:
    app_url = reverse("oauthapps:app_detail", args=[app.organization_id, app.pk])
    can_grant = str(Action.APPS_GRANT) in request.org_perms  # type: ignore[attr-defined]
    return {
        "app": app,
        "client_secret": secret,
        "download_url": credentials_data_url(app=app, client_secret=secret),
        "download_name": credentials_filename(app=app),
        "app_url": app_url,
        "can_grant": can_grant,
        "continue_url": reverse(
            "oauthapps:app_add_to_org", args=[app.organization_id, app.pk]
        )
        + "?wizard=1"
        if can_grant
        else app_url,
    }


@require_http_methods(["GET"])
@org_access(Action.APPS_VIEW)
def app_detail(request: AuthedRequest, org_id: UUID, app_id: int) -> HttpResponse:
    app = selectors.oauth_app_get(org=request.org, app_id=app_id)
    catalog = selectors.scope_catalog(org=request.org)
    return render(
        request,
        "oauthapps/app_detail.html",
        {
            "org": request.org,
            "app": app,
            "grouped_scopes": catalog.grouped(app.scopes),
            "grant_rows": selectors.oauth_app_grant_rows(app=app, catalog=catalog),
            "is_added_here": selectors.oauth_app_is_added(app=app, org=request.org),
        },
    )


@require_http_methods(["GET", "POST"])
@org_access(Action.APPS_GRANT)
def app_add_to_org(request: AuthedRequest, org_id: UUID, app_id: int) -> HttpResponse:
    app = selectors.oauth_app_get(org=request.org, app_id=app_id)
    catalog = selectors.scope_catalog(org=request.org)
    if request.method == "POST":
        was_added = selectors.oauth_app_is_added(app=app, org=request.org)
        _, missing = services.oauth_app_add_to_org(
            app=app, org=request.org, added_by=request.user
        )
        if was_added:
            messages.info(
                request, f"{app.name} was already added to {request.org.name}."
            )
        else:
            messages.success(request, f"{app.name} was added to {request.org.name}.")
        if missing:
            names = ", ".join(catalog.title_of(slug) for slug in missing)
            services_word = "services" if len(missing) > 1 else "service"
            messages.warning(
                request,
                f"{request.org.name} does not contain {names}, named in this app's scopes: "
                f"its tokens here will not carry those scopes until an Owner adds the {services_word}. "
                "This is also in your notifications.",
            )
        return redirect("oauthapps:app_detail", org_id=org_id, app_id=app.pk)
    return render(
        request,
        "oauthapps/app_add_to_org.html",
        {
            "org": request.org,
            "app": app,
            "grouped_scopes": catalog.grouped(app.scopes),
            "missing_groups": catalog.missing_groups(app.scopes),
            "is_added_here": selectors.oauth_app_is_added(app=app, org=request.org),
            # Reached from the wizard's Continue: keep showing where the user is in it.
            "progress": progress(len(STEPS)) if "wizard" in request.GET else None,
        },
    )
