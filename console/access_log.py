"""gunicorn's access log without secrets (the gunicorn.conf.py `logger_class`).

A URL can carry a secret: a client that wrongly puts `client_secret` in the query string of a
token request (refused, but gunicorn would still log the URL), and the one-time keys in the paths
of invitation, email-confirmation and password-reset links. So every URL this logger writes (the
request line, the path, the referrer) has its query string dropped and those keys replaced by
`[key]`, and the query string atom is empty.
"""

import re
from urllib.parse import urlsplit, urlunsplit

from gunicorn.glogging import Logger

# Paths whose last segment is a one-time key (console/accounts/urls.py and allauth's URLs).
_KEYED_PATH = re.compile(
    r"^(/invitations/|/accounts/confirm-email/|/accounts/password/reset/key/)[^/]+"
)
REDACTED = r"\1[key]"


def redacted_path(path: str) -> str:
    """The path with a one-time key replaced, without query string or fragment."""
    path = path.split("?", 1)[0].split("#", 1)[0]
    return _KEYED_PATH.sub(REDACTED, path)


def redacted_url(url: str) -> str:
    """A full URL (a referrer) with the same treatment; '-' stays '-'."""
    if url in ("", "-"):
        return url
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, redacted_path(parts.path), "", ""))


class ConsoleLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        path = redacted_path(environ.get("RAW_URI") or environ.get("PATH_INFO") or "")
        atoms["r"] = f"{environ['REQUEST_METHOD']} {path} {environ['SERVER_PROTOCOL']}"
        atoms["U"] = path
        atoms["q"] = ""
        atoms["f"] = redacted_url(atoms.get("f", "-"))
        for header in ("{authorization}i", "{cookie}i", "{referer}i"):
            atoms.pop(header, None)
        return atoms
