"""Rate limits of the token service's endpoints, shared by every instance through the cache.

Each limit is a number of requests per window of seconds (settings, from the environment; 0 turns
it off): requests per client ID (`CONSOLE_TOKEN_RATE_PER_CLIENT`) and per source address
(`CONSOLE_TOKEN_RATE_PER_IP`), both per `CONSOLE_TOKEN_RATE_WINDOW`; and failed client
authentications per address (`CONSOLE_TOKEN_FAIL_RATE_PER_IP` per `CONSOLE_TOKEN_FAIL_WINDOW`):
once over it, an address is answered 429 without its credentials being checked. The pipeline
(oauthapps/tokens/server.py) calls `check` with the address and client ID it read, and
`record_failure` after a 401. Over a limit: 429, `Retry-After` and the RFC 6749 §5.2 style error
`slow_down` (the IANA registry's token endpoint error for "too fast", from RFC 8628).

Counting is a sliding window (the previous fixed window's count, weighted by how much of it still
overlaps, plus the current one's), so a burst at a window boundary cannot double the limit. The
counts live in the default cache, through Django's cache API; on Redis, one Lua script
(redis-py's `register_script`) does a request's counting in one round trip. Without Redis, the
limits hold per worker. If the cache cannot be reached, the limits fail open: one warning is
logged (and a line when it is back), and the cache is not tried again for
`CONSOLE_RATELIMIT_RETRY_SECONDS`, so an outage costs no latency.
"""

import hashlib
import json
import logging
import math
import threading
import time
from dataclasses import dataclass
from functools import cache
from typing import NamedTuple

import redis
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.signals import setting_changed
from django.dispatch import receiver

logger = logging.getLogger("console.ratelimit")

KEY_PREFIX = "rl"


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


# What configured_rates() and the Redis client depend on (changed only by tests).
RATE_SETTINGS = frozenset(
    [
        "CONSOLE_TOKEN_RATE_PER_CLIENT",
        "CONSOLE_TOKEN_RATE_PER_IP",
        "CONSOLE_TOKEN_RATE_WINDOW",
        "CONSOLE_TOKEN_FAIL_RATE_PER_IP",
        "CONSOLE_TOKEN_FAIL_WINDOW",
        "CACHES",
    ]
)


@cache
def configured_rates() -> Rates:
    """The limits in force: read from settings once, and again after a test overrides one."""
    window = settings.CONSOLE_TOKEN_RATE_WINDOW
    return Rates(
        per_client=Rate(settings.CONSOLE_TOKEN_RATE_PER_CLIENT, window),
        per_ip=Rate(settings.CONSOLE_TOKEN_RATE_PER_IP, window),
        failures_per_ip=Rate(
            settings.CONSOLE_TOKEN_FAIL_RATE_PER_IP, settings.CONSOLE_TOKEN_FAIL_WINDOW
        ),
    )


@receiver(setting_changed)
def _reread_settings(*, setting: str, **kwargs: object) -> None:
    if setting in RATE_SETTINGS:
        configured_rates.cache_clear()
        _redis_script.cache_clear()


class Counter(NamedTuple):
    key: str  # what is counted, e.g. "token:ip:192.0.2.1"
    window: int  # seconds
    counts: bool  # incremented by this request (False: only read, the failure counter)


class _Breaker:
    """After a cache failure, skip the cache for a while instead of paying for it per request."""

    lock = threading.Lock()
    open_until = 0.0
    is_down = False

    def allows(self) -> bool:
        return time.monotonic() >= self.open_until

    def failed(self, exc: Exception) -> None:
        with self.lock:
            self.open_until = (
                time.monotonic() + settings.CONSOLE_RATELIMIT_RETRY_SECONDS
            )
            if not self.is_down:
                self.is_down = True
                logger.warning(
                    "Rate limiting is OFF (failing open): the cache is unreachable (%s). "
                    "Requests are served without limits until it is back.",
                    type(exc).__name__,
                )

    def worked(self) -> None:
        with self.lock:
            if self.is_down:
                self.is_down = False
                logger.warning("Rate limiting is back on: the cache answers again.")


breaker = _Breaker()

