"""What several app pages share: the credentials pop-up's context and the app page itself (which
Regenerate and Rotate render again, with the new secret in the pop-up)."""

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

from console.http import AuthedRequest
from console.issuer import issuer
from oauthapps import policies, selectors, services
from oauthapps.client_keys import MAX_KEYS
from oauthapps.credentials import credentials_data_url, credentials_filename
from oauthapps.forms import DeleteAppForm, RotateSecretForm, SecretChangeForm
from oauthapps.key_forms import AddPublicKeysForm, JWKSURLForm, RemovePublicKeyForm
from oauthapps.models import OAuthApp
from oauthapps.usage import oauth_app_usage
from orgs.models import Organization
from orgs.permissions import Action, key_refusal, orgs_allowing, secret_refusal


def credentials_context(
    request: AuthedRequest, app: OAuthApp, secret: str, *, continue_url: str = ""
) -> dict[str, Any]:
    """The "OAuth app created" pop-up: the one place a plaintext secret is ever rendered."""
    app_url = reverse("oauthapps:app_detail", args=[app.organization_id, app.pk])
    can_grant = str(Action.APPS_GRANT) in request.org_perms  # type: ignore[attr-defined]
    return {
        "app": app,
        "client_secret": secret,
        "download_url": credentials_data_url(
            app=app, client_secret=secret, issuer=issuer(request)
        ),
        "download_name": credentials_filename(app=app),
        "app_url": app_url,
        "can_grant": can_grant,
        "continue_url": continue_url or app_url,
        # A rotation: until when the previous secret keeps working.
        "previous_valid_until": app.previous_secret_expires_at
        if services.has_overlap(app)
        else None,
    }


def flash_added(
    request: AuthedRequest,
    app: OAuthApp,
    org: Organization,
    missing: list[str],
    *,
    was_added: bool = False,
) -> None:
    """The messages after adding an app to an org: done (or already done), and the services
    the org lacks, if any (the Owners also get a notification about them)."""
    if was_added:
        messages.info(request, f"{app.name} was already added to {org.name}.")
    else:
        messages.success(request, f"{app.name} was added to {org.name}.")
    flash_missing(request, org, missing)


def flash_missing(
    request: AuthedRequest,
    org: Organization,
    missing: list[str],
    *,
    notified: bool = True,
) -> None:
    """Warn that `org` lacks these services of the app's scopes (nothing when none are)."""
    if missing:
        names = selectors.service_names(slugs=missing)
        word = "services" if len(missing) > 1 else "service"
        also = " This is also in your notifications." if notified else ""
        messages.warning(
            request,
            f"{org.name} does not contain {names}, named in this app's scopes: its tokens "
            f"there will not carry those scopes until an Owner adds the {word}.{also}",
        )


def app_page(
    request: AuthedRequest,
    app_id: int,
    *,
    credentials: dict[str, Any] | None = None,
    dialog_title: str = "",
) -> HttpResponse:
    """The app page in the current org (owned or added there), optionally with the pop-up."""
    app = selectors.oauth_app_get_visible(org=request.org, app_id=app_id)
    context = app_page_context(request, app)
    if credentials is not None:
        # Not the wizard: the "not yet added" note of the pop-up does not apply here.
        context["credentials"] = {**credentials, "can_grant": True}
        context["dialog_title"] = dialog_title
    response = render(request, "oauthapps/app_detail.html", context)
    if credentials is not None:
        add_never_cache_headers(response)
    return response


def app_page_context(request: AuthedRequest, app: OAuthApp) -> dict[str, Any]:
    org = request.org
    is_owned = app.organization_id == org.pk
    catalog = selectors.scope_catalog(org=org)
    grantable = orgs_allowing(request.user, Action.APPS_GRANT)
    grant_rows = selectors.oauth_app_grant_rows(
        app=app,
        catalog=catalog,
        grantable_org_ids={o.pk for o in grantable},
        only_org=None if is_owned else org,
    )
    added_ids = {row.grant.organization_id for row in grant_rows}
    base = issuer(request)
    can_manage = is_owned and str(Action.APPS_MANAGE) in request.org_perms  # type: ignore[attr-defined]
    return {
        "org": org,
        "app": app,
        "is_owned": is_owned,
        "can_manage": can_manage,
        # Regenerate and Rotate: refused, saying who can, when the app's role is above the member's.
        "secret_refusal": secret_refusal(request.membership, app) if can_manage else "",  # type: ignore[attr-defined]
        "grouped_scopes": catalog.grouped(app.scopes),
        "missing_groups": catalog.missing_groups(app.scopes),
        "grant_rows": grant_rows,
        "grant_here": next(
            (r for r in grant_rows if r.grant.organization_id == org.pk), None
        ),
        "can_add_elsewhere": any(o.pk not in added_ids for o in grantable)
        if is_owned
        else False,
        "usage": oauth_app_usage(app=app, org=None if is_owned else org),
        "token_url": base + reverse("oauth:token"),
        "api_url": base + reverse("api:org_detail", args=[org.pk]),
        "credentials_file": credentials_filename(app=app),
        # The allowlist's latest refusals: for the owning org, while it has an allowlist.
        "refused_addresses": selectors.refused_addresses_for_app(app=app)
        if is_owned and app.allowed_networks
        else [],
        **(_keys_context(request, app, can_manage) if app.uses_private_key_jwt else {}),
        **_secret_context(app),
    }


def _keys_context(
    request: AuthedRequest, app: OAuthApp, can_manage: bool
) -> dict[str, Any]:
    """The public keys' card of a private_key_jwt app: what may be done, and its dialogs' forms."""
    return {
        "key_refusal": key_refusal(request.membership, app) if can_manage else "",  # type: ignore[attr-defined]
        "can_add_key": not app.jwks_uri and len(app.public_keys) < MAX_KEYS,
        "add_key_form": AddPublicKeysForm(app=app),
        "remove_key_form": RemovePublicKeyForm(),
        "jwks_form": JWKSURLForm(initial={"jwks_uri": app.jwks_uri}),
    }


def _secret_context(app: OAuthApp) -> dict[str, Any]:
    """The secret's card: its age (a warning past 90 days), its expiry (a warning from 14 days
    before), a running overlap, and the forms of the Regenerate, Rotate and Delete dialogs."""
    now = timezone.now()
    age = now - (app.secret_created_at or app.created)
    expires_at = app.secret_expires_at
    initial = {"fingerprint": services.secret_fingerprint(app)}
    return {
        "secret_is_expired": expires_at is not None and expires_at <= now,
        "secret_expires_soon": expires_at is not None
        and now < expires_at <= now + timedelta(days=max(policies.EXPIRY_NOTICE_DAYS)),
        "secret_age_days": age.days,
        "secret_is_old": age.days > services.SECRET_MAX_AGE_DAYS,
        "secret_max_age_days": services.SECRET_MAX_AGE_DAYS,
        "has_overlap": services.has_overlap(app),
        "secret_form": SecretChangeForm(initial=initial),
        "rotate_form": RotateSecretForm(initial=initial),
        "delete_form": DeleteAppForm(app=app),
    }
