"""Rate limits of the token service's endpoints, shared by every instance through the cache.

The limits (settings CONSOLE_TOKEN_RATE_* and CONSOLE_TOKEN_FAIL_*, see the README; 0 turns one
off): requests per client ID and per source address, and failed client authentications per
address, which once over its limit is answered 429 without its credentials being checked. The
pipeline (oauthapps/tokens/server.py) calls `check` with the address and client ID it read, and
`record_failure` after a 401. Over a limit: 429, `Retry-After` and the error `slow_down` (RFC 8628's
token endpoint error for "too fast").

Counting is a sliding window (the previous fixed window's count, weighted by how much of it still
overlaps, plus the current one's), so a burst at a window boundary cannot double the limit. The
counts live in the default cache; on Redis, one Lua script does a request's counting in one round
trip (without Redis, the limits hold per worker). If the cache cannot be reached, the limits fail
open: one warning is logged (and a line when it is back), and the cache is not tried again for
`CONSOLE_RATELIMIT_RETRY_SECONDS`, so an outage costs no latency.
"""

import hashlib
import json
import logging
import math
import threading
import time
from functools import cache
from typing import NamedTuple

import redis
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.signals import setting_changed
from django.dispatch import receiver

logger = logging.getLogger("console.ratelimit")


class Rate(NamedTuple):
    limit: int
    window: int

    @property
    def is_on(self) -> bool:
        return self.limit > 0 and self.window > 0


class Rates(NamedTuple):
    per_client: Rate
    per_ip: Rate
    failures_per_ip: Rate


@cache
def configured_rates() -> Rates:
    """The limits in force: read from settings once, and again after a test overrides one."""
    window = settings.CONSOLE_TOKEN_RATE_WINDOW
    fail_window = settings.CONSOLE_TOKEN_FAIL_WINDOW
    return Rates(
        per_client=Rate(settings.CONSOLE_TOKEN_RATE_PER_CLIENT, window),
        per_ip=Rate(settings.CONSOLE_TOKEN_RATE_PER_IP, window),
        failures_per_ip=Rate(settings.CONSOLE_TOKEN_FAIL_RATE_PER_IP, fail_window),
    )


@receiver(setting_changed)
def _reread_settings(*, setting: str, **kwargs: object) -> None:
    # The rates and the Redis client depend on these (changed only by tests).
    if setting == "CACHES" or setting.startswith("CONSOLE_TOKEN_"):
        configured_rates.cache_clear()
        _redis_script.cache_clear()


class Limit(NamedTuple):
    reason: str  # a key of MESSAGES
    rate: Rate
    key: str  # what is counted, e.g. "token:ip:192.0.2.1"
    counts: bool  # incremented by this request (False: only read, the failure counter)


class _Breaker:
    """After a cache failure, skip the cache for a while instead of paying for it per request."""

    lock = threading.Lock()
    open_until = 0.0
    is_down = False

    def allows(self) -> bool:
        return time.monotonic() >= self.open_until


breaker = _Breaker()

# KEYS: (current window, previous window) per limit; ARGV: (1 if it counts, expiry) per limit.
# Answers {previous, current} per limit.
_COUNT_SCRIPT = """
local answers = {}
for i = 1, #KEYS, 2 do
  local current
  if ARGV[i] == "1" then
    current = redis.call("INCR", KEYS[i])
    redis.call("EXPIRE", KEYS[i], ARGV[i + 1])
  else
    current = tonumber(redis.call("GET", KEYS[i]) or "0")
  end
  answers[#answers + 1] = {tonumber(redis.call("GET", KEYS[i + 1]) or "0"), current}
end
return answers
"""


@cache
def _redis_script() -> redis.commands.core.Script:
    """The counting script on a client of the default cache's Redis server (one per process)."""
    config = settings.CACHES["default"]
    location = config["LOCATION"]
    location = location[0] if isinstance(location, list | tuple) else location
    timeouts = ("socket_timeout", "socket_connect_timeout")
    options = {k: v for k, v in config.get("OPTIONS", {}).items() if k in timeouts}
    return redis.Redis.from_url(location, **options).register_script(_COUNT_SCRIPT)


def _redis_counts(store: RedisCache, limits, keys) -> list[tuple[int, int]]:
    arguments = [(int(limit.counts), limit.rate.window * 2) for limit in limits]
    answers = _redis_script()(
        keys=[store.make_key(key) for pair in keys for key in pair],
        args=[value for pair in arguments for value in pair],
    )
    return [(int(previous), int(current)) for previous, current in answers]


def _cache_counts(store, limits, keys) -> list[tuple[int, int]]:
    counts = []
    for limit, (current, previous) in zip(limits, keys, strict=True):
        if limit.counts:
            try:
                count = store.incr(current)
            except ValueError:  # the first count of this window
                added = store.add(current, 1, limit.rate.window * 2)
                count = 1 if added else store.incr(current)
        else:
            count = int(store.get(current) or 0)
        counts.append((int(store.get(previous) or 0), count))
    return counts


