"""Token service rate limits (console/ratelimit/): per client ID, per source address, and
failed client authentications per source address; 429 with Retry-After and an RFC 6749-style
body; sliding windows; shared through the cache; failing open when the cache is down."""

import json
import logging
from urllib.parse import urlencode

import pytest
from django.core.cache import caches

from console import ratelimit
from console.http import client_ip
from tests.tokens.fixtures import Credentials, post_form

GRANT = {"grant_type": "client_credentials"}
TOKEN = "/oauth/token"


@pytest.fixture
def app(org, make_app, contains) -> Credentials:
    contains(org, "compute")
    return make_app(org, scopes=["org:member"], add_to=[org])


@pytest.fixture
def other_app(org, make_app) -> Credentials:
    return make_app(org, scopes=["org:member"], add_to=[org])


@pytest.fixture
def limits(settings):
    """Small limits, set per test: limits(per_client=3, ...)."""

    def configure(
        *,
        per_client: int = 0,
        per_ip: int = 0,
        failures: int = 0,
        window: int = 60,
        fail_window: int = 300,
    ) -> None:
        settings.CONSOLE_TOKEN_RATE_PER_CLIENT = per_client
        settings.CONSOLE_TOKEN_RATE_PER_IP = per_ip
        settings.CONSOLE_TOKEN_RATE_WINDOW = window
        settings.CONSOLE_TOKEN_FAIL_RATE_PER_IP = failures
        settings.CONSOLE_TOKEN_FAIL_WINDOW = fail_window

    return configure


def token_request(client, creds: Credentials, *, ip: str = "127.0.0.1", secret=None):
    auth = creds.basic
    if secret is not None:
        auth = Credentials(creds.app, creds.client_id, secret).basic
    return client.post(
        TOKEN,
        urlencode(GRANT),
        content_type="application/x-www-form-urlencoded",
        headers={"Authorization": auth},
        REMOTE_ADDR=ip,
    )


def assert_429(response, reason_text: str) -> int:
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    body = json.loads(response.content)
    assert body["error"] == "slow_down"
    assert reason_text in body["error_description"]
    retry_after = int(response["Retry-After"])
    assert retry_after >= 1
    assert f"Retry after {retry_after} seconds" in body["error_description"]
    return retry_after


def test_the_limits_are_on_by_default():
    from django.conf import settings

    rates = ratelimit.configured_rates()
    assert rates.per_client.is_on and rates.per_ip.is_on and rates.failures_per_ip.is_on
    # Failures are held to a much stricter rate than requests.
    assert (
        settings.CONSOLE_TOKEN_FAIL_RATE_PER_IP / settings.CONSOLE_TOKEN_FAIL_WINDOW
        < settings.CONSOLE_TOKEN_RATE_PER_CLIENT / settings.CONSOLE_TOKEN_RATE_WINDOW
    )


def test_a_client_over_its_limit_gets_429_with_retry_after(
    api_client, app, other_app, limits
):
    limits(per_client=3)
    for _ in range(3):
        assert token_request(api_client, app).status_code == 200

    retry_after = assert_429(token_request(api_client, app), "for this client")

    assert retry_after <= 2 * 60  # a sliding window: at most until the next one ends
    # Another client from the same address is not held back by this one.
    assert token_request(api_client, other_app).status_code == 200


def test_form_authentication_counts_against_the_same_client_limit(
    api_client, app, limits
):
    limits(per_client=2)
    form = {**GRANT, "client_id": app.client_id, "client_secret": app.client_secret}
    assert post_form(api_client, TOKEN, form).status_code == 200
    assert token_request(api_client, app).status_code == 200

    assert_429(post_form(api_client, TOKEN, form), "for this client")


