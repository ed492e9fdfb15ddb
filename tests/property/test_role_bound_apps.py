"""Nobody gains more through an app than their own role (DESIGN.md §2), as a stateful property:
whatever console actions an Administrator or a Developer takes, in any order — create apps, edit
their scopes, regenerate and rotate secrets, add apps to organizations, re-grant, remove — no
token a script gets with the secrets they were shown carries an organization role above their
own role in the token's organization.

Everything goes through the views with the Django test client, and tokens come from
POST /oauth/token with HTTP Basic, as a script would ask for them. An Owner sets the stage: apps
of every tier, granted in the org, whose secrets the actor never saw. The actor is also the
Owner of an organization of their own, where adding and re-granting are theirs to do.
"""

import base64
import itertools
import json
import re

import pytest
from django.core.cache import caches
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from oauthapps.models import OAuthApp
from oauthapps.services import (
    oauth_app_add_to_org,
    oauth_app_create,
    secret_fingerprint,
)
from oauthapps.tokens import state
from orgs.models import Membership, Organization, OrganizationService, Service
from orgs.permissions import ROLE_ORDER, highest_org_role
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

SCOPES = ["org:owner", "org:admin", "org:member", "svc:compute:viewer"]
SECRET_IN_PAGE = re.compile(r'<textarea id="credentials-client-secret"[^>]*>([^<]*)<')
MACHINE_SETTINGS = settings(
    max_examples=12,
    stateful_step_count=10,
    deadline=None,
    derandomize=True,  # the same sequences on every run: CI stays repeatable
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
_worlds = itertools.count(1)


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


class ActorTakesConsoleActions(RuleBasedStateMachine):
    @initialize(role=st.sampled_from(["admin", "developer"]))
    def world(self, role: str) -> None:
        caches["default"].clear()
        state.clear()
        n = next(_worlds)
        self.org = OrganizationFactory(name=f"Acme {n}")
        owner = MembershipFactory(
            organization=self.org, role=Membership.Role.OWNER
        ).user
        actor = UserFactory()
        MembershipFactory(
            organization=self.org,
            user=actor,
            role=Membership.Role.ADMIN if role == "admin" else Membership.Role.MEMBER,
            is_developer=role == "developer",
        )
        self.own_org = OrganizationFactory(name=f"Actor's own {n}")
        MembershipFactory(
            organization=self.own_org, user=actor, role=Membership.Role.OWNER
        )
        compute = Service.objects.get(slug="compute")
        for org in (self.org, self.own_org):
            OrganizationService.objects.create(organization=org, service=compute)
        self.apps: list[OAuthApp] = []
        for tier in ("member", "admin", "owner"):
            app, _secret = oauth_app_create(
                organization=self.org,
                created_by=owner,
                name=f"{tier} tier",
                access_token_ttl_minutes=30,
                scopes=[f"org:{tier}", "svc:compute:viewer"],
            )
            oauth_app_add_to_org(app=app, org=self.org, added_by=owner)
            self.apps.append(app)
        self.roles = {
            str(self.org.pk): Membership.Role.ADMIN
            if role == "admin"
            else Membership.Role.MEMBER,
            str(self.own_org.pk): Membership.Role.OWNER,
        }
        self.client = Client()
        self.client.force_login(actor)
        self.held: dict[
            str, str
        ] = {}  # client_id -> the newest secret the actor was shown
        self.created = 0

    # Helpers ---------------------------------------------------------------------------

    def _app(self, index: int) -> OAuthApp:
        return OAuthApp.objects.get(pk=self.apps[index % len(self.apps)].pk)

    def _url(self, name: str, app: OAuthApp, org: Organization | None = None) -> str:
        return reverse(f"oauthapps:{name}", args=[(org or self.org).pk, app.pk])

    def _keep_secret(self, app: OAuthApp, response) -> None:
        assert response.status_code in (200, 302, 403), response.status_code
        match = SECRET_IN_PAGE.search(response.content.decode())
        if match:
            self.held[app.client_id] = match.group(1).strip()

    # What the actor does ------------------------------------------------------------------

    @rule(scopes=st.lists(st.sampled_from(SCOPES), min_size=1, max_size=3, unique=True))
    def create_an_app(self, scopes: list[str]) -> None:
        self.created += 1
        name = f"Created {self.created}"
        response = self.client.post(
            reverse("oauthapps:app_create", args=[self.org.pk]),
            {
                "step": "review",
                "nav": "next",
                "type-app_type": "server_to_server",
                "register-name": name,
                "ttl-access_token_ttl_minutes": "30",
                "scopes-scopes": scopes,
            },
        )
        app = OAuthApp.objects.filter(organization=self.org, name=name).first()
        if app is not None:
            self.apps.append(app)
            self._keep_secret(app, response)

    @rule(
        index=st.integers(0, 20),
        scopes=st.lists(st.sampled_from(SCOPES), min_size=1, max_size=4, unique=True),
    )
    def edit_its_scopes(self, index: int, scopes: list[str]) -> None:
        app = self._app(index)
        response = self.client.post(
            self._url("app_edit", app),
            {
                "register-name": app.name,
                "register-description": "",
                "ttl-access_token_ttl_minutes": "30",
                "scopes-scopes": scopes,
            },
        )
        assert response.status_code in (200, 302)

    @rule(index=st.integers(0, 20))
    def regenerate_its_secret(self, index: int) -> None:
        app = self._app(index)
        response = self.client.post(
            self._url("app_regenerate_secret", app),
            {"fingerprint": secret_fingerprint(app)},
        )
        self._keep_secret(app, response)

    @rule(index=st.integers(0, 20))
    def rotate_its_secret(self, index: int) -> None:
        app = self._app(index)
        self.client.post(self._url("app_end_secret_overlap", app))
        response = self.client.post(
            self._url("app_rotate_secret", app),
            {"fingerprint": secret_fingerprint(app), "overlap_hours": "1"},
        )
        self._keep_secret(app, response)

    @rule(index=st.integers(0, 20), own=st.booleans())
    def add_it_to_an_org(self, index: int, own: bool) -> None:
        app = self._app(index)
        if own:  # from the app's page: the orgs where the actor is an Owner
            response = self.client.post(
                self._url("app_add_to_orgs", app),
                {"organizations": [str(self.own_org.pk)]},
            )
        else:
            response = self.client.post(self._url("app_add_to_org", app))
        assert response.status_code in (200, 302, 403)

    @rule(index=st.integers(0, 20), own=st.booleans())
    def re_grant_it(self, index: int, own: bool) -> None:
        app = self._app(index)
        org = self.own_org if own else self.org
        response = self.client.post(self._url("app_regrant", app, org))
        assert response.status_code in (302, 403, 404)

    @precondition(lambda self: self.held)
    @rule(index=st.integers(0, 20))
    def remove_it_from_their_own_org(self, index: int) -> None:
        app = self._app(index)
        response = self.client.post(self._url("app_remove_from_org", app, self.own_org))
        assert response.status_code in (302, 404)

    # What must hold after every step ----------------------------------------------------

    @invariant()
    def no_token_carries_a_role_above_the_actors(self) -> None:
        for client_id, secret in self.held.items():
            for org_id, own_role in self.roles.items():
                response = Client().post(
                    "/oauth/token",
                    f"grant_type=client_credentials&orgId={org_id}",
                    content_type="application/x-www-form-urlencoded",
                    headers={"Authorization": basic(client_id, secret)},
                )
                if response.status_code != 200:
                    assert response.status_code in (400, 401), response.content
                    continue
                granted = highest_org_role(
                    json.loads(response.content)["scope"].split()
                )
                if granted is not None:
                    assert ROLE_ORDER.index(granted) <= ROLE_ORDER.index(own_role), (
                        f"a token for {client_id} in {org_id} carries {granted}, "
                        f"above the actor's {own_role}"
                    )


@pytest.mark.django_db
def test_no_sequence_of_console_actions_climbs_above_the_actors_role(settings):
    # The machine asks for tokens after every step: no rate limit in the way.
    settings.CONSOLE_TOKEN_RATE_PER_CLIENT = 0
    settings.CONSOLE_TOKEN_RATE_PER_IP = 0
    settings.CONSOLE_TOKEN_FAIL_RATE_PER_IP = 0
    run_state_machine_as_test(ActorTakesConsoleActions, settings=MACHINE_SETTINGS)