def read_counts(limits: list[Limit], now: float) -> list[tuple[int, int]] | None:
    """(previous, current) count per limit, adding this request to those that count it; None
    when the cache is unavailable (fail open)."""
    if not limits or not breaker.allows():
        return None
    store = caches["default"]
    keys = []
    for limit in limits:
        index = int(now // limit.rate.window)
        name = f"rl:{limit.key}:{limit.rate.window}"
        keys.append((f"{name}:{index}", f"{name}:{index - 1}"))
    counting = _redis_counts if isinstance(store, RedisCache) else _cache_counts
    try:
        counts = counting(store, limits, keys)
    except Exception as exc:  # any cache failure: serve the request unlimited
        retry = settings.CONSOLE_RATELIMIT_RETRY_SECONDS
        with breaker.lock:
            breaker.open_until = time.monotonic() + retry
            if not breaker.is_down:
                breaker.is_down = True
                logger.warning(
                    "Rate limiting is OFF (failing open): the cache is unreachable (%s). "
                    "Requests are served without limits until it is back.",
                    type(exc).__name__,
                )
        return None
    with breaker.lock:
        if breaker.is_down:
            breaker.is_down = False
            logger.warning("Rate limiting is back on: the cache answers again.")
    return counts


class Verdict(NamedTuple):
    retry_after: int = 0  # seconds; 0 = allowed
    reason: str = ""


ALLOWED = Verdict()


def _retry_after(previous: int, current: int, elapsed: float, rate: Rate) -> int:
    """Seconds until the sliding count lets one more request through."""
    room = rate.limit - 1 - current  # what the previous window's weight must fall to
    if room >= 0 and previous > 0:
        wait = (1.0 - room / previous) - elapsed
    else:
        # Not before the next window; then the current count's weight must decay.
        wait = (1.0 - elapsed) + max(0.0, 1.0 - (rate.limit - 1) / max(current, 1))
    return max(1, math.ceil(wait * rate.window))


def check(
    *, endpoint: str, ip: str, client_id: str, now: float | None = None
) -> Verdict:
    """Count this request against its limits and say whether it may be served."""
    rates = configured_rates()
    limits = [Limit("failures_per_ip", rates.failures_per_ip, f"fail:ip:{ip}", False)]
    if client_id:
        # Client IDs come from the request: a fixed-length, key-safe name whatever was sent.
        digest = hashlib.blake2b(client_id.encode(errors="replace"), digest_size=12)
        key = f"{endpoint}:client:{digest.hexdigest()}"
        limits.append(Limit("per_client", rates.per_client, key, True))
    limits.append(Limit("per_ip", rates.per_ip, f"{endpoint}:ip:{ip}", True))
    limits = [limit for limit in limits if limit.rate.is_on]
    now = time.time() if now is None else now
    counts = read_counts(limits, now)
    if counts is None:
        return ALLOWED
    worst = ALLOWED
    for limit, (previous, current) in zip(limits, counts, strict=True):
        rate = limit.rate
        # The fraction of the current fixed window elapsed.
        elapsed = (now - int(now // rate.window) * rate.window) / rate.window
        # The failure counter is only read: this request is over it once it is *at* the limit.
        extra = 0 if limit.counts else 1
        if previous * (1.0 - elapsed) + current > rate.limit - extra:
            wait = _retry_after(previous, current + extra, elapsed, rate)
            if wait > worst.retry_after:
                worst = Verdict(retry_after=wait, reason=limit.reason)
    return worst


def record_failure(*, ip: str, now: float | None = None) -> None:
    """Count a failed client authentication from `ip` (an extra round trip, on failures only)."""
    rate = configured_rates().failures_per_ip
    if rate.is_on:
        now = time.time() if now is None else now
        read_counts([Limit("failures_per_ip", rate, f"fail:ip:{ip}", True)], now)


MESSAGES = {
    "per_client": "Too many requests for this client.",
    "per_ip": "Too many requests from this address.",
    "failures_per_ip": "Too many failed client authentications from this address.",
}


def refusal(verdict: Verdict) -> tuple[dict[str, str], str, int]:
    """(headers, body, status) of the 429 for `verdict`: Retry-After and an RFC 6749 §5.2 style
    error body."""
    wait = verdict.retry_after
    description = f"{MESSAGES[verdict.reason]} Retry after {wait} seconds."
    body = json.dumps({"error": "slow_down", "error_description": description})
    headers = {"Content-Type": "application/json", "Retry-After": str(wait)}
    return headers | {"Cache-Control": "no-store", "Pragma": "no-cache"}, body, 429
