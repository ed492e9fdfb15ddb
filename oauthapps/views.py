from uuid import UUID

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from console.http import AuthedRequest
from oauthapps import selectors
from orgs.permissions import Action, org_access


@require_http_methods(["GET"])
@org_access(Action.APPS_VIEW)
def app_list(request: AuthedRequest, org_id: UUID) -> HttpResponse:
    apps = selectors.oauth_apps_for_org(org=request.org)
    return render(
        request, "oauthapps/app_list.html", {"org": request.org, "apps": apps}
    )