# KEYS: (current window, previous window) per counter; ARGV: (1 if it counts, expiry) per counter.
# Answers (previous, current) per counter.
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
  answers[#answers + 1] = tonumber(redis.call("GET", KEYS[i + 1]) or "0")
  answers[#answers + 1] = current
end
return answers
"""


@cache
def _redis_script(location: str, options: str) -> redis.commands.core.Script:
    """The counting script on a client of the cache's Redis server (one per process)."""
    client = redis.Redis.from_url(location, **json.loads(options))
    return client.register_script(_COUNT_SCRIPT)


def _redis_counts(store: RedisCache, counters, keys) -> list[tuple[int, int]]:
    config = settings.CACHES["default"]
    location = config["LOCATION"]
    location = location[0] if isinstance(location, list | tuple) else location
    options = {
        name: value
        for name, value in config.get("OPTIONS", {}).items()
        if name in ("socket_timeout", "socket_connect_timeout")
    }
    script = _redis_script(location, json.dumps(options, sort_keys=True))
    flat_keys, arguments = [], []
    for counter, pair in zip(counters, keys, strict=True):
        flat_keys.extend(store.make_key(key) for key in pair)
        arguments.extend((1 if counter.counts else 0, counter.window * 2))
    answers = script(keys=flat_keys, args=arguments)
    return [(int(answers[i]), int(answers[i + 1])) for i in range(0, len(answers), 2)]


def _cache_counts(store, counters, keys) -> list[tuple[int, int]]:
    counted = {}
    for counter, (current, _) in zip(counters, keys, strict=True):
        if counter.counts:
            store.add(current, 0, counter.window * 2)
            counted[current] = store.incr(current)
    wanted = [previous for _, previous in keys] + [
        current for current, _ in keys if current not in counted
    ]
    stored = store.get_many(wanted)
    return [
        (
            int(stored.get(previous) or 0),
            counted.get(current, int(stored.get(current) or 0)),
        )
        for current, previous in keys
    ]


def read_counts(counters: list[Counter], now: float) -> list[tuple[int, int]] | None:
    """(previous, current) count per counter, adding this request to those that count it; None
    when the cache is unavailable (fail open)."""
    if not counters or not breaker.allows():
        return None
    store = caches["default"]
    keys = []
    for counter in counters:
        index = int(now // counter.window)
        name = f"{KEY_PREFIX}:{counter.key}:{counter.window}"
        keys.append((f"{name}:{index}", f"{name}:{index - 1}"))
    try:
        if isinstance(store, RedisCache):
            counts = _redis_counts(store, counters, keys)
        else:
            counts = _cache_counts(store, counters, keys)
    except Exception as exc:  # any cache failure: serve the request unlimited
        breaker.failed(exc)
        return None
    breaker.worked()
    return counts


@dataclass(frozen=True)
class Verdict:
    retry_after: int = 0  # seconds; 0 = allowed
    reason: str = ""


ALLOWED = Verdict()


def _elapsed(now: float, rate: Rate) -> float:
    """The fraction of the current fixed window elapsed."""
    index = int(now // rate.window)
    return (now - index * rate.window) / rate.window


def _retry_after(previous: int, current: int, elapsed: float, rate: Rate) -> int:
    """Seconds until the sliding count lets one more request through."""
    room = rate.limit - 1 - current  # what the previous window's weight must fall to
    if room >= 0 and previous > 0:
        wait = (1.0 - room / previous) - elapsed
    else:
        # Not before the next window; then the current count's weight must decay.
        wait = (1.0 - elapsed) + max(0.0, 1.0 - (rate.limit - 1) / max(current, 1))
    return max(1, math.ceil(wait * rate.window))


def _hashed(value: str) -> str:
    # Client IDs come from the request: a fixed-length, key-safe name whatever was sent.
    return hashlib.blake2b(value.encode(errors="replace"), digest_size=12).hexdigest()


def check(
    *, endpoint: str, ip: str, client_id: str, now: float | None = None
) -> Verdict:
    """Count this request against its limits and say whether it may be served."""
    rates = configured_rates()
    limits: list[tuple[str, Rate, Counter]] = []
    if rates.failures_per_ip.is_on:
        window = rates.failures_per_ip.window
        counter = Counter(f"fail:ip:{ip}", window, counts=False)
        limits.append(("failures_per_ip", rates.failures_per_ip, counter))
    if rates.per_client.is_on and client_id:
        counter = Counter(
            f"{endpoint}:client:{_hashed(client_id)}", rates.per_client.window, True
        )
        limits.append(("per_client", rates.per_client, counter))
    if rates.per_ip.is_on:
        counter = Counter(f"{endpoint}:ip:{ip}", rates.per_ip.window, counts=True)
        limits.append(("per_ip", rates.per_ip, counter))
    now = time.time() if now is None else now
    counts = read_counts([counter for *_, counter in limits], now)
    if counts is None:
        return ALLOWED
    worst = ALLOWED
    for (reason, rate, counter), (previous, current) in zip(
        limits, counts, strict=True
    ):
        elapsed = _elapsed(now, rate)
        # The failure counter is only read: this request is over it once it is *at* the limit.
        limit = rate.limit if counter.counts else rate.limit - 1
        if previous * (1.0 - elapsed) + current > limit:
            wait = _retry_after(
                previous, current + (0 if counter.counts else 1), elapsed, rate
            )
            if wait > worst.retry_after:
                worst = Verdict(retry_after=wait, reason=reason)
    return worst


def record_failure(*, ip: str, now: float | None = None) -> None:
    """Count a failed client authentication from `ip` (an extra round trip, on failures only)."""
    rate = configured_rates().failures_per_ip
    if rate.is_on:
        now = time.time() if now is None else now
        read_counts([Counter(f"fail:ip:{ip}", rate.window, counts=True)], now)


MESSAGES = {
    "per_client": "Too many requests for this client.",
    "per_ip": "Too many requests from this address.",
    "failures_per_ip": "Too many failed client authentications from this address.",
}


def refusal(verdict: Verdict) -> tuple[dict[str, str], str, int]:
    """(headers, body, status) of the 429 for `verdict`: Retry-After and an RFC 6749 §5.2 style
    error body."""
    body = {
        "error": "slow_down",
        "error_description": f"{MESSAGES[verdict.reason]} Retry after "
        f"{verdict.retry_after} seconds.",
    }
    headers = {
        "Content-Type": "application/json",
        "Retry-After": str(verdict.retry_after),
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
    }
    return headers, json.dumps(body), 429
