"""The client secret after creation: Regenerate, Rotate with overlap, End overlap now.

A new secret is shown once, in the same credentials pop-up as after creation, rendered over the
app page in the response that made it. Forms carry the fingerprint of the secret the user saw,
so a resubmitted form (reload, double click) changes nothing.
"""

from uuid import UUID

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from console.http import AuthedRequest
from oauthapps import selectors, services
from oauthapps.forms import RotateSecretForm, SecretChangeForm
from oauthapps.models import OAuthApp
from oauthapps.views.common import app_page, credentials_context
from orgs.permissions import Action, fresh_second_factor, org_access, secret_refusal


@require_http_methods(["GET", "POST"])
@org_access(Action.APPS_MANAGE)
@fresh_second_factor
def app_regenerate_secret(
    request: AuthedRequest, org_id: UUID, app_id: int
) -> HttpResponse:
    app = _app_whose_secret_they_may_have(request, app_id)
    if app.uses_private_key_jwt:
        return _has_no_secret(request, app)
    initial = {"fingerprint": services.secret_fingerprint(app)}
    form = SecretChangeForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            app, secret = services.oauth_app_regenerate_secret(
                app=app, regenerated_by=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("oauthapps:app_detail", org_id=org_id, app_id=app.pk)
        credentials = credentials_context(request, app, secret)
        return app_page(
            request, app.pk, credentials=credentials, dialog_title="New client secret"
        )
    return render(
        request,
        "oauthapps/app_regenerate_secret.html",
        {"org": request.org, "app": app, "form": form},
    )


@require_http_methods(["GET", "POST"])
@org_access(Action.APPS_MANAGE)
@fresh_second_factor
def app_rotate_secret(
    request: AuthedRequest, org_id: UUID, app_id: int
) -> HttpResponse:
    app = _app_whose_secret_they_may_have(request, app_id)
    if app.uses_private_key_jwt:
        return _has_no_secret(request, app)
    initial = {"fingerprint": services.secret_fingerprint(app)}
    form = RotateSecretForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            app, secret = services.oauth_app_rotate_secret(
                app=app, rotated_by=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            credentials = credentials_context(request, app, secret)
            return app_page(
                request,
                app.pk,
                credentials=credentials,
                dialog_title="New client secret",
            )
    overlap = services.has_overlap(app)
    context = {"org": request.org, "app": app, "form": form, "has_overlap": overlap}
    return render(request, "oauthapps/app_rotate_secret.html", context)


def _app_whose_secret_they_may_have(request: AuthedRequest, app_id: int) -> OAuthApp:
    """The app (404 unless this org owns it); 403, saying who can, when a new secret would give
    the member more than their own role (orgs/permissions.py: secret_refusal)."""
    app = selectors.oauth_app_get(org=request.org, app_id=app_id)
    refusal = secret_refusal(request.membership, app)
    if refusal:
        raise PermissionDenied(refusal)
    return app


def _has_no_secret(request: AuthedRequest, app: OAuthApp) -> HttpResponse:
    """Regenerate and Rotate do not apply to an app that authenticates with its private key."""
    messages.info(
        request,
        f"{app.name} authenticates with a private key JWT: it has no client secret. Manage its "
        "public keys instead.",
    )
    return redirect("oauthapps:app_detail", org_id=request.org.pk, app_id=app.pk)


@require_POST
@org_access(Action.APPS_MANAGE)
def app_end_secret_overlap(
    request: AuthedRequest, org_id: UUID, app_id: int
) -> HttpResponse:
    app = selectors.oauth_app_get(org=request.org, app_id=app_id)
    if services.has_overlap(app):
        services.oauth_app_end_secret_overlap(app=app, ended_by=request.user)
        messages.success(
            request, "The previous secret was retired: only the current one works now."
        )
    else:
        messages.info(request, "There was no previous secret still working.")
    return redirect("oauthapps:app_detail", org_id=org_id, app_id=app.pk)
