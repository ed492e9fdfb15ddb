"""Who gets what on every org-scoped URL: one table, one parametrized test.

Each row of ROUTES is (URL name, kwargs builder, method, expected status per persona [, POST data
builder]). Builders receive the `World` below (the org, its people and a few objects in it).

To add a URL: append a row, usually with one of the shorthands
    everyone(200)                      any member may; outsiders 404; anonymous → sign in
    only("owner", ok=302)              the listed roles may; other members 403
and, if the view needs an object, add it to `World` (as the OAuth app owned by the org). A URL may
have several rows (GET and POST).
`test_every_org_scoped_url_is_in_the_matrix` fails until every URL with an `org_id` is listed.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from console.accounts.models import Invitation
from console.accounts.services import invitation_create
from oauthapps.models import AppGrant, OAuthApp
from oauthapps.services import (
    oauth_app_add_to_org,
    oauth_app_create,
    oauth_app_update,
    secret_fingerprint,
)
from orgs import services
from orgs.models import Membership, Organization, Service
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory
from tests.tokens.assertions import key_pair

PERSONAS = ("owner", "administrator", "developer", "member", "outsider", "anonymous")
MEMBER_ROLES = ("owner", "administrator", "developer", "member")
SIGN_IN = "sign-in"  # expected "status" for anonymous: a redirect to the login page


@dataclass
class World:
    org: Organization
    people: dict[str, User]
    target: Membership  # a plain member that member actions act on
    service: Service  # a service the org contains
    newcomer: User  # signed up, in no org yet
    app: OAuthApp  # an OAuth app the org owns
    added_app: (
        OAuthApp  # owned by another org, added to this one; its scopes changed since
    )
    spare_org: Organization  # another org the Owner persona owns (to add apps to)
    invitation: Invitation  # a pending invitation to the org, as a Member
    key_app: OAuthApp  # an app the org owns that authenticates with one public key
    jwks_app: OAuthApp  # an app the org owns that takes its public keys from a JWKS URL


def everyone(ok: int) -> dict[str, int | str]:
    """Any member of the org may; outsiders get 404 and anonymous visitors the sign-in page."""
    return {**dict.fromkeys(MEMBER_ROLES, ok), "outsider": 404, "anonymous": SIGN_IN}


def only(*roles: str, ok: int) -> dict[str, int | str]:
    """Only these members may; other members get 403, outsiders 404, anonymous the sign-in page."""
    return {role: ok if role in roles else 403 for role in MEMBER_ROLES} | {
        "outsider": 404,
        "anonymous": SIGN_IN,
    }


def signed_in(ok: int) -> dict[str, int | str]:
    """Pages of the signed-in user rather than of an org (every persona has an account)."""
    return {**dict.fromkeys(MEMBER_ROLES, ok), "outsider": ok, "anonymous": SIGN_IN}


def org(w: World) -> dict[str, Any]:
    return {"org_id": w.org.pk}


def org_and_target(w: World) -> dict[str, Any]:
    return {"org_id": w.org.pk, "membership_id": w.target.pk}


def org_and_invitation(w: World) -> dict[str, Any]:
    return {"org_id": w.org.pk, "invitation_id": w.invitation.pk}


def org_and_service(w: World) -> dict[str, Any]:
    return {"org_id": w.org.pk, "slug": w.service.slug}


def org_and_app(w: World) -> dict[str, Any]:
    return {"org_id": w.org.pk, "app_id": w.app.pk}


def org_and_added_app(w: World) -> dict[str, Any]:
    return {"org_id": w.org.pk, "app_id": w.added_app.pk}


def org_and_key_app(w: World) -> dict[str, Any]:
    return {"org_id": w.org.pk, "app_id": w.key_app.pk}


def org_and_jwks_app(w: World) -> dict[str, Any]:
    return {"org_id": w.org.pk, "app_id": w.jwks_app.pk}


MANAGERS = ("owner", "administrator", "developer")


def managers_get_404() -> dict[str, int | str]:
    """An app only added to the org: managing it through this org's URL is a 404 for those who
    may manage apps (it is not this org's to change); others are refused before the lookup."""
    return only(*MANAGERS, ok=404)


def edit_data(w: World) -> dict[str, Any]:
    return {
        "register-name": "Matrix app renamed",
        "register-description": "",
        "ttl-access_token_ttl_minutes": "20",
        "scopes-scopes": ["org:member"],
    }


@dataclass(frozen=True)
class Route:
    name: str
    kwargs: Callable[[World], dict[str, Any]]
    method: str
    expect: dict[str, int | str]
    data: Callable[[World], dict[str, Any]] = lambda w: {}


ROUTES: list[Route] = [
    # Organization
    Route("orgs:org_overview", org, "get", everyone(200)),
    # Members
    Route("orgs:member_list", org, "get", everyone(200)),
    Route(
        "accounts:invitation_create",
        org,
        "post",
        only("owner", "administrator", ok=302),
        data=lambda w: {"email": w.newcomer.email, "role": "member"},
    ),
    Route(
        "accounts:invitation_resend",
        org_and_invitation,
        "post",
        only("owner", "administrator", ok=302),
    ),
    Route(
        "accounts:invitation_revoke",
        org_and_invitation,
        "post",
        only("owner", "administrator", ok=302),
    ),
    # The org's sign-in policy
    Route(
        "accounts:org_mfa_policy",
        org,
        "post",
        only("owner", ok=302),
        data=lambda w: {"require_mfa": ""},
    ),
    # The org's client secret expiry policy
    Route(
        "orgs:org_secret_policy",
        org,
        "post",
        only("owner", ok=302),
        data=lambda w: {"secret_expiry_days": "90"},
    ),
    Route(
        "orgs:member_change",
        org_and_target,
        "post",
        only("owner", "administrator", ok=302),
        data=lambda w: {"role": "admin", "is_developer": "on"},
    ),
    Route(
        "orgs:member_remove",
        org_and_target,
        "post",
        only("owner", "administrator", ok=302),
    ),
    # Services
    Route("orgs:service_list", org, "get", everyone(200)),
    Route("orgs:service_add", org_and_service, "post", only("owner", ok=302)),
    Route("orgs:service_remove", org_and_service, "post", only("owner", ok=302)),
    # OAuth apps
    Route("oauthapps:app_list", org, "get", everyone(200)),
    Route(
        "oauthapps:app_create",
        org,
        "get",
        only("owner", "administrator", "developer", ok=200),
    ),
    Route(
        "oauthapps:app_create",
        org,
        "post",
        only("owner", "administrator", "developer", ok=200),
        data=lambda w: {"nav": "next"},  # an incomplete step re-renders with errors
    ),
    Route("oauthapps:app_detail", org_and_app, "get", everyone(200)),
    Route("oauthapps:app_add_to_org", org_and_app, "get", only("owner", ok=200)),
    Route("oauthapps:app_add_to_org", org_and_app, "post", only("owner", ok=302)),
    # Managing an app the org owns (issue 5)
    Route("oauthapps:app_edit", org_and_app, "get", only(*MANAGERS, ok=200)),
    Route(
        "oauthapps:app_edit", org_and_app, "post", only(*MANAGERS, ok=302), edit_data
    ),
    Route("oauthapps:app_delete", org_and_app, "get", only(*MANAGERS, ok=200)),
    Route(
        "oauthapps:app_delete",
        org_and_app,
        "post",
        only(*MANAGERS, ok=302),
        data=lambda w: {"confirm_name": w.app.name},
    ),
    Route(
        "oauthapps:app_regenerate_secret", org_and_app, "get", only(*MANAGERS, ok=200)
    ),
    Route(
        "oauthapps:app_regenerate_secret",
        org_and_app,
        "post",
        only(*MANAGERS, ok=200),  # the app page with the new secret in the pop-up
        data=lambda w: {"fingerprint": secret_fingerprint(w.app)},
    ),
    Route("oauthapps:app_rotate_secret", org_and_app, "get", only(*MANAGERS, ok=200)),
    Route(
        "oauthapps:app_rotate_secret",
        org_and_app,
        "post",
        only(*MANAGERS, ok=200),
        data=lambda w: {
            "fingerprint": secret_fingerprint(w.app),
            "overlap_hours": "48",
        },
    ),
    Route(
        "oauthapps:app_end_secret_overlap", org_and_app, "post", only(*MANAGERS, ok=302)
    ),
    # The public keys of a private_key_jwt app
    Route(
        "oauthapps:app_add_public_key", org_and_key_app, "get", only(*MANAGERS, ok=200)
    ),
    Route(
        "oauthapps:app_add_public_key",
        org_and_key_app,
        "post",
        only(*MANAGERS, ok=302),
        data=lambda w: {"public_keys": key_pair("EdDSA").public_pem},
    ),
    Route(
        "oauthapps:app_remove_public_key",
        org_and_key_app,
        "post",
        only(*MANAGERS, ok=302),  # refused with a message: it is the app's only key
        data=lambda w: {"thumbprint": w.key_app.public_keys[0]["thumbprint"]},
    ),
    Route(
        "oauthapps:app_change_jwks_uri",
        org_and_jwks_app,
        "get",
        only(*MANAGERS, ok=200),
    ),
    Route(
        "oauthapps:app_change_jwks_uri",
        org_and_jwks_app,
        "post",
        only(*MANAGERS, ok=200),  # the form's error: loopback is refused in production
        data=lambda w: {"jwks_uri": "https://127.0.0.1/jwks.json"},
    ),
    Route("oauthapps:app_add_public_key", org_and_added_app, "get", managers_get_404()),
    # ... and the same through an org the app was only added to: not this org's to change
    Route("oauthapps:app_detail", org_and_added_app, "get", everyone(200)),
    Route("oauthapps:app_edit", org_and_added_app, "get", managers_get_404()),
    Route(
        "oauthapps:app_edit", org_and_added_app, "post", managers_get_404(), edit_data
    ),
    Route("oauthapps:app_delete", org_and_added_app, "post", managers_get_404()),
    Route(
        "oauthapps:app_regenerate_secret", org_and_added_app, "post", managers_get_404()
    ),
    Route("oauthapps:app_rotate_secret", org_and_added_app, "post", managers_get_404()),
    Route(
        "oauthapps:app_end_secret_overlap",
        org_and_added_app,
        "post",
        managers_get_404(),
    ),
    Route("oauthapps:app_add_to_org", org_and_added_app, "get", only("owner", ok=404)),
    # Which orgs an app is in: Owners of the org in question only
    Route("oauthapps:app_add_to_orgs", org_and_app, "get", everyone(200)),
    Route(
        "oauthapps:app_add_to_orgs",
        org_and_app,
        "post",
        # Only the Owner of spare_org may add it there; for the others the org is not on offer
        # and the forged choice is refused with the form's error (nothing is added).
        {**everyone(200), "owner": 302},
        data=lambda w: {"organizations": [str(w.spare_org.pk)]},
    ),
    Route("oauthapps:app_add_to_orgs", org_and_added_app, "get", everyone(200)),
    Route("oauthapps:app_add_by_client_id", org, "get", only("owner", ok=200)),
    Route(
        "oauthapps:app_add_by_client_id",
        org,
        "post",
        only("owner", ok=302),
        data=lambda w: {"client_id": w.app.client_id},
    ),
    Route(
        "oauthapps:app_remove_from_org", org_and_added_app, "get", only("owner", ok=200)
    ),
    Route(
        "oauthapps:app_remove_from_org",
        org_and_added_app,
        "post",
        only("owner", ok=302),
    ),
    # The owned app was not added to its own org in this world: nothing to remove (404).
    Route("oauthapps:app_remove_from_org", org_and_app, "post", only("owner", ok=404)),
    Route("oauthapps:app_regrant", org_and_added_app, "post", only("owner", ok=302)),
    Route("oauthapps:app_regrant", org_and_app, "post", only("owner", ok=404)),
    # Audit log
    Route("oauthapps:audit_log", org, "get", only("owner", "administrator", ok=200)),
    Route(
        "oauthapps:audit_log_export", org, "get", only("owner", "administrator", ok=200)
    ),
    # Not org-scoped, listed so that anonymous access is checked too
    Route("home", lambda w: {}, "get", signed_in(302)),
    Route("orgs:org_create", lambda w: {}, "get", signed_in(200)),
    Route("orgs:notification_list", lambda w: {}, "get", signed_in(200)),
    Route("orgs:notifications_read_all", lambda w: {}, "post", signed_in(302)),
]


@pytest.fixture
def people(owner, administrator, developer, member, outsider) -> dict[str, User]:
    """Every persona but `anonymous`, by name."""
    return {
        "owner": owner,
        "administrator": administrator,
        "developer": developer,
        "member": member,
        "outsider": outsider,
    }


@pytest.fixture
def world(org, owner, people) -> World:
    target = MembershipFactory(organization=org, role=Membership.Role.MEMBER)
    service = Service.objects.get(slug="compute")
    services.organization_service_add(org=org, service=service, added_by=owner)
    app, _secret = oauth_app_create(
        organization=org,
        created_by=owner,
        name="Matrix app",
        access_token_ttl_minutes=30,
        scopes=["org:member", "svc:compute:viewer"],
    )
    elsewhere = OrganizationFactory(name="Elsewhere Inc")
    elsewhere_owner = MembershipFactory(
        organization=elsewhere, role=Membership.Role.OWNER
    ).user
    added_app, _secret = oauth_app_create(
        organization=elsewhere,
        created_by=elsewhere_owner,
        name="Partner app",
        access_token_ttl_minutes=30,
        scopes=["org:member"],
    )
    oauth_app_add_to_org(app=added_app, org=org, added_by=owner)
    oauth_app_update(
        app=added_app,
        updated_by=elsewhere_owner,
        name="Partner app",
        description="",
        access_token_ttl_minutes=30,
        scopes=["org:member", "svc:compute:viewer"],
    )
    invitation = invitation_create(
        org=org,
        email="invited@example.com",
        role=Membership.Role.MEMBER,
        is_developer=False,
        invited_by=Membership.objects.get(organization=org, user=owner),
        accept_url_for=lambda key: f"http://testserver/invitations/{key}/",
    )
    spare_org = OrganizationFactory(name="Spare Org")
    MembershipFactory(organization=spare_org, user=owner, role=Membership.Role.OWNER)
    key_app, _none = oauth_app_create(
        organization=org,
        created_by=owner,
        name="Matrix key app",
        access_token_ttl_minutes=30,
        scopes=["org:member"],
        client_auth="private_key_jwt",
        public_keys=key_pair("ES256").records(),
    )
    jwks_app, _none = oauth_app_create(
        organization=org,
        created_by=owner,
        name="Matrix JWKS app",
        access_token_ttl_minutes=30,
        scopes=["org:member"],
        client_auth="private_key_jwt",
        jwks_uri="https://93.184.216.34/jwks.json",  # an address: no lookup, no fetch
    )
    return World(
        org=org,
        people=people,
        target=target,
        service=service,
        newcomer=UserFactory(),
        app=app,
        added_app=added_app,
        spare_org=spare_org,
        invitation=invitation,
        key_app=key_app,
        jwks_app=jwks_app,
    )


CASES = [
    pytest.param(route, persona, id=f"{route.method.upper()} {route.name} as {persona}")
    for route in ROUTES
    for persona in PERSONAS
]


@pytest.mark.parametrize(("route", "persona"), CASES)
def test_permission_matrix(client_as, world, route, persona):
    user = None if persona == "anonymous" else world.people[persona]
    url = reverse(route.name, kwargs=route.kwargs(world))
    response = getattr(client_as(user), route.method)(url, route.data(world))
    expected = route.expect[persona]
    if expected == SIGN_IN:
        assert response.status_code == 302
        assert response.url.startswith(reverse("login") + "?next=")
    else:
        assert response.status_code == expected, response.content[:300]


def _url_patterns(
    resolver: URLResolver, prefix: str = ""
) -> list[tuple[str, URLPattern]]:
    found = []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            namespace = f"{prefix}{entry.namespace}:" if entry.namespace else prefix
            found += _url_patterns(entry, namespace)
        elif entry.name:
            found.append((f"{prefix}{entry.name}", entry))
    return found


# The token-authenticated resource API has its own tests (bearer tokens, not sessions).
NOT_CONSOLE_PAGES = ("api:",)


def test_every_org_scoped_url_is_in_the_matrix():
    org_scoped = {
        name
        for name, pattern in _url_patterns(get_resolver())
        if "org_id" in pattern.pattern.converters
        and not name.startswith(NOT_CONSOLE_PAGES)
    }
    missing = sorted(org_scoped - {route.name for route in ROUTES})
    assert not missing, f"add these URLs to ROUTES in {__name__}: {missing}"


def test_every_route_lists_every_persona():
    for route in ROUTES:
        assert set(route.expect) == set(PERSONAS), route.name


# --- Nobody gains more through an app than their own role (DESIGN.md §2) ----------------------
#
# The same actions on apps of three tiers: the highest organization role an app holds (each
# app below holds org:<tier> and svc:compute:viewer, granted in the org). A new secret (create,
# regenerate, rotate) needs the actor's own role to be at least the tier; a widening edit by
# someone whose role is below it is saved but waits for an Owner's re-grant ("pending").

TIERS = ("member", "admin", "owner")
NEW_SECRET, REFUSED_STEP = "new secret", "refused on the scopes step"
APPLIED, PENDING, CREATED = "applied", "pending", "created"

#                              app tier:   member       admin        owner
TIER_POLICY: dict[tuple[str, str], tuple[int | str, ...]] = {
    ("regenerate", "owner"):         (NEW_SECRET, NEW_SECRET, NEW_SECRET),
    ("regenerate", "administrator"): (NEW_SECRET, NEW_SECRET, 403),
    ("regenerate", "developer"):     (NEW_SECRET, 403,        403),
    ("rotate", "owner"):             (NEW_SECRET, NEW_SECRET, NEW_SECRET),
    ("rotate", "administrator"):     (NEW_SECRET, NEW_SECRET, 403),
    ("rotate", "developer"):         (NEW_SECRET, 403,        403),
    ("widen", "owner"):              (APPLIED,    APPLIED,    APPLIED),
    ("widen", "administrator"):      (APPLIED,    APPLIED,    PENDING),
    ("widen", "developer"):          (APPLIED,    PENDING,    PENDING),
    ("create", "owner"):             (CREATED,    CREATED,    CREATED),
    ("create", "administrator"):     (CREATED,    CREATED,    REFUSED_STEP),
    ("create", "developer"):         (CREATED,    REFUSED_STEP, REFUSED_STEP),
}  # fmt: skip
TIER_ACTIONS = ("regenerate", "rotate", "widen", "create")
# Members without the Developer flag manage no apps; outsiders see no org.
for _action in TIER_ACTIONS:
    TIER_POLICY[_action, "member"] = (403,) * len(TIERS)
    TIER_POLICY[_action, "outsider"] = (404,) * len(TIERS)
    TIER_POLICY[_action, "anonymous"] = (SIGN_IN,) * len(TIERS)

TIER_CASES = [
    pytest.param(action, persona, tier, id=f"{action} {tier}-tier app as {persona}")
    for action in TIER_ACTIONS
    for persona in PERSONAS
    for tier in TIERS
]


def _tier_app(org: Organization, owner: User, tier: str) -> OAuthApp:
    services.organization_service_add(
        org=org, service=Service.objects.get(slug="compute"), added_by=owner
    )
    app, _secret = oauth_app_create(
        organization=org,
        created_by=owner,
        name=f"{tier.title()} tier app",
        access_token_ttl_minutes=30,
        scopes=[f"org:{tier}", "svc:compute:viewer"],
    )
    oauth_app_add_to_org(app=app, org=org, added_by=owner)
    return app


def _act(client, action: str, org: Organization, app: OAuthApp, tier: str):
    args = [org.pk, app.pk]
    if action == "regenerate":
        url = reverse("oauthapps:app_regenerate_secret", args=args)
        return client.post(url, {"fingerprint": secret_fingerprint(app)})
    if action == "rotate":
        url = reverse("oauthapps:app_rotate_secret", args=args)
        data = {"fingerprint": secret_fingerprint(app), "overlap_hours": "1"}
        return client.post(url, data)
    if action == "widen":
        data = {
            "register-name": app.name,
            "register-description": "",
            "ttl-access_token_ttl_minutes": "30",
            "scopes-scopes": [*app.scopes, "svc:compute:operator"],
        }
        return client.post(reverse("oauthapps:app_edit", args=args), data)
    data = {
        "step": "review",
        "nav": "next",
        "type-app_type": "server_to_server",
        "register-name": f"New {tier} app",
        "ttl-access_token_ttl_minutes": "30",
        "scopes-scopes": [f"org:{tier}"],
    }
    return client.post(reverse("oauthapps:app_create", args=[org.pk]), data)


def _outcome(response, action: str, app: OAuthApp, tier: str) -> int | str:
    if response.status_code == 302 and response.url.startswith(reverse("login")):
        return SIGN_IN
    if response.status_code in (403, 404):
        return response.status_code
    html = response.content.decode()
    if action in ("regenerate", "rotate"):
        assert response.status_code == 200, html[:300]
        assert 'id="credentials-client-secret"' in html
        return NEW_SECRET
    if action == "widen":
        assert response.status_code == 302, html[:300]
        grant = AppGrant.objects.get(app=app, organization=app.organization)
        return APPLIED if "svc:compute:operator" in grant.scopes else PENDING
    assert response.status_code == 200, html[:300]
    if "OAuth app created" in html:
        return CREATED
    assert 'name="step" value="scopes"' in html
    assert OAuthApp.objects.filter(name=f"New {tier} app").count() == 0
    return REFUSED_STEP


@pytest.mark.parametrize(("action", "persona", "tier"), TIER_CASES)
def test_what_an_app_tier_allows_each_role(
    client_as, org, owner, people, action, persona, tier
):
    app = _tier_app(org, owner, tier)
    response = _act(client_as(people.get(persona)), action, org, app, tier)
    expected = TIER_POLICY[action, persona][TIERS.index(tier)]
    assert _outcome(response, action, app, tier) == expected
    if expected == 403:
        assert app.client_secret == OAuthApp.objects.get(pk=app.pk).client_secret


def test_every_tier_action_lists_every_persona():
    for action in TIER_ACTIONS:
        for persona in PERSONAS:
            assert len(TIER_POLICY[action, persona]) == len(TIERS)
