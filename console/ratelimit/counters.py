"""Where the rate limits' counts live (console/ratelimit/__init__.py says what they limit).

A counter is a name and a window length in seconds. `read` adds this request to the current fixed
window of each counter that counts it and answers, per counter, the previous window's count and the
current one's, from which the caller estimates the sliding window. Where the counts are kept
follows the default cache:

- the local-memory cache (`LocMemCache`, what the settings choose without `REDIS_URL`): a dict of
  ints in this process under one lock, not the cache API (which pickles every value and takes the
  cache's lock per call). The counts are per process, as they were in that cache, and go with it:
  an entry in it marks them valid, so clearing the cache (the tests do, between tests) clears
  them. A window is dropped once no request reads it (two windows on); one keeps at most
  `MAX_LOCAL_NAMES` names, beyond which the quarter least recently counted is forgotten, so a
  flood of made-up client IDs can neither grow the process without bound nor push out the
  count of the address sending them.
- Redis (`RedisCache`): one pipelined round trip for every counter of a request (INCR + EXPIRE of
  the current windows, GET of the previous ones and of counters only read), on a connection of
  the cache's own pool, so the counts are shared by every process and instance.
- any other cache: `add` + `incr` per counting counter and one `get_many`.

If the cache cannot be reached, `read` answers None (the caller fails open): one warning is logged
when it happens (and a line when it works again), and the cache is not tried again for
`CONSOLE_RATELIMIT_RETRY_SECONDS`, so an outage costs no latency.
"""

import itertools
import logging
import threading
import time
import weakref
from typing import Any, NamedTuple

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache

# The name operators know these warnings by, whichever module of the package logs them.
logger = logging.getLogger("console.ratelimit")

KEY_PREFIX = "rl"
# A window of the local counts keeps this many names (addresses, client IDs) at most.
MAX_LOCAL_NAMES = 20_000
# Present in the local-memory cache while the local counts are valid: clearing the cache drops it.
LOCAL_MARKER = f"{KEY_PREFIX}:local-counts"


class Counter(NamedTuple):
    key: str  # what is counted, e.g. "token:ip:192.0.2.1"
    window: int  # seconds
    counts: bool  # incremented by this request (False: only read, the failure counter)


