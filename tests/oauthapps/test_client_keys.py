"""Public keys for private_key_jwt: what may be pasted (PEM, JWK, JWKS), fingerprints, and JWKS
URLs (which addresses the console fetches, and how)."""

import datetime
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from django.utils import timezone

from oauthapps import client_keys
from oauthapps.client_keys import InvalidJWKSURL, InvalidPublicKey, JWKSUnavailable
from tests.tokens.assertions import JWKSServer, key_pair

NOW = timezone.now()


def records(text: str) -> list[dict]:
    return client_keys.key_records(text, now=NOW)


def test_the_fingerprint_is_the_rfc_7638_thumbprint():
    # RFC 7638 §3.1's example key and thumbprint.
    jwk = {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tS"
        "oc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0"
        "_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4"
        "vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert client_keys.thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    [record] = records(json.dumps(jwk))
    assert record["thumbprint"] == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    assert record["kid"] == "2011-04-29"  # the JWK's own kid is kept
    assert record["alg"] == "RS256"


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_a_pem_public_key_of_each_kind(alg):
    key = key_pair(alg)
    [record] = records(key.public_pem)
    assert record["alg"] == alg
    assert record["thumbprint"] == key.thumbprint
    assert record["kid"] == key.thumbprint
    assert record["jwk"] == key.public_jwk
    assert "d" not in record["jwk"]


def test_a_jwk_a_jwks_and_two_pem_blocks():
    rsa_key, ec_key = key_pair("RS256"), key_pair("ES256")
    assert records(json.dumps(ec_key.public_jwk))[0]["thumbprint"] == ec_key.thumbprint
    jwks = {"keys": [rsa_key.public_jwk, ec_key.public_jwk]}
    assert [r["alg"] for r in records(json.dumps(jwks))] == ["RS256", "ES256"]
    both = rsa_key.public_pem + "\n" + ec_key.public_pem
    assert [r["thumbprint"] for r in records(both)] == [
        rsa_key.thumbprint,
        ec_key.thumbprint,
    ]


def test_a_certificates_public_key():
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "client.example")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(datetime.datetime(2026, 1, 1))
        .not_valid_after(datetime.datetime(2036, 1, 1))
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    [record] = records(pem)
    assert record["alg"] == "ES256"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Paste a public key"),
        ("ssh-rsa AAAAB3NzaC1yc2E", "Paste a public key in PEM"),
        ('{"keys": [', "not valid JSON"),
        ('{"keys": []}', "The JWKS has no keys"),
        ('{"keys": "abc"}', "The JWKS has no keys"),
        ('{"n": "abc"}', "neither a JWK"),
        ('{"keys": [42]}', "must be a JSON object"),
        ('{"kty": "oct", "k": "c2VjcmV0"}', "symmetric key"),
        ('{"kty": "RSA", "n": "!!", "e": "AQAB"}', "not a valid RSA key"),
        ('{"kty": "XYZ"}', "Key type XYZ is not supported"),
        (
            "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----",
            "not a public key the console can read",
        ),
        ("-----BEGIN PUBLIC KEY-----\nMIIB", "No complete PEM block"),
    ],
)
def test_malformed_keys_are_refused_saying_why(text, message):
    with pytest.raises(InvalidPublicKey, match=message):
        records(text)


def test_private_keys_are_refused():
    key = key_pair("ES256")
    with pytest.raises(InvalidPublicKey, match="That is a private key"):
        records(key.private_pem)
    private_jwk = {**key.public_jwk, "d": "AAAA"}
    with pytest.raises(InvalidPublicKey, match="That JWK is a private key"):
        records(json.dumps(private_jwk))


def test_weak_or_unsupported_keys_are_refused():
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    pem = small.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    with pytest.raises(InvalidPublicKey, match="at least 2048 bits; this one has 1024"):
        records(pem)
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    pem = p384.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    with pytest.raises(InvalidPublicKey, match="must be on P-256"):
        records(pem)
    jwk = {**key_pair("RS256").public_jwk, "use": "enc"}
    with pytest.raises(InvalidPublicKey, match="for encryption"):
        records(json.dumps(jwk))
    jwk = {**key_pair("RS256").public_jwk, "alg": "RS512"}
    with pytest.raises(InvalidPublicKey, match="alg RS512 does not fit"):
        records(json.dumps(jwk))


def test_at_most_two_keys_each_once():
    one, two, three = key_pair("RS256"), key_pair("ES256"), key_pair("EdDSA")
    with pytest.raises(InvalidPublicKey, match="at most 2 public keys"):
        records(one.public_pem + two.public_pem + three.public_pem)
    existing = records(one.public_pem)
    with pytest.raises(InvalidPublicKey, match="already registered"):
        client_keys.merged(existing, records(one.public_pem))
    kept = client_keys.merged(existing, records(two.public_pem))
    with pytest.raises(InvalidPublicKey, match="remove one before adding another"):
        client_keys.merged(kept, records(three.public_pem))


