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
overlaps, plus the current one's), so a burst at a window boundary cannot double the limit. The
counts are kept by `counters` in this package. With Redis (`REDIS_URL`) they are shared by every
instance: every counter of a request is one pipelined round trip (INCR + EXPIRE of the current
windows, GET of the previous ones and of the failure counters); a failed authentication costs one
more. Without Redis they are kept in the process's memory beside the local-memory cache (cleared
with it): the limits then hold per gunicorn worker, not across instances.

The limits are read from settings once per process, and again when a setting of theirs changes
through `override_settings` (pytest-django's `settings` fixture uses it).

If the cache cannot be reached, rate limiting fails open: requests are served unlimited, one
warning is logged when it happens (and a line when it works again), and the cache is not tried
again for `CONSOLE_RATELIMIT_RETRY_SECONDS`, so an outage costs no latency. Availability of the
token service matters more than its rate limits; the failure limit's protection is what is lost.
"""

import base64
import binascii
import hashlib
import ipaddress
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache, wraps
from urllib.parse import unquote_plus

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse

from console.ratelimit import counters
from console.ratelimit.counters import Counter

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
# Only a body this small is parsed here for its client_id; the views refuse larger ones anyway.
MAX_PARSED_BODY_BYTES = 16 * 1024
FAILURE_STATUS = 401  # invalid_client: the credentials were wrong

breaker = counters.breaker  # fails open while the cache is away (see counters)


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


RATE_SETTINGS = frozenset(
    {
        "CONSOLE_TOKEN_RATE_PER_CLIENT",
        "CONSOLE_TOKEN_RATE_PER_IP",
        "CONSOLE_TOKEN_RATE_WINDOW",
        "CONSOLE_TOKEN_FAIL_RATE_PER_IP",
        "CONSOLE_TOKEN_FAIL_WINDOW",
    }
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
def _reread_rates(*, setting: str, **kwargs: object) -> None:
    # Reading five settings and building the Rates on every request cost more than all the
    # rest of a check; settings change only in tests, through override_settings.
    if setting in RATE_SETTINGS:
        configured_rates.cache_clear()


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
    return _normalized(address)


@lru_cache(maxsize=1024)
def _normalized(address: str) -> str:
    """`address` as the limits count it (parsing costs more than all the rest of a check, and
    the same addresses come again and again)."""
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
    """The client ID the request says it is (Basic header, else the form's client_id, else the
    `iss` of its client assertion: private_key_jwt clients may send no client_id), not yet
    verified."""
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
        form = request.POST
        return form.get("client_id") or _assertion_issuer(form.get("client_assertion"))
    except Exception:  # a body Django cannot parse: the view answers it
        return ""


def _assertion_issuer(assertion: str | None) -> str:
    """The `iss` a client assertion (a JWT) claims, unverified; "" if it names none."""
    if not assertion or assertion.count(".") != 2:
        return ""
    payload = assertion.split(".")[1]
    try:
        claims = json.loads(
            base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        )
    except (binascii.Error, ValueError):
        return ""
    issuer = claims.get("iss") if isinstance(claims, dict) else None
    return issuer if isinstance(issuer, str) else ""


@dataclass(frozen=True)
class Verdict:
    retry_after: int = 0  # seconds; 0 = allowed
    reason: str = ""


ALLOWED = Verdict()


def _elapsed(now: float, rate: Rate) -> float:
    """The fraction of the current fixed window elapsed."""
    index = int(now // rate.window)
    return (now - index * rate.window) / rate.window


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


def _hashed(value: str) -> str:
    # Client IDs come from the request: a fixed-length, key-safe name whatever was sent.
    return hashlib.blake2b(value.encode(errors="replace"), digest_size=12).hexdigest()


def check(
    *, endpoint: str, ip: str, client_id: str, now: float | None = None
) -> Verdict:
    """Count this request against its limits and say whether it may be served."""
    rates = configured_rates()
    limits: list[tuple[str, Rate]] = []
    to_count: list[Counter] = []
    if rates.failures_per_ip.is_on:
        limits.append(("failures_per_ip", rates.failures_per_ip))
        to_count.append(
            Counter(f"fail:ip:{ip}", rates.failures_per_ip.window, counts=False)
        )
    if rates.per_client.is_on and client_id:
        limits.append(("per_client", rates.per_client))
        to_count.append(
            Counter(
                f"{endpoint}:client:{_hashed(client_id)}",
                rates.per_client.window,
                counts=True,
            )
        )
    if rates.per_ip.is_on:
        limits.append(("per_ip", rates.per_ip))
        to_count.append(
            Counter(f"{endpoint}:ip:{ip}", rates.per_ip.window, counts=True)
        )
    now = time.time() if now is None else now
    counts = counters.read(to_count, now)
    if counts is None:
        return ALLOWED
    worst = ALLOWED
    for (reason, rate), counter, (previous, current) in zip(
        limits, to_count, counts, strict=True
    ):
        elapsed = _elapsed(now, rate)
        # The failure counter is only read: this request is over it once it is *at* the limit.
        limit = rate.limit if counter.counts else rate.limit - 1
        if _estimate(previous, current, elapsed) > limit:
            wait = _retry_after(
                previous, current + (0 if counter.counts else 1), elapsed, rate
            )
            if wait > worst.retry_after:
                worst = Verdict(retry_after=wait, reason=reason)
    return worst


def record_failure(*, ip: str, now: float | None = None) -> None:
    """Count a failed client authentication from `ip` (an extra round trip, on failures only)."""
    rate = configured_rates().failures_per_ip
    if not rate.is_on:
        return
    now = time.time() if now is None else now
    counters.read([Counter(f"fail:ip:{ip}", rate.window, counts=True)], now)


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
