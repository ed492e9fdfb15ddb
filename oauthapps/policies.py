"""Client authentication policies: a secret's expiry and the app's IP allowlist.

Each rule is written once, as a plain function of the app (and the request's source address or
the time), and returns None when the client may go on, or the RFC 6749 §5.2 `error_description`
of an `invalid_client` refusal. Client authentication (the validator's `authenticate_client`)
asks them after the secret matched; forms and the model use the parsing below. Nothing here
reads or writes the database.

- **Secret expiry.** An organization may make its apps' client secrets expire `N` days
  (30 to 730) after they are made (`Organization.secret_expiry_days`). A new or regenerated
  secret gets `secret_expires_at`; a rotation gives the new secret a fresh one, and the previous
  secret keeps working until the overlap ends or its own expiry, whichever comes first.
- **IP allowlist.** An app may list networks (CIDR blocks, IPv4 or IPv6) it authenticates from
  (`OAuthApp.allowed_networks`); an empty list allows every address. The address is the one
  `console.http.source_address` gives (it honours `CONSOLE_TRUSTED_PROXY_COUNT`).

Descriptions stay within RFC 6749 §5.2's characters (no double quote, no backslash): they name
only times and parsed addresses, never raw input.
"""

import ipaddress
import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError

if TYPE_CHECKING:
    from oauthapps.models import OAuthApp

# The daily notice to the owning organization's Owners goes this many days before expiry.
EXPIRY_NOTICE_DAYS = (14, 3)
MAX_NETWORKS = 50
# Longer than any network written out (an IPv6 address with a prefix length is at most 49).
MAX_NETWORK_LENGTH = 64

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


# Secret expiry ------------------------------------------------------------------------------


def secret_expires_at(expiry_days: int | None, *, made_at: datetime) -> datetime | None:
    """When a secret made at `made_at` expires under an expiry policy of `expiry_days` days
    (None: the organization's secrets do not expire)."""
    if expiry_days is None:
        return None
    return made_at + timedelta(days=expiry_days)


def previous_secret_ends_at(
    *, overlap_ends_at: datetime, expires_at: datetime | None
) -> datetime:
    """When a secret replaced by a rotation stops working: at the end of the overlap, or at its
    own expiry if that comes first (a rotation never extends a secret's life)."""
    if expires_at is None:
        return overlap_ends_at
    return min(overlap_ends_at, expires_at)


def secret_refusal(app: "OAuthApp", generation: int, now: datetime) -> str | None:
    """Why the secret of `generation` (the one that matched) may no longer be used, or None.

    Only the current secret is checked here: a previous secret's end (rotation overlap, capped by
    its expiry) is `previous_secret_expires_at`, which decides whether it matched at all.
    """
    if generation != app.secret_generation or app.secret_expires_at is None:
        return None
    if now < app.secret_expires_at:
        return None
    return (
        f"The client secret expired at {_utc(app.secret_expires_at)}. An Owner, "
        "Administrator or Developer of the organization that owns the app can rotate or "
        "regenerate it on the app's page in the console."
    )


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# IP allowlist -------------------------------------------------------------------------------

_SEPARATORS = re.compile(r"[\s,;]+")


def parse_networks(text: str) -> list[str]:
    """The networks written in `text` (one per line, or separated by commas or spaces), each in
    its canonical form, without repeats, in the order given. A lone address is a /32 (IPv4) or
    /128 (IPv6). Raises ValidationError naming every entry that is not a network."""
    entries = [entry for entry in _SEPARATORS.split(text.strip()) if entry]
    return normalize_networks(entries)


def normalize_networks(entries: list[str]) -> list[str]:
    """`entries` as canonical CIDR blocks (see parse_networks); raises ValidationError."""
    if len(entries) > MAX_NETWORKS:
        raise ValidationError(
            f"List at most {MAX_NETWORKS} networks (you listed {len(entries)}). Combine "
            "neighbouring addresses into larger blocks, e.g. 203.0.113.0/24.",
            code="too_many_networks",
        )
    networks: list[str] = []
    problems: list[str] = []
    for entry in entries:
        network, problem = _parse_network(entry)
        if problem:
            problems.append(problem)
        elif network not in networks:
            networks.append(network)
    if problems:
        raise ValidationError(
            [ValidationError(problem, code="invalid_network") for problem in problems]
        )
    return networks


def _parse_network(entry: object) -> tuple[str, str]:
    """(canonical network, "") or ("", what is wrong with `entry`)."""
    if not isinstance(entry, str) or len(entry) > MAX_NETWORK_LENGTH:
        return (
            "",
            "Each network is a CIDR block such as 203.0.113.0/24 or 2001:db8::/32.",
        )
    try:
        network = ipaddress.ip_network(entry, strict=True)
    except ValueError as exc:
        if "host bits set" in str(exc):
            suggestion = ipaddress.ip_network(entry, strict=False)
            return (
                "",
                f"{entry} has bits set after the prefix: did you mean {suggestion}?",
            )
        return "", (
            f"{entry} is not an IPv4 or IPv6 address or CIDR block (e.g. 203.0.113.0/24, "
            "198.51.100.7 or 2001:db8::/32)."
        )
    return str(network), ""


def validate_networks(value: object) -> None:
    """The model field's validator (Django admin, full_clean): a list of networks, each written
    as parse_networks writes it."""
    if not isinstance(value, list):
        raise ValidationError("The allowed networks are a list of CIDR blocks.")
    if normalize_networks(value) != value:
        raise ValidationError(
            "Write each network once, in its canonical form (e.g. 203.0.113.0/24)."
        )


@lru_cache(maxsize=4096)
def _networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    # Parsing costs more than matching, and the same allowlists come on every request.
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


@lru_cache(maxsize=4096)
def parse_address(address: str) -> Address | None:
    """`address` as an IP address (an IPv4-mapped IPv6 address as the IPv4 one), or None."""
    try:
        parsed = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return parsed.ipv4_mapped
        if parsed.scope_id:
            return ipaddress.IPv6Address(str(parsed).partition("%")[0])
    return parsed


def address_refusal(app: "OAuthApp", address: str) -> str | None:
    """Why a request from `address` may not authenticate as `app`, or None: the app lists
    networks and the address is in none of them (or could not be read)."""
    if not app.allowed_networks:
        return None
    parsed = parse_address(address)
    if parsed is None:
        return (
            "The request's source address could not be determined, and the app only "
            "accepts requests from the networks on its IP allowlist."
        )
    if any(parsed in network for network in _networks(tuple(app.allowed_networks))):
        return None
    return (
        f"Requests from {parsed} are not allowed for this client: the address is not on "
        "the app's IP allowlist."
    )
