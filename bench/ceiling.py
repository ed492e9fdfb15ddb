"""`make bench`'s measured ceiling for any token endpoint signing with the configured algorithm: the
production settings and URLs, plus `POST /bench/ceiling`, which does what every token endpoint
must and nothing else.

The view makes a token's claims (access_tokens.new_token), signs them with the current signing
key, and answers the token response's JSON and headers. No form parsing, no client
authentication, no rate limit, no database. Whatever a real token endpoint adds (checking the
client, recording the token so it can be revoked and introspected) can only make it slower, so
this target's ratio to the no-op, measured in the same run, is the most a token endpoint could
reach on the machine the benchmark runs on.

gunicorn loads it only in `make bench`, through DJANGO_SETTINGS_MODULE=bench.ceiling_settings
(this module is its ROOT_URLCONF). The URL is tried first, which costs every other request one
comparison of a fixed string.
"""

import json
import uuid

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from console import urls as console_urls
from console.issuer import issuer
from oauthapps.tokens import access_tokens, keys

LIFETIME = 1800
CLIENT_ID = "c" * 40  # as long as a real client ID
ORG_ID = uuid.UUID(int=1)


@require_POST
@csrf_exempt
@login_not_required
def ceiling(request: HttpRequest) -> HttpResponse:
    token = access_tokens.new_token(
        client_id=CLIENT_ID,
        org_id=ORG_ID,
        scopes=["org:owner"],
        lifetime=LIFETIME,
        issuer=issuer(request),
    )
    body = {
        "access_token": access_tokens.sign(token.claims, keys.signing_key()),
        "expires_in": LIFETIME,
        "token_type": "bearer",
        "scope": token.claims["scope"],
    }
    response = HttpResponse(json.dumps(body), content_type="application/json")
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


urlpatterns = [path("bench/ceiling", ceiling), *console_urls.urlpatterns]
handler500 = console_urls.handler500
handler400 = console_urls.handler400
handler404 = console_urls.handler404
