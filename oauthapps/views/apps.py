"""Organization › OAuth Apps: the list (owned and added apps) and an app's page."""

from uuid import UUID

from django.http import HttpResponse
from django.views.decorators.http import require_GET

from console.http import AuthedRequest
from console.lists import render_list
from oauthapps import selectors
from oauthapps.lists import AppListForm, oauth_apps_page
from oauthapps.views.common import app_page
from orgs.permissions import Action, org_access


@require_GET
@org_access(Action.APPS_VIEW)
def app_list(request: AuthedRequest, org_id: UUID) -> HttpResponse:
    catalog = selectors.scope_catalog(org=request.org)
    form = AppListForm(request.GET, catalog=catalog)
    listing = oauth_apps_page(org=request.org, query=form.parse(), catalog=catalog)
    context = {"org": request.org, "form": form, "listing": listing}
    return render_list(
        request, "oauthapps/app_list.html", {**context, "rows": listing.rows}
    )


@require_GET
@org_access(Action.APPS_VIEW)
def app_detail(request: AuthedRequest, org_id: UUID, app_id: int) -> HttpResponse:
    return app_page(request, app_id)
