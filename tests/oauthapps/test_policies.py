"""The client authentication policies as plain functions (oauthapps/policies.py): secret expiry
and the IP allowlist. The token endpoint's tests (tests/tokens/test_client_policies.py) show
them at work."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from oauthapps import policies
from oauthapps.models import OAuthApp

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
# RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E.
DESCRIPTION = re.compile(r"^[\x20\x21\x23-\x5b\x5d-\x7e]+$")


def app(**fields) -> OAuthApp:
    """An unsaved app: the rules read only its fields."""
    return OAuthApp(secret_generation=fields.pop("secret_generation", 3), **fields)


# Secret expiry ------------------------------------------------------------------------------


def test_a_secret_expires_the_policys_days_after_it_is_made():
    assert policies.secret_expires_at(90, made_at=NOW) == NOW + timedelta(days=90)


def test_without_a_policy_a_secret_never_expires():
    assert policies.secret_expires_at(None, made_at=NOW) is None


def test_a_secret_without_expiry_is_never_refused():
    assert policies.secret_refusal(app(secret_expires_at=None), 3, NOW) is None


def test_a_secret_before_its_expiry_is_accepted():
    unexpired = app(secret_expires_at=NOW + timedelta(seconds=1))
    assert policies.secret_refusal(unexpired, 3, NOW) is None


def test_a_secret_from_its_expiry_on_is_refused_saying_it_expired():
    expired = app(secret_expires_at=NOW)
    refusal = policies.secret_refusal(expired, 3, NOW)
    assert refusal is not None
    assert "The client secret expired at 2027-03-01T12:00:00Z" in refusal
    assert "rotate or regenerate" in refusal
    assert DESCRIPTION.match(refusal)


def test_the_previous_secret_is_not_judged_by_the_current_ones_expiry():
    # During a rotation's overlap the previous secret (generation - 1) ends at its own time,
    # which decided already whether it matched.
    expired = app(secret_expires_at=NOW - timedelta(days=1))
    assert policies.secret_refusal(expired, 2, NOW) is None


def test_a_rotation_never_extends_the_previous_secrets_life():
    overlap_end = NOW + timedelta(hours=48)
    assert (
        policies.previous_secret_ends_at(overlap_ends_at=overlap_end, expires_at=None)
        == overlap_end
    )
    sooner = NOW + timedelta(hours=5)
    assert (
        policies.previous_secret_ends_at(overlap_ends_at=overlap_end, expires_at=sooner)
        == sooner
    )
    later = NOW + timedelta(days=30)
    assert (
        policies.previous_secret_ends_at(overlap_ends_at=overlap_end, expires_at=later)
        == overlap_end
    )


# Parsing networks ---------------------------------------------------------------------------


def test_networks_are_read_one_per_line_or_separated_by_commas_and_spaces():
    text = " 203.0.113.0/24\n198.51.100.7, 2001:DB8::/32 ;10.0.0.0/8\n\n"
    assert policies.parse_networks(text) == [
        "203.0.113.0/24",
        "198.51.100.7/32",
        "2001:db8::/32",
        "10.0.0.0/8",
    ]


def test_a_lone_ipv6_address_is_a_128_block_and_repeats_are_dropped():
    assert policies.parse_networks("2001:db8::1\n2001:db8::1/128") == [
        "2001:db8::1/128"
    ]


def test_nothing_written_is_no_allowlist():
    assert policies.parse_networks("  \n ") == []


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("10.0.0.300/8", "10.0.0.300/8 is not an IPv4 or IPv6 address or CIDR block"),
        (
            "203.0.113.0/33",
            "203.0.113.0/33 is not an IPv4 or IPv6 address or CIDR block",
        ),
        ("example.com", "example.com is not an IPv4 or IPv6 address or CIDR block"),
        (
            "2001:db8::g/32",
            "2001:db8::g/32 is not an IPv4 or IPv6 address or CIDR block",
        ),
        (
            "10.0.0.1/8",
            "10.0.0.1/8 has bits set after the prefix: did you mean 10.0.0.0/8?",
        ),
    ],
)
def test_an_entry_that_is_not_a_network_is_named_in_the_error(entry, message):
    with pytest.raises(ValidationError) as refused:
        policies.parse_networks(f"203.0.113.0/24\n{entry}")
    [said] = refused.value.messages
    assert said.startswith(message)


def test_every_bad_entry_is_named_at_once():
    with pytest.raises(ValidationError) as refused:
        policies.parse_networks("nope\n10.0.0.0/8\nalso-nope")
    assert len(refused.value.messages) == 2


def test_at_most_fifty_networks():
    fifty = "\n".join(f"10.0.{n}.0/24" for n in range(50))
    assert len(policies.parse_networks(fifty)) == 50
    with pytest.raises(ValidationError, match="at most 50 networks"):
        policies.parse_networks(fifty + "\n10.1.0.0/16")


def test_the_model_field_accepts_only_canonical_lists():
    policies.validate_networks(["203.0.113.0/24", "2001:db8::/32"])
    for bad in (["203.0.113.1/24"], ["203.0.113.0/24", "203.0.113.0/24"], "10.0.0.0/8"):
        with pytest.raises(ValidationError):
            policies.validate_networks(bad)


# The allowlist at client authentication -----------------------------------------------------

ALLOWLIST = ["203.0.113.0/24", "198.51.100.7/32", "2001:db8:1::/48"]


def test_an_app_without_an_allowlist_accepts_every_address():
    for address in ("203.0.113.5", "::1", "", "garbage"):
        assert policies.address_refusal(app(allowed_networks=[]), address) is None


@pytest.mark.parametrize(
    "address",
    [
        "203.0.113.0",
        "203.0.113.255",
        "198.51.100.7",
        "2001:db8:1::1",
        "2001:db8:1:ffff::9",
    ],
)
def test_addresses_inside_the_allowlist_are_accepted(address):
    assert policies.address_refusal(app(allowed_networks=ALLOWLIST), address) is None


def test_an_ipv4_mapped_ipv6_address_counts_as_its_ipv4_address():
    allowed = app(allowed_networks=ALLOWLIST)
    assert policies.address_refusal(allowed, "::ffff:203.0.113.9") is None
    assert policies.address_refusal(allowed, "::ffff:192.0.2.1") is not None


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("203.0.114.1", "203.0.114.1"),
        ("198.51.100.8", "198.51.100.8"),
        ("2001:db8:2::1", "2001:db8:2::1"),
        ("2001:DB8:0002:0000::1", "2001:db8:2::1"),
    ],
)
def test_addresses_outside_the_allowlist_are_refused_naming_the_address(address, shown):
    refusal = policies.address_refusal(app(allowed_networks=ALLOWLIST), address)
    assert refusal == (
        f"Requests from {shown} are not allowed for this client: the address is not on the "
        "app's IP allowlist."
    )
    assert DESCRIPTION.match(refusal)


def test_an_address_that_cannot_be_read_is_refused_without_echoing_it():
    refusal = policies.address_refusal(app(allowed_networks=ALLOWLIST), 'x"\\<y>')
    assert refusal is not None
    assert "could not be determined" in refusal
    assert DESCRIPTION.match(refusal)
