"""Rate limits for the token service's endpoints, shared by every gunicorn instance through the cache.

Three limits, each a number of requests per window of seconds (settings, from the environment;
a limit of 0 turns it off):

- requests per client ID (`CONSOLE_TOKEN_RATE_PER_CLIENT` per `CONSOLE_TOKEN_RATE_WINDOW`),
- requests per source address (`CONSOLE_TOKEN_RATE_PER_IP` per `CONSOLE_TOKEN_RATE_WINDOW`),
- failed client authentications per source address (`CONSOLE_TOKEN_FAIL_RATE_PER_IP` per
  `CONSOLE_TOKEN_FAIL_WINDOW`): credential stuffing. Once over it, the address is answered 429
  without its credentials being checked at all, on the token, introspection and revocation
  endpoints alike.

A request over a limit gets `429 Too Many Requests`, `Retry-After` (seconds) and an RFC 6749 §5.2
style body: `{"error": "slow_down", "error_description": ...}` (`slow_down` is the token endpoint
error the IANA OAuth registry has for "too fast", from RFC 8628).

Counting is a sliding window (the previous fixed window's count, weighted by how much of it still
overlaps, plus the current one's), so a burst at a window boundary cannot double the limit. With
Redis (`REDIS_URL`) every counter of a request is one pipelined round trip (INCR + EXPIRE of the
current windows, GET of the previous ones and of the failure counters); a failed authentication
costs one more. Without Redis the cache is the process's local memory: the limits then hold per
gunicorn worker, not across instances.

If the cache cannot be reached, rate limiting fails open: requests are served unlimited, one
warning is logged when it happens (and a line when it works again), and the cache is not tried
again for `CONSOLE_RATELIMIT_RETRY_SECONDS`, so an outage costs no latency. Availability of the
token service matters more than its rate limits; the failure limit's protection is what is lost.
"""

import base64
import binascii
import hashlib
import ipaddress
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from urllib.parse import unquote_plus

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
# Only a body this small is parsed here for its client_id; the views refuse larger ones anyway.
MAX_PARSED_BODY_BYTES = 16 * 1024
KEY_PREFIX = "rl"
FAILURE_STATUS = 401  # invalid_client: the credentials were wrong


@dataclass(frozen=True)
class Rate:
    limit: int
    window: int

    @property
    def is_on(self) -> bool:
        return self.limit > 0 and self.window > 0


@dataclass(frozen=True)
class Rates:
    per_client: Rate
    per_ip: Rate
    failures_per_ip: Rate


def configured_rates() -> Rates:
    """The limits in force (read on each request, so tests can override settings)."""
    window = settings.CONSOLE_TOKEN_RATE_WINDOW
    return Rates(
        per_client=Rate(settings.CONSOLE_TOKEN_RATE_PER_CLIENT, window),
        per_ip=Rate(settings.CONSOLE_TOKEN_RATE_PER_IP, window),
        failures_per_ip=Rate(
            settings.CONSOLE_TOKEN_FAIL_RATE_PER_IP, settings.CONSOLE_TOKEN_FAIL_WINDOW
        ),
    )


def client_ip(request: HttpRequest) -> str:
    """The address a request came from, as the limits (and the sign-in lockout) count it.

    REMOTE_ADDR, unless `CONSOLE_TRUSTED_PROXY_COUNT` proxies we run sit in front: then the
    address the outermost of them saw (X-Forwarded-For, counted from the right, since everything
    left of that was written by the client). IPv6 addresses count per /64, the block one
    subscriber usually gets, so rotating addresses inside it does not reset the limits.
    """
    address = request.META.get("REMOTE_ADDR", "") or ""
    proxies = settings.CONSOLE_TRUSTED_PROXY_COUNT
    if proxies > 0:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies:
            address = forwarded[-proxies]
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return "unknown"
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def client_address(request: HttpRequest) -> str | None:
    """AXES_CLIENT_IP_CALLABLE: `client_ip`, or None when there is no address (a request made in
    the process, e.g. the test client's `force_login`), which axes stores as unknown."""
    address = client_ip(request)
    return None if address == "unknown" else address


