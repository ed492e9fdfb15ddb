"""Accounts tests: a real SMTP server on loopback, and codes from an authenticator app."""

import email
import email.policy
import re
import socket
import time
from collections.abc import Iterator
from email.message import EmailMessage

import pyotp
import pytest
from aiosmtpd.controller import Controller
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import encrypt

from tests.tokens.fixtures import catalog, make_app  # noqa: F401


class Inbox:
    """What the SMTP server received, parsed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's hook)
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server(settings) -> Iterator[Inbox]:
    """An aiosmtpd server on a free loopback port, and the console's mailer pointed at it."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": controller.port, "timeout": 5},
        }
    }
    try:
        yield inbox
    finally:
        controller.stop()


def text_body(message) -> str:
    """The plain-text part of a message (a Django EmailMessage or a received one)."""
    if hasattr(message, "get_body"):
        return message.get_body(preferencelist=("plain",)).get_content()
    return message.body


def link_in(message, path: str) -> str:
    """The path (and query) of the first link in the message that starts with `path`."""
    match = re.search(rf"https?://[^/\s]+({re.escape(path)}\S*)", text_body(message))
    assert match, text_body(message)
    return match[1]


def enable_totp(user) -> pyotp.TOTP:
    """Turn on an authenticator app for the user, as allauth stores it; returns the app."""
    secret = pyotp.random_base32()
    Authenticator.objects.create(
        user=user, type=Authenticator.Type.TOTP, data={"secret": encrypt(secret)}
    )
    return pyotp.TOTP(secret)


def valid_codes(totp: pyotp.TOTP) -> list[str]:
    """The codes the console accepts now (MFA_TOTP_TOLERANCE = 1: this step and its
    neighbours), each usable once."""
    now = time.time()
    return [totp.at(now), totp.at(now + totp.interval), totp.at(now - totp.interval)]


def wrong_code(totp: pyotp.TOTP) -> str:
    """A code the console does not accept now."""
    valid = set(valid_codes(totp))
    return next(c for c in (f"{n:06d}" for n in range(1_000_000)) if c not in valid)