# JWKS URLs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/jwks.json",
        "https://localhost/jwks.json",
        "https://10.1.2.3/jwks.json",
        "https://192.168.0.10/jwks.json",
        "https://172.16.0.1/jwks.json",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/jwks.json",
        "https://[fe80::1]/jwks.json",
        "https://[::ffff:127.0.0.1]/jwks.json",
        "https://0.0.0.0/jwks.json",
    ],
)
def test_in_production_loopback_private_and_link_local_addresses_are_refused(
    settings, url
):
    settings.DEBUG = False
    with pytest.raises(InvalidJWKSURL, match="loopback, private or link-local"):
        client_keys.check_jwks_url(url)


def test_in_production_only_https_without_credentials(settings):
    settings.DEBUG = False
    with pytest.raises(InvalidJWKSURL, match="must use https"):
        client_keys.check_jwks_url("http://93.184.216.34/jwks.json")
    with pytest.raises(InvalidJWKSURL, match="user name or password"):
        client_keys.check_jwks_url("https://user:pw@93.184.216.34/jwks.json")
    with pytest.raises(InvalidJWKSURL, match="Enter an https:// URL"):
        client_keys.check_jwks_url("ftp://93.184.216.34/jwks.json")
    assert client_keys.check_jwks_url("https://93.184.216.34/jwks.json") == [
        "93.184.216.34"
    ]


def test_in_development_loopback_is_allowed(settings):
    settings.DEBUG = True
    assert client_keys.check_jwks_url("http://127.0.0.1:9/jwks.json") == ["127.0.0.1"]


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, 300),
        ("max-age=60", 60),
        ("public, max-age=120, must-revalidate", 120),
        ("no-store", 0),
        ("no-cache, max-age=60", 0),
        ("max-age=999999999", 86400),
        ("max-age=abc", 0),
        ("public", 300),
    ],
)
def test_the_cache_lifetime_follows_cache_control(header, seconds):
    assert client_keys.cache_lifetime(header) == seconds


@pytest.fixture
def jwks_server(settings):
    settings.DEBUG = True  # a JWKS URL on loopback
    server = JWKSServer()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def empty_cache():
    from django.core.cache import cache

    cache.clear()


def test_a_jwks_url_is_fetched_and_cached_as_its_cache_control_says(jwks_server):
    key = key_pair("ES256")
    jwks_server.publish(key)
    jwks_server.cache_control = "max-age=300"

    for _ in range(3):
        [found] = client_keys.jwks_url_keys(jwks_server.url)
    assert found.thumbprint == key.thumbprint
    assert jwks_server.requests == 1

    jwks_server.cache_control = "no-store"
    client_keys.forget_jwks(jwks_server.url)
    for _ in range(2):
        client_keys.jwks_url_keys(jwks_server.url)
    assert jwks_server.requests == 3


def test_a_jwks_url_that_misbehaves(jwks_server, monkeypatch):
    jwks_server.status = 404
    with pytest.raises(JWKSUnavailable, match="answered HTTP 404"):
        client_keys.fetch_jwks(jwks_server.url)

    jwks_server.status = 200
    jwks_server.body = b" " * (client_keys.MAX_JWKS_BYTES + 1)
    with pytest.raises(JWKSUnavailable, match="larger than 64 KB"):
        client_keys.fetch_jwks(jwks_server.url)

    jwks_server.body = b'{"keys": [{"kty": "XYZ"}]}'
    with pytest.raises(InvalidPublicKey, match="has no RSA"):
        client_keys.jwks_url_keys(jwks_server.url)

    key = key_pair("RS256")
    jwks_server.body = json.dumps({"keys": [{**key.public_jwk, "d": "AAAA"}]}).encode()
    with pytest.raises(InvalidPublicKey, match="publishes a private key"):
        client_keys.jwks_url_keys(jwks_server.url)

    jwks_server.body = b"<html>not json</html>"
    with pytest.raises(InvalidPublicKey, match="does not serve JSON"):
        client_keys.jwks_url_keys(jwks_server.url)

    monkeypatch.setattr(client_keys, "SOCKET_TIMEOUT", 0.3)
    jwks_server.body = None
    jwks_server.delay = 1.0
    with pytest.raises(JWKSUnavailable, match="did not answer in time"):
        client_keys.fetch_jwks(jwks_server.url)


def test_a_jwks_leaves_out_encryption_and_unsupported_keys(jwks_server):
    key = key_pair("EdDSA")
    p384 = ec.generate_private_key(ec.SECP384R1())
    from jwt.algorithms import ECAlgorithm

    jwks_server.document = {
        "keys": [
            {**key_pair("RS256").public_jwk, "use": "enc"},
            ECAlgorithm.to_jwk(p384.public_key(), as_dict=True),
            {**key.public_jwk, "kid": "signing-2026"},
        ]
    }
    [found] = client_keys.jwks_url_keys(jwks_server.url)
    assert found.kid == "signing-2026"
    assert found.algorithms == ("EdDSA", "Ed25519")


def test_nothing_listens(settings):
    settings.DEBUG = True
    with pytest.raises(JWKSUnavailable, match="could not be reached"):
        client_keys.fetch_jwks("http://127.0.0.1:9/jwks.json")
