"""Changing an app its org owns: Edit and Delete (Owners, Administrators, Developers)."""

from uuid import UUID

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from console.http import AuthedRequest
from oauthapps import selectors, services
from oauthapps.forms import AppEditForms, DeleteAppForm
from oauthapps.models import OAuthApp
from orgs.permissions import Action, org_access, withheld_note


@require_http_methods(["GET", "POST"])
@org_access(Action.APPS_MANAGE)
def app_edit(request: AuthedRequest, org_id: UUID, app_id: int) -> HttpResponse:
    app = selectors.oauth_app_get(org=request.org, app_id=app_id)
    catalog = selectors.scope_catalog(org=request.org)
    forms = AppEditForms(request.POST or None, app=app, catalog=catalog)
    saved_name = app.name  # the heading keeps it while a typed name is refused
    if request.method == "POST" and forms.is_valid():
        try:
            services.oauth_app_update(
                app=app, updated_by=request.user, **forms.cleaned_data
            )
        except ValidationError as exc:
            forms.show_service_error(exc)
        else:
            flash_saved(request, app)
            return redirect("oauthapps:app_detail", org_id=org_id, app_id=app.pk)
    others = [g for g in app.grants.all() if g.organization_id != request.org.pk]
    context = {"org": request.org, "app": app, "saved_name": saved_name}
    context |= {"forms": forms, "other_grants": others}
    context["withheld_note"] = withheld_note(request.membership)
    return render(request, "oauthapps/app_edit.html", context)


def flash_saved(request: AuthedRequest, app: OAuthApp) -> None:
    waiting = selectors.scopes_awaiting_owner(app=app)
    if not waiting:
        messages.success(
            request, f"{app.name} was saved. New tokens follow the change."
        )
        return
    messages.warning(
        request,
        f"{app.name} was saved. Its added scopes ({', '.join(waiting)}) wait for an Owner "
        f"of {app.organization.name} to re-grant them, as they widen the app past your role "
        "there; its Owners were notified. Until then its tokens keep the scopes granted "
        "before.",
    )


@require_http_methods(["GET", "POST"])
@org_access(Action.APPS_MANAGE)
def app_delete(request: AuthedRequest, org_id: UUID, app_id: int) -> HttpResponse:
    app = selectors.oauth_app_get(org=request.org, app_id=app_id)
    form = DeleteAppForm(request.POST or None, app=app)
    if request.method == "POST" and form.is_valid():
        grant_count = len(app.grants.all())
        services.oauth_app_delete(app=app, deleted_by=request.user)
        messages.success(
            request,
            f"{form.cleaned_data['confirm_name']} was deleted. Its tokens were revoked and it "
            f"was removed from the {grant_count} organization{'s' if grant_count != 1 else ''} "
            "it was added to.",
        )
        return redirect("oauthapps:app_list", org_id=org_id)
    return render(
        request,
        "oauthapps/app_delete.html",
        {"org": request.org, "app": app, "form": form},
    )
