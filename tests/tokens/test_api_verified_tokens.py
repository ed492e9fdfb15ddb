"""The per-process memory of verified access tokens (state.verified_tokens, access_tokens.verify).

A token verified once is not parsed or RSA-checked again, but everything that can change is still
checked on every call: expiry, the signing key still being published, the issuer, and revocation
(the one statement of every API call). These tests run outside a test transaction, as the server
does, so every memory is live; each change is made behind its back, as another instance would.
"""

import json
import uuid
from datetime import timedelta

import jwt
import pytest
from django.core.management import call_command
from django.utils import timezone

from oauthapps.models import OAuthApp
from oauthapps.tokens import access_tokens, keys, state
from oauthapps.tokens.models import IssuedToken, SigningKey
from tests.tokens.fixtures import get_token, post_form

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def app(org, make_app):
    return make_app(org, scopes=["org:member"], add_to=[org])


@pytest.fixture
def token(api_client, app, org) -> str:
    """A token the API has accepted once: its verification is remembered."""
    value = get_token(api_client, app)["access_token"]
    assert api_get(api_client, org, value).status_code == 200
    assert len(state.verified_tokens) == 1
    return value


@pytest.fixture
def full_verifications(monkeypatch) -> list[str]:
    """The tokens verified in full (signature, JSON, claims), in order."""
    calls: list[str] = []
    original = access_tokens._verify_in_full

    def spy(token: str, **kwargs):
        calls.append(token)
        return original(token, **kwargs)

    monkeypatch.setattr(access_tokens, "_verify_in_full", spy)
    return calls


def api_get(client, org, token):
    return client.get(
        f"/api/v1/orgs/{org.pk}", headers={"Authorization": f"Bearer {token}"}
    )


def refused_because(response) -> str:
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    return json.loads(response.content)["error_description"]


def rotate() -> None:
    call_command("rotate_signing_key", stdout=open("/dev/null", "w"))  # noqa: SIM115


def test_a_token_is_verified_in_full_once(api_client, app, org, full_verifications):
    token = get_token(api_client, app)["access_token"]
    for _ in range(3):
        assert api_get(api_client, org, token).status_code == 200
    assert full_verifications == [token]


def test_each_use_still_costs_the_revocation_statement(
    api_client, org, token, django_assert_num_queries
):
    with django_assert_num_queries(1):
        assert api_get(api_client, org, token).status_code == 200


def test_a_revoked_token_is_refused_though_its_verification_is_remembered(
    api_client, app, org, token
):
    response = post_form(
        api_client, "/oauth/revoke", {"token": token}, Authorization=app.basic
    )
    assert response.status_code == 200
    assert (
        refused_because(api_get(api_client, org, token))
        == "The access token has been revoked."
    )


def test_a_revocation_made_behind_the_memory_s_back_counts_too(api_client, org, token):
    IssuedToken.objects.update(revoked_at=timezone.now())
    assert (
        refused_because(api_get(api_client, org, token))
        == "The access token has been revoked."
    )


def test_a_disabled_app_is_honoured_on_the_next_call(api_client, app, org, token):
    OAuthApp.objects.filter(pk=app.app.pk).update(is_disabled=True)
    assert refused_because(api_get(api_client, org, token))


def test_a_remembered_token_is_refused_once_it_expires(
    api_client, org, token, monkeypatch
):
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    now = {
        "time": exp
    }  # refused at the very second it expires (PyJWT's rule: exp <= now)

    class Clock:
        @staticmethod
        def time() -> float:
            return now["time"]

    monkeypatch.setattr(access_tokens, "time", Clock)
    assert (
        refused_because(api_get(api_client, org, token))
        == "The access token has expired."
    )
    # verify(allow_expired=True) still reads an expired token's claims (remembered again).
    assert access_tokens.verify(token, allow_expired=True).claims["exp"] == exp
    now["time"] = exp + 3600
    with pytest.raises(access_tokens.InvalidAccessToken, match="expired"):
        access_tokens.verify(token)


def test_a_token_whose_key_was_retired_long_ago_is_refused_after_the_refresh_interval(
    api_client, org, token, monkeypatch
):
    rotate()
    SigningKey.objects.filter(kid=jwt.get_unverified_header(token)["kid"]).update(
        retired_at=timezone.now() - keys.PUBLISH_WINDOW - timedelta(minutes=1)
    )
    later = keys._clock() + keys.REFRESH_SECONDS + 1
    monkeypatch.setattr(keys, "_clock", lambda: later)
    assert (
        refused_because(api_get(api_client, org, token))
        == "The access token is not signed by this console."
    )


