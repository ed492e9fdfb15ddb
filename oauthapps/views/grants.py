"""Which organizations an app is in: add it to the orgs you own (from its page), add another
org's app by its client ID, remove it from an org, re-grant changed scopes. Only Owners of the
org in question may (`apps.grant`); an org you are not an Owner of is never offered, and a forged
POST for one is refused by the form."""

from uuid import UUID

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from console.http import AuthedRequest
from oauthapps import selectors, services
from oauthapps.forms import AddToOrgsForm, ClientIdForm
from oauthapps.models import OAuthApp
from oauthapps.views.common import flash_added, flash_missing
from orgs.permissions import Action, fresh_second_factor, org_access, orgs_allowing


@require_http_methods(["GET", "POST"])
@org_access(Action.APPS_VIEW)
@fresh_second_factor
def app_add_to_orgs(request: AuthedRequest, org_id: UUID, app_id: int) -> HttpResponse:
    app = selectors.oauth_app_get_visible(org=request.org, app_id=app_id)
    catalog = selectors.scope_catalog()
    candidates = selectors.add_to_org_candidates(
        app=app,
        grantable=orgs_allowing(request.user, Action.APPS_GRANT),
        catalog=catalog,
    )
    form = AddToOrgsForm(request.POST or None, orgs=[c.org for c in candidates])
    if request.method == "POST" and form.is_valid():
        for org in form.chosen():
            _, missing = services.oauth_app_add_to_org(
                app=app, org=org, added_by=request.user
            )
            flash_added(request, app, org, missing)
        return redirect("oauthapps:app_detail", org_id=org_id, app_id=app.pk)
    return render(
        request,
        "oauthapps/app_add_to_orgs.html",
        {
            "org": request.org,
            "app": app,
            "form": form,
            "candidates": candidates,
            "grouped_scopes": catalog.grouped(app.scopes),
        },
    )


@require_http_methods(["GET", "POST"])
@org_access(Action.APPS_GRANT)
@fresh_second_factor
def app_add_by_client_id(request: AuthedRequest, org_id: UUID) -> HttpResponse:
    is_post = request.method == "POST"
    looked_up = "client_id" in request.GET
    form = ClientIdForm(request.POST if is_post else request.GET if looked_up else None)
    app = _app_for(form)
    is_added_here = app is not None and selectors.oauth_app_is_added(
        app=app, org=request.org
    )
    if app is not None and is_post:
        _, missing = services.oauth_app_add_to_org(
            app=app, org=request.org, added_by=request.user
        )
        flash_added(request, app, request.org, missing, was_added=is_added_here)
        return redirect("oauthapps:app_detail", org_id=org_id, app_id=app.pk)
    catalog = selectors.scope_catalog(org=request.org)
    return render(
        request,
        "oauthapps/app_add_by_client_id.html",
        {
            "org": request.org,
            "form": form,
            "app": app,
            "grouped_scopes": catalog.grouped(app.scopes) if app else [],
            "missing_groups": catalog.missing_groups(app.scopes) if app else [],
            "is_added_here": is_added_here,
        },
    )


def _app_for(form: ClientIdForm) -> OAuthApp | None:
    """The app the pasted client ID names, or None with the reason on the form."""
    if not form.is_valid():
        return None
    app = selectors.oauth_app_find_by_client_id(**form.cleaned_data)
    if app is None:
        form.add_error(
            "client_id", "No app has this client ID. Check that you copied all of it."
        )
    elif app.is_disabled:
        form.add_error(
            "client_id",
            "This app was disabled by an administrator of the console and cannot be added.",
        )
    return app if app is not None and not app.is_disabled else None


@require_http_methods(["GET", "POST"])
@org_access(Action.APPS_GRANT)
def app_remove_from_org(
    request: AuthedRequest, org_id: UUID, app_id: int
) -> HttpResponse:
    grant = selectors.oauth_app_grant_get(org=request.org, app_id=app_id)
    app = grant.app
    if request.method == "POST":
        revoked = services.oauth_app_remove_from_org(
            app=app, org=request.org, removed_by=request.user
        )
        messages.success(
            request,
            f"{app.name} was removed from {request.org.name}; {revoked or 0} active "
            f"token{'s' if revoked != 1 else ''} for {request.org.name} revoked.",
        )
        if app.organization_id == request.org.pk:
            return redirect("oauthapps:app_detail", org_id=org_id, app_id=app.pk)
        return redirect("oauthapps:app_list", org_id=org_id)
    return render(
        request,
        "oauthapps/app_remove_from_org.html",
        {"org": request.org, "app": app, "grant": grant},
    )


@require_POST
@org_access(Action.APPS_GRANT)
@fresh_second_factor
def app_regrant(request: AuthedRequest, org_id: UUID, app_id: int) -> HttpResponse:
    grant = selectors.oauth_app_grant_get(org=request.org, app_id=app_id)
    was_pending = selectors.grant_is_pending(grant=grant, app=grant.app)
    _, missing = services.oauth_app_regrant(grant=grant, granted_by=request.user)
    if was_pending:
        messages.success(
            request,
            f"{grant.app.name} now has its current scopes in {request.org.name}. New tokens "
            "carry them; tokens already issued keep theirs until they expire.",
        )
    else:
        messages.info(
            request, f"{request.org.name} already granted {grant.app.name}'s scopes."
        )
    flash_missing(request, request.org, missing, notified=False)
    return redirect("oauthapps:app_detail", org_id=org_id, app_id=app_id)
