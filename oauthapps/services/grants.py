"""Which organizations an app was added to, with what (DESIGN.md §1 Grant), and telling their
Owners: add, remove, re-grant, and the grants following an edit of the app's scopes. Callers
check `apps.grant` in the org (orgs/permissions.py); it is the Owners' alone, and Owners may
always widen a grant in their org, so adding and re-granting keep DESIGN.md §2's rule."""

from django.contrib.auth.models import User
from django.db import transaction
from django.urls import reverse
from django.utils.text import Truncator

from oauthapps import scopes as scope_grammar
from oauthapps.models import AppGrant, OAuthApp
from oauthapps.selectors import grant_is_pending, service_names
from oauthapps.tokens.services import issued_tokens_revoke_for_org
from orgs import permissions
from orgs.models import Organization
from orgs.selectors import organization_owners, organization_service_slugs
from orgs.services import audit_record, notification_send


def _title(text: str) -> str:
    # Names are up to 100 characters each; a notification title holds 200.
    return Truncator(text).chars(200)


def _owners(org: Organization) -> list[User]:
    return organization_owners(org=org)


def _app_url(app: OAuthApp, org: Organization) -> str:
    return reverse("oauthapps:app_detail", args=[org.pk, app.pk])


@transaction.atomic
def oauth_app_add_to_org(
    *, app: OAuthApp, org: Organization, added_by: User
) -> tuple[AppGrant, list[str]]:
    """Add the app to `org`, granting it the app's current scopes there (a snapshot).

    Idempotent, also under concurrency: the app's row is locked first, so two requests adding
    it at once make one grant, one audit event and one round of notifications. Returns the grant
    and the service slugs named in the scopes that the org does not contain. Every Owner of the
    org is notified (with a warning listing those services when there are any).
    """
    OAuthApp.objects.select_for_update(no_key=True).filter(pk=app.pk).first()
    grant, created = AppGrant.objects.get_or_create(
        app=app,
        organization=org,
        defaults={"scopes": list(app.scopes), "granted_by": added_by},
    )
    missing = scope_grammar.missing_services(
        grant.scopes, organization_service_slugs(org=org)
    )
    if created:
        audit_record(
            org=org,
            actor=added_by,
            action="app.add_to_org",
            target=app,
            data={"client_id": app.client_id, "scopes": grant.scopes},
        )
        notify_owners_app_added(app=app, org=org, actor=added_by, missing=missing)
    return grant, missing


@transaction.atomic
def oauth_app_remove_from_org(
    *, app: OAuthApp, org: Organization, removed_by: User
) -> int | None:
    """Take the app out of `org`: its grant goes and its tokens for that org are revoked at once
    (other orgs are untouched). Owners of the org are notified. Returns how many tokens were
    revoked, or None when the app was not added there (nothing changes)."""
    deleted, _ = AppGrant.objects.filter(app=app, organization=org).delete()
    if not deleted:
        return None
    revoked = issued_tokens_revoke_for_org(app=app, org=org)
    audit_record(
        org=org,
        actor=removed_by,
        action="app.remove_from_org",
        target=app,
        data={"client_id": app.client_id, "tokens_revoked": revoked},
    )
    notify_owners_app_removed(app=app, org=org, actor=removed_by)
    return revoked


@transaction.atomic
def oauth_app_regrant(
    *, grant: AppGrant, granted_by: User
) -> tuple[AppGrant, list[str]]:
    """Grant the app's current scopes in the grant's org, replacing the snapshot its Owner
    approved before. New tokens for that org carry them; issued ones keep theirs until they
    expire. Returns the grant and the services the org lacks (as oauth_app_add_to_org)."""
    grant = AppGrant.objects.select_for_update().select_related("app").get(pk=grant.pk)
    app = grant.app
    missing = scope_grammar.missing_services(
        app.scopes, organization_service_slugs(org=grant.organization)
    )
    if not grant_is_pending(grant=grant, app=app):
        return grant, missing
    before = list(grant.scopes)
    grant.scopes = list(app.scopes)
    grant.granted_by = granted_by
    grant.save(update_fields=["scopes", "granted_by", "updated_at"])
    audit_record(
        org=grant.organization,
        actor=granted_by,
        action="app.regrant",
        target=app,
        data={"client_id": app.client_id, "from": before, "to": grant.scopes},
    )
    return grant, missing