def test_a_token_whose_key_was_just_retired_stays_valid(api_client, org, token):
    """Rotation keeps the previous key published for PUBLISH_WINDOW: its tokens keep working."""
    rotate()
    keys.clear_cache()
    assert api_get(api_client, org, token).status_code == 200


def test_a_token_whose_key_was_deleted_is_refused(api_client, org, token):
    SigningKey.objects.filter(kid=jwt.get_unverified_header(token)["kid"]).delete()
    keys.clear_cache()  # as after keys.REFRESH_SECONDS
    assert (
        refused_because(api_get(api_client, org, token))
        == "The access token is not signed by this console."
    )


def test_a_reloaded_key_means_a_full_verification_again(
    api_client, org, token, full_verifications
):
    """The memory trusts only the very key object that verified the token."""
    assert api_get(api_client, org, token).status_code == 200
    assert full_verifications == []
    keys.clear_cache()
    assert api_get(api_client, org, token).status_code == 200
    assert api_get(api_client, org, token).status_code == 200
    assert full_verifications == [token]


def test_another_issuer_refuses_a_remembered_token(api_client, org, token, settings):
    settings.CONSOLE_ISSUER = "https://other.example.com"
    assert (
        refused_because(api_get(api_client, org, token))
        == "The access token is invalid."
    )


def test_the_same_claims_under_another_signature_are_not_taken_from_memory(
    api_client, org, token
):
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    forger = keys.load_pem("x", keys.generate_private_key_pem()).private_key
    forged = jwt.encode(claims, forger, algorithm="RS256", headers=header)
    assert forged.rsplit(".", 1)[0] == token.rsplit(".", 1)[0]
    assert (
        refused_because(api_get(api_client, org, forged))
        == "The access token is invalid."
    )


def test_refused_tokens_are_not_remembered(api_client, org, token):
    header_b64, payload_b64, signature = token.split(".")
    for refused in ("garbage", f"{header_b64}.{payload_b64}.{signature[::-1]}"):
        assert api_get(api_client, org, refused).status_code == 401
    assert len(state.verified_tokens) == 1


# --- The bounded memory itself -------------------------------------------------------------------


def test_the_least_recently_used_entry_is_dropped_first():
    cache = state.Memory(2, 100, versioned=False)
    cache.put("a", 1, size=1)
    cache.put("b", 2, size=1)
    assert cache.get("a") == 1
    cache.put("c", 3, size=1)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)


def test_the_total_size_is_bounded():
    cache = state.Memory(10, 10, versioned=False)
    cache.put("a", 1, size=4)
    cache.put("b", 2, size=4)
    cache.put("c", 3, size=4)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, 2, 3)
    assert cache.size == 8
    cache.put("b", 4, size=2)  # replacing an entry replaces its size
    assert cache.size == 6
    cache.put("huge", 5, size=11)  # never stored, and drops nothing
    assert (cache.get("huge"), len(cache), cache.size) == (None, 2, 6)
    cache.discard("c")
    assert (len(cache), cache.size) == (1, 2)
    cache.clear()
    assert (len(cache), cache.size) == (0, 0)


def test_the_memory_of_verified_tokens_is_bounded():
    assert state.verified_tokens.max_entries <= 10_000
    # Tokens are at most MAX_TOKEN_LENGTH characters; the total stays within a few MB.
    assert state.verified_tokens.max_size <= 16 * 1024 * 1024
    # More valid tokens than it may hold: the oldest are forgotten, the newest remembered.
    key = keys.signing_key()
    tokens = []
    for _ in range(state.verified_tokens.max_entries + 50):
        claims = access_tokens.new_token(
            client_id="c" * 40,
            org_id=uuid.uuid4(),
            scopes=["org:member"],
            lifetime=600,
        ).claims
        tokens.append(access_tokens.sign(claims, key))
        access_tokens.verify(tokens[-1])
    assert len(state.verified_tokens) == state.verified_tokens.max_entries
    assert state.verified_tokens.size <= state.verified_tokens.max_size
    assert state.verified_tokens.get(tokens[0]) is None
    assert state.verified_tokens.get(tokens[-1]) is not None