def test_client_assertions_count_against_the_limit_of_the_client_they_name(
    api_client, org, make_key_app, limits
):
    """A private_key_jwt client may send no client_id: the assertion's iss names it."""
    from tests.tokens.assertions import assertion, assertion_form, key_pair

    key = key_pair("ES256")
    app = make_key_app(org, key, scopes=["org:member"], add_to=[org])
    limits(per_client=2)
    audience = "http://127.0.0.1:8000/oauth/token"
    for _ in range(2):
        signed = assertion(key, app.client_id, audience)
        assert post_form(api_client, TOKEN, assertion_form(signed)).status_code == 200

    signed = assertion(key, app.client_id, audience)
    assert_429(post_form(api_client, TOKEN, assertion_form(signed)), "for this client")


def test_an_address_over_its_limit_gets_429_whatever_client_it_uses(
    api_client, app, other_app, limits
):
    limits(per_ip=3)
    for creds in (app, other_app, app):
        assert token_request(api_client, creds, ip="203.0.113.7").status_code == 200

    assert_429(
        token_request(api_client, other_app, ip="203.0.113.7"), "from this address"
    )
    assert token_request(api_client, other_app, ip="203.0.113.8").status_code == 200


def test_failed_authentications_lock_the_address_out_before_credentials_are_checked(
    api_client, app, limits, django_assert_num_queries
):
    limits(per_client=100, per_ip=100, failures=3)
    for _ in range(3):
        response = token_request(api_client, app, ip="198.51.100.1", secret="wrong")
        assert response.status_code == 401

    # Even the right secret is refused now, without a database query: stuffing is stopped.
    with django_assert_num_queries(0):
        response = token_request(api_client, app, ip="198.51.100.1")
    assert_429(response, "failed client authentications from this address")
    # The client itself is fine from anywhere else.
    assert token_request(api_client, app, ip="198.51.100.2").status_code == 200


def test_successful_requests_do_not_count_as_failures(api_client, app, limits):
    limits(failures=2)
    for _ in range(5):
        assert token_request(api_client, app).status_code == 200
    assert token_request(api_client, app, secret="wrong").status_code == 401
    assert token_request(api_client, app).status_code == 200


def test_failures_at_introspection_and_revocation_count_too(api_client, app, limits):
    limits(failures=2)
    wrong = Credentials(app.app, app.client_id, "wrong").basic
    for path in ("/oauth/introspect", "/oauth/revoke"):
        response = post_form(api_client, path, {"token": "x"}, Authorization=wrong)
        assert response.status_code == 401

    assert_429(token_request(api_client, app), "failed client authentications")
    assert_429(
        post_form(
            api_client, "/oauth/introspect", {"token": "x"}, Authorization=app.basic
        ),
        "failed client authentications",
    )


def test_the_cloned_consoles_token_path_shares_the_token_limit(api_client, app, limits):
    limits(per_client=2)
    assert token_request(api_client, app).status_code == 200
    response = post_form(
        api_client,
        "/csp/gateway/am/api/auth/authorize",
        GRANT,
        Authorization=app.basic,
    )
    assert response.status_code == 200
    assert_429(token_request(api_client, app), "for this client")


def test_a_limit_of_zero_turns_that_limit_off(api_client, app, limits):
    limits(per_client=0, per_ip=0, failures=0)
    for _ in range(30):
        assert token_request(api_client, app, secret="wrong").status_code == 401
    assert token_request(api_client, app).status_code == 200


def test_x_forwarded_for_is_ignored_unless_a_proxy_is_trusted(
    api_client, app, limits, settings
):
    limits(per_ip=2)
    for spoofed in ("10.0.0.1", "10.0.0.2"):
        response = api_client.post(
            TOKEN,
            urlencode(GRANT),
            content_type="application/x-www-form-urlencoded",
            headers={"Authorization": app.basic, "X-Forwarded-For": spoofed},
        )
        assert response.status_code == 200
    # A forged header did not buy a fresh count: both requests came from 127.0.0.1.
    assert token_request(api_client, app).status_code == 429


