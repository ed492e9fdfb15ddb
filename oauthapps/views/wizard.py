"""Create New OAuth App (the wizard) and its last, optional step: Add to organization."""

from uuid import UUID

from allauth.account.decorators import verified_email_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.views.decorators.http import require_http_methods

from console.http import AuthedRequest
from oauthapps import selectors, services
from oauthapps.models import OAuthApp
from oauthapps.views.common import credentials_context, flash_added
from oauthapps.wizard import STEPS, Wizard, progress
from orgs.permissions import Action, fresh_second_factor, org_access


@require_http_methods(["GET", "POST"])
@verified_email_required
@org_access(Action.APPS_CREATE)
@fresh_second_factor
def app_create(request: AuthedRequest, org_id: UUID) -> HttpResponse:
    wizard = Wizard(
        request.POST if request.method == "POST" else None,
        org=request.org,
        actor=request.membership,
    )
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
    can_grant = str(Action.APPS_GRANT) in request.org_perms  # type: ignore[attr-defined]
    add_url = reverse("oauthapps:app_add_to_org", args=[app.organization_id, app.pk])
    return credentials_context(
        request, app, secret, continue_url=f"{add_url}?wizard=1" if can_grant else ""
    )


@require_http_methods(["GET", "POST"])
@org_access(Action.APPS_GRANT)
@fresh_second_factor
def app_add_to_org(request: AuthedRequest, org_id: UUID, app_id: int) -> HttpResponse:
    app = selectors.oauth_app_get(org=request.org, app_id=app_id)
    is_added_here = selectors.oauth_app_is_added(app=app, org=request.org)
    if request.method == "POST":
        _, missing = services.oauth_app_add_to_org(
            app=app, org=request.org, added_by=request.user
        )
        flash_added(request, app, request.org, missing, was_added=is_added_here)
        return redirect("oauthapps:app_detail", org_id=org_id, app_id=app.pk)
    catalog = selectors.scope_catalog(org=request.org)
    return render(
        request,
        "oauthapps/app_add_to_org.html",
        {
            "org": request.org,
            "app": app,
            "grouped_scopes": catalog.grouped(app.scopes),
            "missing_groups": catalog.missing_groups(app.scopes),
            "is_added_here": is_added_here,
            # Reached from the wizard's Continue: keep showing where the user is in it.
            "progress": progress(len(STEPS)) if "wizard" in request.GET else None,
        },
    )
