"""Revocation services (remove from org, regenerate/delete, one token) and pruning."""

from datetime import timedelta
from io import StringIO
from uuid import UUID

import jwt
import pytest
from django.core.management import call_command
from django.utils import timezone

from oauthapps.models import AppGrant, IssuedToken
from oauthapps.tokens import selectors, services
from tests.factories import OrganizationFactory
from tests.tokens.fixtures import get_token


def jti_of(body: dict) -> UUID:
    return UUID(
        jwt.decode(body["access_token"], options={"verify_signature": False})["jti"]
    )


def is_active(jti: UUID) -> bool:
    return selectors.issued_token_active(jti=jti) is not None


@pytest.fixture
def other_org(db):
    return OrganizationFactory()


@pytest.fixture
def app(org, other_org, make_app):
    return make_app(org, scopes=["org:member"], add_to=[org, other_org])


def test_revoking_for_one_org_leaves_the_others(api_client, app, org, other_org):
    here = jti_of(get_token(api_client, app, orgId=str(org.pk)))
    there = jti_of(get_token(api_client, app, orgId=str(other_org.pk)))

    assert services.issued_tokens_revoke_for_org(app=app.app, org=other_org) == 1

    assert is_active(here)
    assert not is_active(there)


def test_removing_the_grant_refuses_tokens_even_before_revocation(
    api_client, app, other_org
):
    there = jti_of(get_token(api_client, app, orgId=str(other_org.pk)))
    AppGrant.objects.filter(app=app.app, organization=other_org).delete()
    assert not is_active(there)


def test_revoking_all_revokes_every_org(api_client, app, org, other_org):
    jtis = [
        jti_of(get_token(api_client, app, orgId=str(org.pk))),
        jti_of(get_token(api_client, app, orgId=str(other_org.pk))),
    ]
    assert services.issued_tokens_revoke_all(app=app.app) == 2
    assert not any(is_active(jti) for jti in jtis)
    app.app.refresh_from_db()
    assert app.app.tokens_revoked_before is not None


def test_revoking_all_also_catches_a_token_written_a_moment_later(api_client, app, org):
    """A token minted with the old secret just before the revocation, whose row lands after it."""
    jti = jti_of(get_token(api_client, app))
    row = IssuedToken.objects.get(jti=jti)
    row.delete()
    services.issued_tokens_revoke_all(app=app.app)
    row.save(force_insert=True)  # the late INSERT

    assert not is_active(jti)


def test_tokens_issued_after_revoking_all_work(api_client, app):
    services.issued_tokens_revoke_all(app=app.app)
    assert is_active(jti_of(get_token(api_client, app)))


def test_revoking_one_token(api_client, app):
    revoked = jti_of(get_token(api_client, app))
    kept = jti_of(get_token(api_client, app))

    assert services.issued_token_revoke(app=app.app, jti=revoked) is True
    assert services.issued_token_revoke(app=app.app, jti=revoked) is False

    assert not is_active(revoked)
    assert is_active(kept)


def test_one_app_cannot_revoke_anothers_token(api_client, app, org, make_app):
    other = make_app(org, scopes=["org:member"], add_to=[org])
    jti = jti_of(get_token(api_client, other))
    assert services.issued_token_revoke(app=app.app, jti=jti) is False
    assert is_active(jti)


def test_a_disabled_app_has_no_active_tokens(api_client, app):
    jti = jti_of(get_token(api_client, app))
    app.app.is_disabled = True
    app.app.save()
    assert not is_active(jti)


def test_pruning_deletes_only_long_expired_rows(api_client, app):
    fresh = jti_of(get_token(api_client, app))
    old = jti_of(get_token(api_client, app))
    IssuedToken.objects.filter(jti=old).update(
        expires_at=timezone.now() - timedelta(days=8)
    )

    assert (
        services.issued_tokens_prune(expired_before=timezone.now() - timedelta(days=7))
        == 1
    )
    assert list(IssuedToken.objects.values_list("jti", flat=True)) == [fresh]


def test_the_prune_command(api_client, app):
    old = jti_of(get_token(api_client, app))
    IssuedToken.objects.filter(jti=old).update(
        expires_at=timezone.now() - timedelta(days=3)
    )
    out = StringIO()
    call_command("prune_issued_tokens", "--days", "7", stdout=out)
    assert "Deleted 0" in out.getvalue()
    call_command("prune_issued_tokens", "--days", "2", stdout=out)
    assert "Deleted 1" in out.getvalue()
    assert not IssuedToken.objects.exists()


def test_tokens_of_a_deleted_app_are_gone(api_client, app):
    jti = jti_of(get_token(api_client, app))
    app.app.delete()
    assert not is_active(jti)


def test_deleting_an_app_deletes_its_token_rows(api_client, app):
    """The rows have no database-level foreign keys (the hot path's INSERT would lock the app's
    row): Django's cascade is what removes them."""
    get_token(api_client, app)
    app_id = app.app.pk
    app.app.delete()
    assert not IssuedToken.objects.filter(app_id=app_id).exists()


def test_deleting_an_organization_deletes_its_token_rows(api_client, app, org):
    get_token(api_client, app)
    org_id = org.pk
    org.delete()
    assert not IssuedToken.objects.filter(organization_id=org_id).exists()