def claimed_client_id(request: HttpRequest) -> str:
    """The client ID the request says it is (Basic header, else the form), not yet verified."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return ""
        return unquote_plus(decoded.partition(":")[0])
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return ""
    if request.content_type != FORM_CONTENT_TYPE or length > MAX_PARSED_BODY_BYTES:
        return ""
    try:
        return request.POST.get("client_id", "")
    except Exception:  # a body Django cannot parse: the view answers it
        return ""


@dataclass(frozen=True)
class Verdict:
    retry_after: int = 0  # seconds; 0 = allowed
    reason: str = ""


ALLOWED = Verdict()


@dataclass(frozen=True)
class _Counter:
    reason: str
    key: str
    rate: Rate
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


def _window(now: float, rate: Rate) -> tuple[int, float]:
    """(index of the current fixed window, fraction of it elapsed)."""
    index = int(now // rate.window)
    return index, (now - index * rate.window) / rate.window


def _estimate(previous: int, current: int, elapsed: float) -> float:
    return previous * (1.0 - elapsed) + current


def _retry_after(previous: int, current: int, elapsed: float, rate: Rate) -> int:
    """Seconds until the sliding count lets one more request through."""
    room = rate.limit - 1 - current  # what the previous window's weight must fall to
    if room >= 0 and previous > 0:
        wait = (1.0 - room / previous) - elapsed
    else:
        # Not before the next window; then the current count's weight must decay.
        wait = (1.0 - elapsed) + max(0.0, 1.0 - (rate.limit - 1) / max(current, 1))
    return max(1, math.ceil(wait * rate.window))


def _to_int(value: object) -> int:
    try:
        return int(value or 0)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 0


def _store() -> BaseCache:
    return caches["default"]


def _counts_redis(
    store: RedisCache, counters: list[_Counter], keys: list[tuple[str, str]]
) -> list[tuple[int, int]]:
    client = store._cache.get_client(write=True)
    pipe = client.pipeline(transaction=False)
    for counter, (current, previous) in zip(counters, keys, strict=True):
        if counter.counts:
            pipe.incr(current)
            pipe.expire(current, counter.rate.window * 2)
        else:
            pipe.get(current)
        pipe.get(previous)
    results = iter(pipe.execute())
    counts = []
    for counter in counters:
        current = _to_int(next(results))
        if counter.counts:
            next(results)  # EXPIRE's answer
        counts.append((_to_int(next(results)), current))
    return counts


def _counts_generic(
    store: BaseCache, counters: list[_Counter], keys: list[tuple[str, str]]
) -> list[tuple[int, int]]:
    counted = {}
    for counter, (current, _) in zip(counters, keys, strict=True):
        if counter.counts:
            store.add(current, 0, counter.rate.window * 2)
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


def _keys(
    store: BaseCache, counters: list[_Counter], now: float
) -> list[tuple[str, str]]:
    keys = []
    for counter in counters:
        index, _ = _window(now, counter.rate)
        current = f"{KEY_PREFIX}:{counter.key}:{counter.rate.window}:{index}"
        previous = f"{KEY_PREFIX}:{counter.key}:{counter.rate.window}:{index - 1}"
        if isinstance(store, RedisCache):  # raw commands: the cache's own key names
            current = store.make_and_validate_key(current)
            previous = store.make_and_validate_key(previous)
        keys.append((current, previous))
    return keys


def _read_counts(counters: list[_Counter], now: float) -> list[tuple[int, int]] | None:
    """(previous, current) count per counter, incrementing those that count this request; None
    when the cache is unavailable (fail open)."""
    if not counters or not breaker.allows():
        return None
    store = _store()
    try:
        keys = _keys(store, counters, now)
        if isinstance(store, RedisCache):
            counts = _counts_redis(store, counters, keys)
        else:
            counts = _counts_generic(store, counters, keys)
    except Exception as exc:  # any cache failure: serve the request unlimited
        breaker.failed(exc)
        return None
    breaker.worked()
    return counts


def _hashed(value: str) -> str:
    # Client IDs come from the request: a fixed-length, key-safe name whatever was sent.
    return hashlib.blake2b(value.encode(errors="replace"), digest_size=12).hexdigest()


def check(
    *, endpoint: str, ip: str, client_id: str, now: float | None = None
) -> Verdict:
    """Count this request against its limits and say whether it may be served."""
    rates = configured_rates()
    counters = []
    if rates.failures_per_ip.is_on:
        counters.append(
            _Counter(
                "failures_per_ip", f"fail:ip:{ip}", rates.failures_per_ip, counts=False
            )
        )
    if rates.per_client.is_on and client_id:
        counters.append(
            _Counter(
                "per_client",
                f"{endpoint}:client:{_hashed(client_id)}",
                rates.per_client,
                counts=True,
            )
        )
    if rates.per_ip.is_on:
        counters.append(
            _Counter("per_ip", f"{endpoint}:ip:{ip}", rates.per_ip, counts=True)
        )
    now = time.time() if now is None else now
    counts = _read_counts(counters, now)
    if counts is None:
        return ALLOWED
    worst = ALLOWED
    for counter, (previous, current) in zip(counters, counts, strict=True):
        _, elapsed = _window(now, counter.rate)
        # The failure counter is only read: this request is over it once it is *at* the limit.
        limit = counter.rate.limit if counter.counts else counter.rate.limit - 1
        if _estimate(previous, current, elapsed) > limit:
            wait = _retry_after(
                previous, current + (0 if counter.counts else 1), elapsed, counter.rate
            )
            if wait > worst.retry_after:
                worst = Verdict(retry_after=wait, reason=counter.reason)
    return worst


def record_failure(*, ip: str, now: float | None = None) -> None:
    """Count a failed client authentication from `ip` (an extra round trip, on failures only)."""
    rate = configured_rates().failures_per_ip
    if not rate.is_on:
        return
    now = time.time() if now is None else now
    _read_counts([_Counter("failures_per_ip", f"fail:ip:{ip}", rate, counts=True)], now)


MESSAGES = {
    "per_client": "Too many requests for this client.",
    "per_ip": "Too many requests from this address.",
    "failures_per_ip": "Too many failed client authentications from this address.",
}


def too_many_requests(verdict: Verdict) -> JsonResponse:
    """429 with Retry-After and an RFC 6749 §5.2 style error body."""
    response = JsonResponse(
        {
            "error": "slow_down",
            "error_description": f"{MESSAGES[verdict.reason]} Retry after "
            f"{verdict.retry_after} seconds.",
        },
        status=429,
    )
    response["Retry-After"] = str(verdict.retry_after)
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


def rate_limited(endpoint: str) -> Callable:
    """View decorator: apply the token service's limits to this endpoint (see the module doc)."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def limited(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            ip = client_ip(request)
            verdict = check(
                endpoint=endpoint, ip=ip, client_id=claimed_client_id(request)
            )
            if verdict.retry_after:
                return too_many_requests(verdict)
            response = view(request, *args, **kwargs)
            if response.status_code == FAILURE_STATUS:
                record_failure(ip=ip)
            return response

        return limited

    return decorator
