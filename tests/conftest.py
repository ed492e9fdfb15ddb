from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from orgs.models import Membership, Organization
from tests.factories import MembershipFactory, OrganizationFactory


@pytest.fixture
def org(db) -> Organization:
    return OrganizationFactory(name="Acme Corp")


@pytest.fixture
def owner(org) -> User:
    return MembershipFactory(
        organization=org, role=Membership.Role.OWNER, user__email="owner@example.com"
    ).user


@pytest.fixture
def administrator(org) -> User:
    return MembershipFactory(
        organization=org,
        role=Membership.Role.ADMIN,
        user__email="administrator@example.com",
    ).user


@pytest.fixture
def developer(org) -> User:
    return MembershipFactory(
        organization=org,
        role=Membership.Role.MEMBER,
        is_developer=True,
        user__email="developer@example.com",
    ).user


@pytest.fixture
def member(org) -> User:
    return MembershipFactory(
        organization=org, role=Membership.Role.MEMBER, user__email="member@example.com"
    ).user


@pytest.fixture
def outsider(db) -> User:
    """Owner of another org, member of nothing in `org`."""
    return MembershipFactory(
        role=Membership.Role.OWNER, user__email="outsider@example.com"
    ).user


@pytest.fixture
def client_as(db) -> Callable[[User | None], Client]:
    def make(user: User | None) -> Client:
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    return make


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> None:
    """Each test starts with no rate-limit counts (console/ratelimit/ keeps them in the cache,
    which outlives a test)."""
    from django.core.cache import caches

    caches["default"].clear()


def _single_threaded_live_server_on_sqlite() -> None:
    """On SQLite in memory, the live server's threads share the tests' one connection: two
    requests at once (a browser's htmx request while the next click starts another) then read
    each other's rows, and a page fails at random. One request at a time there (Django's server
    then closes each connection after its answer, so browsers do not wait on it)."""
    from django.conf import settings
    from django.core.servers.basehttp import WSGIServer
    from django.test.testcases import LiveServerThread

    class OneRequestAtATime(WSGIServer):
        def __init__(self, *args, connections_override=None, **kwargs):
            # (LiveServerThread has given its own thread the tests' connections already.)
            super().__init__(*args, **kwargs)

    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        LiveServerThread.server_class = OneRequestAtATime


def pytest_configure(config) -> None:
    _single_threaded_live_server_on_sqlite()
