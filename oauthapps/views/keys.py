"""The public keys of an app that authenticates with private_key_jwt: add one (two at most, to
switch keys without downtime), remove one, change the JWKS URL. Each is a page of its own (the app
page opens them as dialogs): without JavaScript they work the same."""

from uuid import UUID

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from console.http import AuthedRequest
from oauthapps import selectors, services
from oauthapps.key_forms import AddPublicKeysForm, JWKSURLForm, RemovePublicKeyForm
from oauthapps.models import OAuthApp
from orgs.permissions import Action, fresh_second_factor, key_refusal, org_access


def _keys_app(request: AuthedRequest, app_id: int, *, from_url: bool) -> OAuthApp:
    """The app (404 unless this org owns it and it has registered keys, or a JWKS URL when
    `from_url`)."""
    app = selectors.oauth_app_get(org=request.org, app_id=app_id)
    if not app.uses_private_key_jwt or bool(app.jwks_uri) != from_url:
        raise Http404("This app has no such keys.")
    return app


def _may_give_keys(request: AuthedRequest, app: OAuthApp) -> None:
    """403, saying who can, when a key of theirs would give the member more than their role."""
    refusal = key_refusal(request.membership, app)
    if refusal:
        raise PermissionDenied(refusal)


def _app_page(request: AuthedRequest, app: OAuthApp) -> HttpResponse:
    return redirect("oauthapps:app_detail", org_id=request.org.pk, app_id=app.pk)


@require_http_methods(["GET", "POST"])
@org_access(Action.APPS_MANAGE)
@fresh_second_factor
def app_add_public_key(
    request: AuthedRequest, org_id: UUID, app_id: int
) -> HttpResponse:
    app = _keys_app(request, app_id, from_url=False)
    _may_give_keys(request, app)
    form = AddPublicKeysForm(request.POST or None, app=app)
    if request.method == "POST" and form.is_valid():
        try:
            services.oauth_app_add_public_keys(
                app=app,
                added_by=request.user,
                public_keys=form.cleaned_data["public_keys"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            prints = ", ".join(
                r["thumbprint"] for r in form.cleaned_data["public_keys"]
            )
            messages.success(
                request,
                f"Public key added (fingerprint {prints}). {app.name} may sign with any of its "
                "keys: once it signs with the new one, remove the old one.",
            )
            return _app_page(request, app)
    context = {"org": request.org, "app": app, "form": form}
    return render(request, "oauthapps/app_add_public_key.html", context)


@require_http_methods(["GET", "POST"])
@org_access(Action.APPS_MANAGE)
def app_remove_public_key(
    request: AuthedRequest, org_id: UUID, app_id: int
) -> HttpResponse:
    app = _keys_app(request, app_id, from_url=False)
    data = request.POST if request.method == "POST" else None
    form = RemovePublicKeyForm(
        data, initial={"thumbprint": request.GET.get("thumbprint", "")}
    )
    if request.method == "POST" and form.is_valid():
        try:
            _, revoked = services.oauth_app_remove_public_key(
                app=app, removed_by=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            also = (
                f" {revoked} access token{'s' if revoked != 1 else ''} revoked."
                if form.cleaned_data["revoke_tokens"]
                else ""
            )
            messages.success(
                request,
                f"Public key removed: assertions signed with it are refused.{also}",
            )
        return _app_page(request, app)
    key = next(
        (r for r in app.public_keys if r["thumbprint"] == form["thumbprint"].value()),
        None,
    )
    if key is None:
        raise Http404("The app has no such key.")
    context = {"org": request.org, "app": app, "form": form, "key": key}
    return render(request, "oauthapps/app_remove_public_key.html", context)


@require_http_methods(["GET", "POST"])
@org_access(Action.APPS_MANAGE)
@fresh_second_factor
def app_change_jwks_uri(
    request: AuthedRequest, org_id: UUID, app_id: int
) -> HttpResponse:
    app = _keys_app(request, app_id, from_url=True)
    _may_give_keys(request, app)
    form = JWKSURLForm(request.POST or None, initial={"jwks_uri": app.jwks_uri})
    if request.method == "POST" and form.is_valid():
        try:
            services.oauth_app_change_jwks_uri(
                app=app, changed_by=request.user, jwks_uri=form.cleaned_data["jwks_uri"]
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request, f"{app.name} now takes its public keys from the new JWKS URL."
            )
            return _app_page(request, app)
    context = {"org": request.org, "app": app, "form": form}
    return render(request, "oauthapps/app_change_jwks_uri.html", context)