def grants_follow_scope_change(
    *, app: OAuthApp, editor: User, previous_scopes: list[str]
) -> list[str]:
    """Bring the app's grants in line with its new scopes (`app.scopes`, just saved; run inside
    the edit's transaction). Every grant loses at once the scopes the app no longer asks for.
    The owning org's grant also gains the new ones when the editor may widen it there
    (permissions.may_widen_grant); otherwise they wait for an Owner's re-grant, as in every other
    org. The Owners of each org where this edit leaves new scopes waiting are notified.

    Returns the scopes waiting for an Owner in the owning org (none when the grant followed, or
    when the app is not added there).
    """
    wanted = set(app.scopes)
    added = wanted - set(previous_scopes)
    waiting: list[str] = []
    grants = (
        AppGrant.objects.select_for_update(of=("self",))
        .filter(app=app)
        .select_related("organization")
        .order_by("pk")
    )
    for grant in grants:
        granted = set(grant.scopes)
        is_owning_org = grant.organization_id == app.organization_id
        may_widen = is_owning_org and _may_widen(editor, grant, wanted)
        kept = wanted if may_widen else granted & wanted
        if kept != granted:
            grant.scopes = scope_grammar.normalize(kept)
            grant.save(update_fields=["scopes", "updated_at"])
        pending = wanted - kept
        if is_owning_org:
            waiting = scope_grammar.normalize(pending)
        if not pending & added:
            continue  # nothing new waits here: no news for its Owners
        if is_owning_org:
            notify_owners_widening_waits(
                app=app,
                editor=editor,
                added=scope_grammar.normalize(pending & added),
                role=permissions.highest_org_role(granted | wanted),
            )
        else:
            notify_owners_regrant(app=app, org=grant.organization)
    return waiting


def _may_widen(editor: User, grant: AppGrant, wanted: set[str]) -> bool:
    if wanted <= set(grant.scopes):
        return True  # narrowing: no role needed, no query
    membership = permissions.membership_of(editor, grant.organization_id)
    if membership is None:
        return True  # staff or a script: not bounded by a member's role (see oauth_app_create)
    return permissions.may_widen_grant(membership, granted=grant.scopes, wanted=wanted)


def notify_owners_app_added(
    *, app: OAuthApp, org: Organization, actor: User, missing: list[str]
) -> None:
    """Tell every Owner of `org` the app was added there; a warning if services are missing."""
    if missing:
        listed, plural = service_names(slugs=missing), len(missing) > 1
        title = _title(
            f"{app.name} was added to {org.name}, which does not include all services in its scope"
        )
        body = (
            f"{org.name} does not contain {listed}, named in the scopes of {app.name}. "
            f"Tokens for {org.name} will not carry {'those scopes' if plural else 'that scope'} "
            f"until an Owner adds the service{'s' if plural else ''} on the organization's Services page."
        )
        link, level = reverse("orgs:service_list", args=[org.pk]), "warning"
    else:
        title = _title(f"{app.name} was added to {org.name}")
        body = (
            f"{actor.email} added the OAuth app {app.name} (owned by {app.organization.name}) to "
            f"{org.name}. It can now get access tokens for {org.name} with the scopes granted there."
        )
        link, level = _app_url(app, org), "info"
    for owner in _owners(org):
        notification_send(
            user=owner, org=org, level=level, title=title, body=body, link=link
        )


def notify_owners_app_removed(
    *, app: OAuthApp, org: Organization, actor: User, deleted: bool = False
) -> None:
    """Tell every Owner of `org` the app no longer has access there (removed, or deleted)."""
    how = "was deleted" if deleted else f"was removed from {org.name}"
    by = (
        f"{actor.email} deleted it in {app.organization.name}"
        if deleted
        else f"{actor.email} removed it"
    )
    for owner in _owners(org):
        notification_send(
            user=owner,
            org=org,
            title=_title(f"{app.name} {how}"),
            body=(
                f"{by}. Its access tokens for {org.name} were revoked and it can no longer get "
                "new ones there."
            ),
            link=reverse("oauthapps:app_list", args=[org.pk]),
        )


def notify_owners_regrant(*, app: OAuthApp, org: Organization) -> None:
    """Tell every Owner of `org` that the app's scopes changed and wait for their re-grant."""
    for owner in _owners(org):
        notification_send(
            user=owner,
            org=org,
            title=_title(f"{app.name} asks for changed scopes in {org.name}"),
            body=(
                f"{app.organization.name} changed the scopes of {app.name}. Until an Owner of "
                f"{org.name} re-grants them on the app's page, its tokens for {org.name} keep the "
                "scopes granted before."
            ),
            link=_app_url(app, org),
        )


def notify_owners_widening_waits(
    *, app: OAuthApp, editor: User, added: list[str], role: str | None
) -> None:
    """Tell every Owner of the app's owning org that an edit by someone whose role does not
    cover it widened the app's scopes, and that the widening waits for their re-grant. `role`:
    the highest organization role the app holds or would hold there."""
    org = app.organization
    holds = (
        f"an app that holds or would hold {permissions.role_phrase(role)}"
        if role
        else "the app"
    )
    for owner in _owners(org):
        notification_send(
            user=owner,
            org=org,
            level="warning",
            title=_title(f"{app.name} asks for wider scopes in {org.name}"),
            body=(
                f"{editor.email} added {', '.join(added)} to the scopes of {app.name}. That "
                f"widens {holds}, more than their own role in {org.name} allows, so it waits "
                f"for an Owner: until an Owner of {org.name} re-grants on the app's page, its "
                "tokens keep the scopes granted before."
            ),
            link=_app_url(app, org),
        )
