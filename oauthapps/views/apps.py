"""Organization › OAuth Apps: the list (owned and added apps) and an app's page."""

from uuid import UUID

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from console.http import AuthedRequest
from oauthapps import selectors
from oauthapps.models import AppGrant
from oauthapps.views.common import app_page
from orgs.permissions import Action, org_access


@require_GET
@org_access(Action.APPS_VIEW)
def app_list(request: AuthedRequest, org_id: UUID) -> HttpResponse:
    catalog = selectors.scope_catalog()
    rows = [
        (app, catalog.grouped(app.scopes))
        for app in selectors.oauth_apps_for_org(org=request.org)
    ]
    added_rows = [
        (grant.app, grant, catalog.grouped(grant.scopes), is_pending(grant))
        for grant in selectors.grants_from_other_orgs(org=request.org)
    ]
    return render(
        request,
        "oauthapps/app_list.html",
        {"org": request.org, "rows": rows, "added_rows": added_rows},
    )


def is_pending(grant: AppGrant) -> bool:
    return selectors.grant_is_pending(grant=grant, app=grant.app)


@require_GET
@org_access(Action.APPS_VIEW)
def app_detail(request: AuthedRequest, org_id: UUID, app_id: int) -> HttpResponse:
    return app_page(request, app_id)