@pytest.mark.parametrize(
    ("remote", "forwarded", "proxies", "expected"),
    [
        ("127.0.0.1", "", 0, "127.0.0.1"),
        ("127.0.0.1", "203.0.113.5", 0, "127.0.0.1"),
        ("10.0.0.2", "203.0.113.5", 1, "203.0.113.5"),
        # The client may prepend anything; only what our proxy appended counts.
        ("10.0.0.2", "1.2.3.4, 203.0.113.5", 1, "203.0.113.5"),
        ("10.0.0.2", "1.2.3.4, 203.0.113.5, 10.0.0.9", 2, "203.0.113.5"),
        ("10.0.0.2", "", 1, "10.0.0.2"),
        ("2001:db8:1:2:3:4:5:6", "", 0, "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.1", "", 0, "192.0.2.1"),
        ("not-an-address", "", 0, "unknown"),
    ],
)
def test_client_ip(rf, settings, remote, forwarded, proxies, expected):
    settings.CONSOLE_TRUSTED_PROXY_COUNT = proxies
    request = rf.post(TOKEN, REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


# --- The sliding window, on its own clock ------------------------------------------------------


def test_a_burst_at_a_window_boundary_cannot_double_the_limit(limits):
    limits(per_ip=10, window=60)
    start = 60 * 1000 + 59.0  # one second before a window ends
    allowed = sum(
        not ratelimit.check(
            endpoint="t", ip="192.0.2.9", client_id="", now=start
        ).retry_after
        for _ in range(10)
    )
    # Just after the boundary the previous window still weighs almost fully.
    later = sum(
        not ratelimit.check(
            endpoint="t", ip="192.0.2.9", client_id="", now=start + 2
        ).retry_after
        for _ in range(10)
    )
    assert allowed == 10
    assert later == 0


def _fill(ip: str, now: float) -> ratelimit.Verdict:
    """Five requests allowed at `now`, and the verdict on a sixth."""
    for _ in range(5):
        assert not ratelimit.check(
            endpoint="t", ip=ip, client_id="", now=now
        ).retry_after
    return ratelimit.check(endpoint="t", ip=ip, client_id="", now=now)


def test_retry_after_is_when_a_request_gets_through_again(limits):
    limits(per_ip=5, window=60)
    now = 60 * 2000 + 10.0
    verdict = _fill("192.0.2.10", now)
    assert verdict.reason == "per_ip"
    # Not before this window ends, and less than a whole window after that.
    assert 50 <= verdict.retry_after <= 110

    # Waiting what it said is enough; a little less is not (two addresses, same history).
    on_time = ratelimit.check(
        endpoint="t", ip="192.0.2.10", client_id="", now=now + verdict.retry_after
    )
    assert not on_time.retry_after
    assert _fill("192.0.2.12", now) == verdict
    too_early = ratelimit.check(
        endpoint="t", ip="192.0.2.12", client_id="", now=now + verdict.retry_after - 5
    )
    assert too_early.retry_after


def test_long_client_ids_make_bounded_cache_keys(limits, rf):
    limits(per_client=1)
    huge = "x" * 100_000
    assert not ratelimit.check(
        endpoint="t", ip="192.0.2.11", client_id=huge
    ).retry_after
    assert ratelimit.check(endpoint="t", ip="192.0.2.11", client_id=huge).retry_after
    assert all(len(str(key)) < 120 for key in caches["default"]._cache)


# --- When the cache is down -----------------------------------------------------------------------

UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:9/0",  # the discard port: nothing listens
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
}


@pytest.fixture
def closed_breaker():
    ratelimit.breaker.open_until = 0.0
    ratelimit.breaker.is_down = False
    yield ratelimit.breaker
    ratelimit.breaker.open_until = 0.0
    ratelimit.breaker.is_down = False


def test_without_the_cache_tokens_keep_flowing_and_one_warning_is_logged(
    api_client, app, limits, settings, caplog, closed_breaker
):
    limits(per_client=1, per_ip=1, failures=1)
    settings.CACHES = UNREACHABLE_REDIS
    caplog.set_level(logging.WARNING, logger="console.ratelimit")

    statuses = [token_request(api_client, app).status_code for _ in range(5)]

    assert statuses == [200] * 5  # over every limit, and still served: fail open
    warnings = [r for r in caplog.records if r.name == "console.ratelimit"]
    assert len(warnings) == 1
    assert "Rate limiting is OFF" in warnings[0].getMessage()
    # It does not retry the cache on every request meanwhile.
    assert not closed_breaker.allows()