class _Breaker:
    """After a cache failure, skip the cache for a while instead of paying for it per request."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.open_until = 0.0
        self.is_down = False

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
        if self.is_down:
            with self.lock:
                if self.is_down:
                    self.is_down = False
                    logger.warning("Rate limiting is back on: the cache answers again.")


breaker = _Breaker()


class LocalCounts:
    """This process's counts: for each window (length, index), the count of each name."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.windows: dict[tuple[int, int], dict[str, int]] = {}

    def read(self, counters: list[Counter], now: float) -> list[tuple[int, int]]:
        counts = []
        with self.lock:
            for counter in counters:
                index = int(now // counter.window)
                previous = self.windows.get((counter.window, index - 1))
                current = self.windows.get((counter.window, index))
                if current is None:
                    current = self._open(counter.window, index, now)
                # Taken out and put back: a window's names are in the order they were last
                # counted or read, so the ones forgotten first are the least recent.
                count = current.pop(counter.key, 0) + (1 if counter.counts else 0)
                if count:
                    if len(current) >= MAX_LOCAL_NAMES:
                        _forget_least_recent_quarter(current)
                    current[counter.key] = count
                counts.append(
                    (previous.get(counter.key, 0) if previous is not None else 0, count)
                )
        return counts

    def _open(self, length: int, index: int, now: float) -> dict[str, int]:
        """A new window; those no request reads any more (before the previous one) are dropped."""
        for key in [key for key in self.windows if (key[1] + 2) * key[0] <= now]:
            del self.windows[key]
        window: dict[str, int] = {}
        self.windows[(length, index)] = window
        return window


def _forget_least_recent_quarter(window: dict[str, int]) -> None:
    # A flood of names (made-up client IDs) cannot grow the process without bound, nor push out
    # the names it keeps counting (its address): the local-memory cache culled the same way.
    for key in list(itertools.islice(window, len(window) // 4)):
        del window[key]


local_counts = LocalCounts()


def _local(store: LocMemCache) -> LocalCounts:
    """The local counts, emptied first if the local-memory cache was cleared since (the tests
    clear it between tests: the counts behave as if they were in it)."""
    if store.get(LOCAL_MARKER) is None:
        with local_counts.lock:
            if store.add(LOCAL_MARKER, True, timeout=None):
                local_counts.windows.clear()
    return local_counts


def read(counters: list[Counter], now: float) -> list[tuple[int, int]] | None:
    """(previous, current) count per counter, incrementing those that count this request; None
    when the cache is unavailable (fail open)."""
    if not counters or not breaker.allows():
        return None
    store = caches["default"]
    try:
        if isinstance(store, LocMemCache):
            counts = _local(store).read(counters, now)
        elif isinstance(store, RedisCache):
            counts = _counts_redis(store, counters, _keys(store, counters, now))
        else:
            counts = _counts_generic(store, counters, _keys(store, counters, now))
    except Exception as exc:  # any cache failure: serve the request unlimited
        breaker.failed(exc)
        return None
    breaker.worked()
    return counts


def _to_int(value: object) -> int:
    try:
        return int(value or 0)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 0


def _keys(
    store: BaseCache, counters: list[Counter], now: float
) -> list[tuple[str, str]]:
    keys = []
    for counter in counters:
        index = int(now // counter.window)
        current = f"{KEY_PREFIX}:{counter.key}:{counter.window}:{index}"
        previous = f"{KEY_PREFIX}:{counter.key}:{counter.window}:{index - 1}"
        if isinstance(store, RedisCache):  # raw commands: the cache's own key names
            # (make_key: these keys are hex digits, addresses and colons, nothing to validate)
            current = store.make_key(current)
            previous = store.make_key(previous)
        keys.append((current, previous))
    return keys


# The cache's connection pool, per cache client (per thread: so are Django's caches); asking the
# cache for it builds a redis.Redis client each time, which costs more than the round trip.
_redis_pools: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _redis_pool(store: RedisCache) -> Any:
    cache_client = store._cache
    pool = _redis_pools.get(cache_client)
    if pool is None:
        pool = cache_client.get_client(write=True).connection_pool
        _redis_pools[cache_client] = pool
    return pool


def _counts_redis(
    store: RedisCache, counters: list[Counter], keys: list[tuple[str, str]]
) -> list[tuple[int, int]]:
    commands: list[tuple] = []
    for counter, (current, previous) in zip(counters, keys, strict=True):
        if counter.counts:
            commands.append(("INCR", current))
            commands.append(("EXPIRE", current, counter.window * 2))
        else:
            commands.append(("GET", current))
        commands.append(("GET", previous))
    # Pipelined by hand on a pooled connection: redis-py's Pipeline object costs more CPU than
    # all the rest of the limiter.
    pool = _redis_pool(store)
    connection = pool.get_connection()
    try:
        connection.send_packed_command(connection.pack_commands(commands))
        replies = iter([connection.read_response() for _ in commands])
    except BaseException:
        connection.disconnect()  # replies may be left unread on it
        raise
    finally:
        pool.release(connection)
    counts = []
    for counter in counters:
        current = _to_int(next(replies))
        if counter.counts:
            next(replies)  # EXPIRE's answer
        counts.append((_to_int(next(replies)), current))
    return counts


def _counts_generic(
    store: BaseCache, counters: list[Counter], keys: list[tuple[str, str]]
) -> list[tuple[int, int]]:
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
            _to_int(stored.get(previous)),
            counted[current] if current in counted else _to_int(stored.get(current)),
        )
        for current, previous in keys
    ]
