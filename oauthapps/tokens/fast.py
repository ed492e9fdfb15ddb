"""The token endpoint's fast path: one SQL statement and no oauthlib for a request it can vouch for.

Automated clients ask for tokens again and again with the same, valid credentials. For such a
request, the answer depends only on the app, its grants and its organizations' services, which
this process remembers (state.apps, filled by selectors.oauth_app_for_token_request) together with
the token state version it read them at. So the fast path decides from that memory, and lets the
database confirm it in the same statement that records the token: the INSERT of the IssuedToken
row only happens while the version is unchanged (services.issued_token_record_if_unchanged). If
something changed in between (a secret regenerated, the app disabled, a grant removed, anywhere,
by any instance), nothing is written and the request takes the general path, which reads the
database again. The answer is therefore the one the general path would give at that moment.
The token is signed while PostgreSQL runs that INSERT (db.execute_meanwhile), and dropped unsent
if the row was not written.

Everything the fast path does not vouch for goes the general way (server.ConsoleOAuthLibCore and
oauthlib), unchanged: every error, every request of a client this process has not seen since the
last change, unusual parameters, repeated or malformed ones. A success has the same fields, in the
same order, with the same headers, as oauthlib's (tests/tokens/test_fast_path.py compares them).
"""

import json

from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse
from oauthlib.oauth2.rfc6749 import errors

from console.issuer import issuer
from oauthapps.tokens import access_tokens, keys, services, state
from oauthapps.tokens.server import parse_form
from oauthapps.tokens.validator import (
    choose_grant,
    client_credentials,
    effective_scopes,
    matching_secret_generation,
    may_use_client_credentials,
    parse_org_id,
)

# What a client-credentials token request may carry here; anything else goes the general way,
# among it every client assertion (client_assertion, client_assertion_type: private_key_jwt is
# verified, and its jti used up, by the validator only; matching_secret_generation refuses a
# secret for such an app).
PARAMETERS = frozenset({"grant_type", "scope", "orgId", "client_id", "client_secret"})
HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _form(request: HttpRequest) -> dict[str, str] | None:
    """The body's parameters, if it is a well-formed form naming known ones, each once."""
    if request.META.get("QUERY_STRING"):
        return None
    form = parse_form(request)
    if isinstance(form, errors.OAuth2Error) or not form.keys() <= PARAMETERS:
        return None
    return form


def token_response(request: HttpRequest) -> HttpResponse | None:
    """The token response if this request can be answered from what the process remembers and
    the database confirms it; None to let the general path answer."""
    form = _form(request)
    if form is None or form.get("grant_type") != "client_credentials":
        return None
    try:
        client_id, secret = client_credentials(
            request.META.get("HTTP_AUTHORIZATION", ""),
            form.get("client_id"),
            form.get("client_secret"),
        )
    except errors.OAuth2Error:
        return None
    org_id, org_id_valid = parse_org_id(form.get("orgId"))
    remembered = state.apps.get((client_id, org_id))
    if remembered is None:
        return None
    version, (app, grants) = remembered
    if app is None or app.is_disabled or not may_use_client_credentials(app):
        return None
    secret_generation = matching_secret_generation(app, secret)
    if secret_generation is None:
        return None
    try:
        grant = choose_grant(
            grants,
            requested_org_id=org_id,
            org_id_valid=org_id_valid,
            owning_org_id=app.organization_id,
        )
        scopes = effective_scopes(form.get("scope"), grant)
    except errors.OAuth2Error:
        return None
    lifetime = app.access_token_ttl_minutes * 60
    token = access_tokens.new_token(
        client_id=app.client_id,
        org_id=grant.org_id,
        scopes=scopes,
        lifetime=lifetime,
        issuer=issuer(request),
    )
    key = keys.signing_key()  # (may read the database, once a minute: not meanwhile)
    try:
        # Signed while PostgreSQL records it; a token whose row was not written is dropped.
        recorded, signed = services.issued_token_record_if_unchanged(
            meanwhile=lambda: access_tokens.sign(token.claims, key),
            version=version,
            jti=token.jti,
            app_id=app.pk,
            organization_id=grant.org_id,
            scope=token.claims["scope"],
            issued_at=token.issued_at,
            expires_at=token.expires_at,
            secret_generation=secret_generation,
        )
    except (OperationalError, InterfaceError):
        # The pooled connection was broken while idle (PostgreSQL restarted, a proxy dropped it):
        # the general path starts on a new one. A row written after all is for a token that
        # nobody received: it is never presented, and it expires.
        if connection.in_atomic_block or connection.is_usable():
            raise
        connection.close()
        return None
    if not recorded:
        return None
    body = {
        "access_token": signed,
        "expires_in": lifetime,
        "token_type": "bearer",
        "scope": token.claims["scope"],
    }
    response = HttpResponse(json.dumps(body), content_type="application/json")
    for name, value in HEADERS.items():
        response[name] = value
    return response
