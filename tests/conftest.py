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
