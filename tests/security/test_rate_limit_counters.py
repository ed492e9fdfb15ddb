"""Where the rate limits' counts are kept (console/ratelimit.py): the default cache, through Django's
cache API, or one Lua script per request on Redis. Every store gives the same verdicts; the counts
are cleared with the cache and stay bounded by it."""

import random

import pytest
from django.core.cache import caches

from console import ratelimit
from tests.security import test_rate_limits
from tests.security.test_rate_limits import token_request

# The fixtures of the limits' own tests.
app = test_rate_limits.app
limits = test_rate_limits.limits
redis_cache = test_rate_limits.redis_cache
closed_breaker = test_rate_limits.closed_breaker

LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def _script() -> list[tuple[float, str, str, bool]]:
    """(seconds, address, client ID, whether the credentials were wrong): two and a half windows
    of requests from three addresses naming three clients, a fifth of them failing."""
    draw = random.Random(6)
    steps, second = [], 0.0
    for _ in range(240):
        second += draw.uniform(0.0, 0.7)
        steps.append(
            (
                second,
                draw.choice(["192.0.2.1", "192.0.2.2", "2001:db8::/64"]),
                draw.choice(["alpha", "beta", "gamma"]),
                draw.random() < 0.2,
            )
        )
    return steps


def _verdicts() -> list[ratelimit.Verdict]:
    start = 60 * 5000 + 45.0  # a quarter of a window before one ends
    verdicts = []
    for second, ip, client_id, failed in _script():
        now = start + second
        verdicts.append(
            ratelimit.check(endpoint="token", ip=ip, client_id=client_id, now=now)
        )
        if failed:
            ratelimit.record_failure(ip=ip, now=now)
    return verdicts


@pytest.mark.parametrize("store", ["redis", "file", "console"])
def test_every_store_gives_the_same_verdicts(
    limits, settings, request, tmp_path, store
):
    limits(per_client=30, per_ip=32, failures=14, window=60, fail_window=120)
    settings.CACHES = LOCMEM
    local = _verdicts()
    if store == "redis":
        request.getfixturevalue("redis_cache")  # skips without Redis
    elif store == "console":
        # A single instance's cache in production (console/cache.py), with its own storage.
        settings.CACHES = {
            "default": {
                "BACKEND": "console.cache.LocalMemoryCache",
                "LOCATION": "other",
            }
        }
    else:
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                "LOCATION": str(tmp_path),
            }
        }

    assert _verdicts() == local
    # The script reaches every limit, or the comparison would prove little.
    assert {verdict.reason for verdict in local} == {
        "",
        "per_client",
        "per_ip",
        "failures_per_ip",
    }


def test_clearing_the_local_memory_cache_clears_the_counts(limits):
    # What tests/conftest.py relies on to start every test with no counts.
    limits(per_ip=1)
    assert not ratelimit.check(endpoint="t", ip="192.0.2.20", client_id="").retry_after
    assert ratelimit.check(endpoint="t", ip="192.0.2.20", client_id="").retry_after

    caches["default"].clear()

    assert not ratelimit.check(endpoint="t", ip="192.0.2.20", client_id="").retry_after


def test_counts_expire_after_two_windows(limits, settings):
    # A window is read while it is the current or the previous one, never after.
    limits(per_ip=10, window=60)
    store = caches["default"]
    ratelimit.check(endpoint="t", ip="192.0.2.30", client_id="")
    (key,) = [key for key in store._cache if "192.0.2.30" in key]
    assert 0 < store._expire_info[key] - __import__("time").time() <= 120


def test_a_flood_of_made_up_client_ids_stays_within_the_cache_bound(limits, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "flood",
            "OPTIONS": {"MAX_ENTRIES": 100},
        }
    }
    limits(per_client=5, per_ip=10_000)
    for number in range(1000):
        ratelimit.check(endpoint="t", ip="192.0.2.40", client_id=f"x{number}")
    assert len(caches["default"]._cache) <= 100
    for _ in range(5):
        ratelimit.check(endpoint="t", ip="192.0.2.41", client_id="real")
    assert (
        ratelimit.check(endpoint="t", ip="192.0.2.41", client_id="real").reason
        == "per_client"
    )


def test_a_changed_limit_applies_to_the_next_request(limits):
    limits(per_ip=1)
    assert not ratelimit.check(endpoint="t", ip="192.0.2.50", client_id="").retry_after
    assert ratelimit.check(endpoint="t", ip="192.0.2.50", client_id="").retry_after

    limits(per_ip=0)

    assert not ratelimit.check(endpoint="t", ip="192.0.2.50", client_id="").retry_after
    assert ratelimit.configured_rates().per_ip.limit == 0


def test_with_redis_requests_reuse_one_client(
    api_client, app, limits, redis_cache, monkeypatch
):
    import redis

    limits(per_client=100, per_ip=100, failures=10)
    assert token_request(api_client, app).status_code == 200  # connects
    built = []
    original = redis.Redis.__init__

    def counting(self, *args, **kwargs):
        built.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "__init__", counting)

    for _ in range(3):
        assert token_request(api_client, app).status_code == 200
    assert token_request(api_client, app, secret="wrong").status_code == 401

    assert built == []


def test_with_redis_an_error_reply_fails_open_and_leaves_the_connection_clean(
    limits, redis_cache, closed_breaker
):
    import redis

    limits(per_ip=2, window=60)
    now = 60 * 9000 + 1.0
    key = caches["default"].make_key("rl:t:ip:192.0.2.60:60:9000")
    raw = redis.Redis.from_url(test_rate_limits._redis_url())
    raw.set(key, "not a number")  # INCR answers an error, in the middle of the script

    assert ratelimit.check(endpoint="t", ip="192.0.2.60", client_id="", now=now) == (
        ratelimit.ALLOWED
    )
    assert closed_breaker.is_down

    raw.delete(key)
    raw.close()
    closed_breaker.open_until = 0.0
    # The replies after the error were not left to be read as the next request's.
    verdicts = [
        ratelimit.check(endpoint="t", ip="192.0.2.60", client_id="", now=now).reason
        for _ in range(3)
    ]
    assert verdicts == ["", "", "per_ip"]
    assert not closed_breaker.is_down
