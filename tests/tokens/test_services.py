"""Revocation services (remove from org, regenerate/delete, one token), secret generations and
pruning."""

import json
from datetime import timedelta
from io import StringIO
from uuid import UUID

import jwt
import pytest
from django.core.management import call_command
from django.utils import timezone

from oauthapps.models import AppGrant
from oauthapps.services import oauth_app_regenerate_secret, oauth_app_rotate_secret
from oauthapps.tokens import selectors, services
from oauthapps.tokens.models import IssuedToken
from tests.factories import OrganizationFactory
from tests.tokens.fixtures import Credentials, get_token, post_form


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


def introspected_active(client, creds, token: str) -> bool:
    response = post_form(
        client, "/oauth/introspect", {"token": token}, Authorization=creds.basic
    )
    return json.loads(response.content)["active"]


def test_a_token_request_racing_a_regeneration_never_yields_a_working_old_secret_token(
    api_client, app, org, owner, monkeypatch
):
    """The race of a token request against a regeneration: the request authenticated with the
    old secret, then the regeneration committed before the token's row was recorded. Either the
    recording sees the change and the request is decided again (and refused), or, when the row
    lands in a snapshot from before the commit, the token's secret generation refuses it."""
    from oauthapps.tokens import validator

    authenticate = validator.matching_secret_generation
    new = {}

    def authenticate_then_regenerate(app_row, secret):
        generation = authenticate(app_row, secret)
        if not new:
            _, new["secret"] = oauth_app_regenerate_secret(
                app=app.app, regenerated_by=owner
            )
        return generation

    monkeypatch.setattr(
        validator, "matching_secret_generation", authenticate_then_regenerate
    )
    response = post_form(
        api_client,
        "/oauth/token",
        {"grant_type": "client_credentials"},
        Authorization=app.basic,
    )
    monkeypatch.undo()
    creds = Credentials(
        app=app.app, client_id=app.client_id, client_secret=new["secret"]
    )
    if response.status_code == 401:
        assert json.loads(response.content)["error"] == "invalid_client"
        assert not IssuedToken.objects.filter(secret_generation=1).exists()
    else:
        old_secret_token = json.loads(response.content)["access_token"]
        row = IssuedToken.objects.get(jti=jti_of({"access_token": old_secret_token}))
        assert row.secret_generation == 1 and row.is_revoked
        assert not is_active(row.jti)
        api = api_client.get(
            f"/api/v1/orgs/{org.pk}",
            headers={"Authorization": f"Bearer {old_secret_token}"},
        )
        assert api.status_code == 401
        assert not introspected_active(api_client, creds, old_secret_token)
    # The new secret's tokens work.
    assert is_active(jti_of(get_token(api_client, creds)))


def test_a_rotation_keeps_tokens_of_the_previous_secret_until_a_regeneration(
    api_client, app, owner
):
    old = jti_of(get_token(api_client, app))
    _, rotated = oauth_app_rotate_secret(app=app.app, rotated_by=owner)
    current = Credentials(app=app.app, client_id=app.client_id, client_secret=rotated)
    # During the overlap, both secrets work, and each token records whose it is.
    with_previous = jti_of(get_token(api_client, app))
    with_current = jti_of(get_token(api_client, current))
    generations = dict(
        IssuedToken.objects.filter(
            jti__in=[old, with_previous, with_current]
        ).values_list("jti", "secret_generation")
    )
    assert generations == {old: 1, with_previous: 1, with_current: 2}
    assert all(is_active(jti) for jti in generations)

    _, regenerated = oauth_app_regenerate_secret(app=app.app, regenerated_by=owner)

    assert not any(is_active(jti) for jti in generations)
    newest = Credentials(
        app=app.app, client_id=app.client_id, client_secret=regenerated
    )
    jti = jti_of(get_token(api_client, newest))
    assert IssuedToken.objects.get(jti=jti).secret_generation == 3
    assert is_active(jti)