def test_limits_resume_when_the_cache_answers_again(
    api_client, app, limits, settings, caplog, closed_breaker
):
    limits(per_client=1)
    settings.CACHES = UNREACHABLE_REDIS
    assert token_request(api_client, app).status_code == 200
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    }
    closed_breaker.open_until = 0.0  # the retry delay has passed
    caplog.set_level(logging.WARNING, logger="console.ratelimit")

    assert token_request(api_client, app).status_code == 200
    assert token_request(api_client, app).status_code == 429
    assert any("back on" in r.getMessage() for r in caplog.records)


# --- With Redis, as in production (CI starts it; REDIS_URL names it) ---------------------------


def _redis_url() -> str:
    import os

    return os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_cache(settings):
    """The default cache on Redis under a key prefix of this test's own, removed afterwards."""
    import uuid

    import redis

    url = _redis_url()
    raw = redis.Redis.from_url(url, socket_connect_timeout=0.5)
    try:
        raw.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis at {url} (CI starts one; see .ci/run)")
    prefix = f"test-{uuid.uuid4().hex}"

    def connect() -> None:
        # A fresh dict is a fresh cache handler: like another process or gunicorn instance.
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": url,
                "KEY_PREFIX": prefix,
            }
        }

    connect()
    yield connect
    for key in raw.scan_iter(f"{prefix}:*"):
        raw.delete(key)
    raw.close()


@pytest.fixture
def round_trips(monkeypatch):
    """How many times the process wrote to Redis (one per command, or one per pipeline)."""
    import redis.connection

    calls = []
    original = redis.connection.AbstractConnection.send_packed_command

    def counting(self, command, *args, **kwargs):
        calls.append(command)
        return original(self, command, *args, **kwargs)

    monkeypatch.setattr(
        redis.connection.AbstractConnection, "send_packed_command", counting
    )
    return calls


def test_with_redis_a_token_request_costs_one_round_trip(
    api_client, app, limits, redis_cache, round_trips
):
    limits(per_client=100, per_ip=100, failures=10)
    assert token_request(api_client, app).status_code == 200  # connects
    round_trips.clear()

    assert token_request(api_client, app).status_code == 200
    assert len(round_trips) == 1

    # A failed authentication adds one, to count the failure.
    round_trips.clear()
    assert token_request(api_client, app, secret="wrong").status_code == 401
    assert len(round_trips) == 2


def test_with_redis_the_limits_hold_across_processes(
    api_client, app, limits, redis_cache
):
    # Every request naming the client counts for it, refused ones included: 6 = 2 + 2 + 1 + 1.
    limits(per_client=6, failures=2)
    for _ in range(2):
        assert token_request(api_client, app).status_code == 200
        redis_cache()  # the next request is served by "another instance"
    assert (
        token_request(api_client, app, ip="192.0.2.50", secret="bad").status_code == 401
    )
    redis_cache()
    assert (
        token_request(api_client, app, ip="192.0.2.50", secret="bad").status_code == 401
    )
    redis_cache()

    assert token_request(api_client, app, ip="192.0.2.50").status_code == 429
    assert token_request(api_client, app).status_code == 200  # the 6th of 6
    redis_cache()
    assert_429(token_request(api_client, app), "for this client")


def test_with_redis_counts_expire_with_their_window(
    api_client, app, limits, redis_cache
):
    import redis

    limits(per_client=10, window=30)
    assert token_request(api_client, app).status_code == 200
    raw = redis.Redis.from_url(_redis_url())
    prefix = caches["default"].key_prefix
    ttls = [raw.ttl(key) for key in raw.scan_iter(f"{prefix}:*")]
    raw.close()
    assert ttls and all(0 < ttl <= 60 for ttl in ttls)
