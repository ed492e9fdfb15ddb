"""Token requests and the answers the token endpoint gives them: every header, status and body
(the access token aside), recorded from the endpoint before the pipeline was made one
(tests/tokens/test_one_pipeline.py checks that they still hold). `{org}`, `{other_org}` and
`{client_id}` stand for the test's organization, another one and the app's client ID.
"""

import base64

from tests.factories import OrganizationFactory


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


CASES = {
    "basic": lambda app, org: ({"grant_type": "client_credentials"}, app.basic),
    "post": lambda app, org: (
        {
            "grant_type": "client_credentials",
            "client_id": app.client_id,
            "client_secret": app.client_secret,
        },
        None,
    ),
    "scope and orgId": lambda app, org: (
        {
            "grant_type": "client_credentials",
            "scope": "svc:compute:viewer",
            "orgId": str(org.pk),
        },
        app.basic,
    ),
    "state on success": lambda app, org: (
        {"grant_type": "client_credentials", "state": "xyz"},
        app.basic,
    ),
    "missing grant_type": lambda app, org: ({}, app.basic),
    "empty grant_type": lambda app, org: ({"grant_type": ""}, app.basic),
    "password grant": lambda app, org: ({"grant_type": "password"}, app.basic),
    "wrong secret": lambda app, org: (
        {"grant_type": "client_credentials"},
        basic(app.client_id, "nope"),
    ),
    "wrong secret with state": lambda app, org: (
        {"grant_type": "client_credentials", "state": "abc"},
        basic(app.client_id, "nope"),
    ),
    "unknown client": lambda app, org: (
        {"grant_type": "client_credentials"},
        basic("unknown", "x"),
    ),
    "no authentication": lambda app, org: ({"grant_type": "client_credentials"}, None),
    "client_id without secret": lambda app, org: (
        {"grant_type": "client_credentials", "client_id": app.client_id},
        None,
    ),
    "empty secret": lambda app, org: (
        {
            "grant_type": "client_credentials",
            "client_id": app.client_id,
            "client_secret": "",
        },
        None,
    ),
    "basic and body secret": lambda app, org: (
        {"grant_type": "client_credentials", "client_secret": app.client_secret},
        app.basic,
    ),
    "other client_id in body": lambda app, org: (
        {"grant_type": "client_credentials", "client_id": "someone-else"},
        app.basic,
    ),
    "malformed basic": lambda app, org: (
        {"grant_type": "client_credentials"},
        "Basic !!!",
    ),
    "bearer instead of basic": lambda app, org: (
        {"grant_type": "client_credentials"},
        "Bearer abc",
    ),
    "scope not granted": lambda app, org: (
        {"grant_type": "client_credentials", "scope": "org:owner org:member"},
        app.basic,
    ),
    "malformed scope": lambda app, org: (
        {"grant_type": "client_credentials", "scope": 'org:member "<x>"'},
        app.basic,
    ),
    "non-ascii scope": lambda app, org: (
        {"grant_type": "client_credentials", "scope": "svc:cömpute:viewer"},
        app.basic,
    ),
    "empty scope": lambda app, org: (
        {"grant_type": "client_credentials", "scope": ""},
        app.basic,
    ),
    "malformed orgId": lambda app, org: (
        {"grant_type": "client_credentials", "orgId": "acme"},
        app.basic,
    ),
    "orgId of another org": lambda app, org: (
        {"grant_type": "client_credentials", "orgId": str(OrganizationFactory().pk)},
        app.basic,
    ),
    "unknown parameters": lambda app, org: (
        {"grant_type": "client_credentials", "foo": "bar", "redirect_uri": "x"},
        app.basic,
    ),
}


# case -> {status, headers (in order), body}; "disabled": the basic case for a disabled app;
# "query": the basic case sent to /oauth/token?state=q.
ANSWERS = {
    "basic and body secret": {
        "status": 400,
        "headers": [
            ["Content-Type", "application/json"],
            ["Cache-Control", "no-store"],
            ["Pragma", "no-cache"],
        ],
        "body": {
            "error": "invalid_request",
            "error_description": "Use one way to authenticate the "
            "client: HTTP Basic or client_secret "
            "in the body, not both.",
        },
    },
    "basic": {
        "status": 200,
        "headers": [
            ["Content-Type", "application/json"],
            ["Cache-Control", "no-store"],
            ["Pragma", "no-cache"],
        ],
        "body": {
            "access_token": "<token>",
            "expires_in": 1800,
            "token_type": "bearer",
            "scope": "org:member svc:compute:viewer",
        },
    },
    "bearer instead of basic": {
        "status": 401,
        "headers": [
            ["Content-Type", "application/json"],
            ["Cache-Control", "no-store"],
            ["Pragma", "no-cache"],
            [
                "WWW-Authenticate",
                'Basic realm="Cloud Services Console", charset="UTF-8"',
            ],
        ],
        "body": {
            "error": "invalid_client",
            "error_description": "Authenticate the client: HTTP "
            "Basic with the client ID and "
            "secret, or client_id and "
            "client_secret in the body.",
        },
    },
    "client_id without secret": {
        "status": 401,
        "headers": [
            ["Content-Type", "application/json"],
            ["Cache-Control", "no-store"],
            ["Pragma", "no-cache"],
            [
                "WWW-Authenticate",
                'Basic realm="Cloud Services Console", charset="UTF-8"',
            ],
        ],
        "body": {
            "error": "invalid_client",
            "error_description": "Authenticate the client: HTTP "
            "Basic with the client ID and "
            "secret, or client_id and "
            "client_secret in the body.",
        },
    },
    "disabled": {
        "status": 401,
        "headers": [
            ["Content-Type", "application/json"],
            ["Cache-Control", "no-store"],
            ["Pragma", "no-cache"],
            [
                "WWW-Authenticate",
                'Basic realm="Cloud Services Console", charset="UTF-8"',
            ],
        ],
        "body": {
            "error": "invalid_client",
            "error_description": "Client authentication failed.",
        },
    },
    "empty grant_type": {
        "status": 400,
        "headers": [
            ["Content-Type", "application/json"],
            ["Cache-Control", "no-store"],
            ["Pragma", "no-cache"],
        ],
        "body": {
            "error": "invalid_request",
            "error_description": "Request is missing grant type.",
        },
    },
    "empty scope": {
        "status": 200,
        "headers": [
            ["Content-Type", "application/json"],
            ["Cache-Control", "no-store"],
            ["Pragma", "no-cache"],
        ],
        "body": {
            "access_token": "<token>",
            "expires_in": 1800,
            "token_type": "bearer",
            "scope": "org:member svc:compute:viewer",
        },
    },
    "empty secret": {
        "status": 401,
        "headers": [
            ["Content-Type", "application/json"],
            ["Cache-Control", "no-store"],
            ["Pragma", "no-cache"],
            [
                "WWW-Authenticate",
                'Basic realm="Cloud Services Console", charset="UTF-8"',
            ],
        ],
        "body": {
            "error": "invalid_client",
            "error_description": "Authenticate the client: HTTP Basic with the "
            "client ID and secret, or client_id and "
            "client_secret in the body.",
        },
    },
    "malformed basic": {
        "status": 401,
        "headers": [
            ["Content-Type", "application/json"],
            ["Cache-Control", "no-store"],
            ["Pragma", "no-cache"],
            [
                "WWW-Authenticate",
                'Basic realm="Cloud Services Console", charset="UTF-8"',
            ],
        ],
        "body": {
            "error": "invalid_client",
            "error_description": "Authenticate the client: HTTP Basic with "
            "the client ID and secret, or client_id and "
            "client_secret in the body.",
        },
    },
    "malformed orgId": {
        "status": 400,
        "headers": [
            ["Content-Type", "application/json"],
            ["Cache-Control", "no-store"],
            ["Pragma", "no-cache"],
        ],
        "body": {
            "error": "invalid_request",
            "error_description": "orgId must be an organization ID (a UUID).",
        },
    },
    "malformed scope": {
        "status": 400,
        "headers": [
            ["Content-Type", "application/json"],
            ["Cache-Control", "no-store"],
            ["Pragma", "no-cache"],
        ],
        "body": {
            "error": "invalid_scope",
            "error_description": "Scopes look like org:<role> or "
            "svc:<service>:<role>, separated by "
            "spaces.",
        },
    },
    "missing grant_type": {
        "status": 400,
        "headers": [
            ["Content-Type", "application/json"],
            ["Cache-Control", "no-store"],
            ["Pragma", "no-cache"],
        ],
        "body": {
            "error": "invalid_request",
            "error_description": "Request is missing grant type.",
        },
    },
    "no authentication": {
        "status": 401,
        "headers": [
            ["Content-Type", "application/json"],
            ["Cache-Control", "no-store"],
            ["Pragma", "no-cache"],
            [
                "WWW-Authenticate",
                'Basic realm="Cloud Services Console", charset="UTF-8"',
            ],
        ],
        "body": {
            "error": "invalid_client",
            "error_description": "Authenticate the client: HTTP Basic with "
            "the client ID and secret, or client_id "
            "and client_secret in the body.",
        },
    },
    "non-ascii scope": {
        "status": 400,
        "headers": [
            ["Content-Type", "application/json"],
            ["Cache-Control", "no-store"],
            ["Pragma", "no-cache"],
        ],
        "body": {
            "error": "invalid_scope",
            "error_description": "Scopes look like org:<role> or "
            "svc:<service>:<role>, separated by "
            "spaces.",
        },
    },
    "orgId of another org": {
        "status": 400,
        "headers": [
            ["Content-Type", "application/json"],
            ["Cache-Control", "no-store"],
            ["Pragma", "no-cache"],
        ],
        "body": {
            "error": "invalid_grant",
            "error_description": "The app has not been added to "
            "organization {other_org}.",
        },
    },
    "other client_id in body": {
        "status": 400,
        "headers": [
            ["Content-Type", "application/json"],
            ["Cache-Control", "no-store"],
            ["Pragma", "no-cache"],
        ],
        "body": {
            "error": "invalid_request",
            "error_description": "The client_id in the body differs "
            "from the one in the Authorization "
            "header.",
        },
    },
    "password grant": {
        "status": 400,
        "headers": [
            ["Content-Type", "application/json"],
            ["Cache-Control", "no-store"],
            ["Pragma", "no-cache"],
        ],
        "body": {"error": "unsupported_grant_type"},
    },
    "post": {
        "status": 200,
        "headers": [
            ["Content-Type", "application/json"],
            ["Cache-Control", "no-store"],
            ["Pragma", "no-cache"],
        ],
        "body": {
            "access_token": "<token>",
            "expires_in": 1800,
            "token_type": "bearer",
            "scope": "org:member svc:compute:viewer",
        },
    },
    "query": {
        "status": 400,
        "headers": [
            ["Content-Type", "application/json"],
            ["Cache-Control", "no-store"],
            ["Pragma", "no-cache"],
        ],
        "body": {
            "error": "invalid_request",
            "error_description": "URL query parameters are not allowed",
            "state": "q",
        },
    },
    "scope and orgId": {
        "status": 200,
        "headers": [
            ["Content-Type", "application/json"],
            ["Cache-Control", "no-store"],
            ["Pragma", "no-cache"],
        ],
        "body": {
            "access_token": "<token>",
            "expires_in": 1800,
            "token_type": "bearer",
            "scope": "svc:compute:viewer",
        },
    },
    "scope not granted": {
        "status": 400,
        "headers": [
            ["Content-Type", "application/json"],
            ["Cache-Control", "no-store"],
            ["Pragma", "no-cache"],
        ],
        "body": {
            "error": "invalid_scope",
            "error_description": "The app was not granted these scopes in "
            "the organization: org:owner",
        },
    },
    "state on success": {
        "status": 200,
        "headers": [
            ["Content-Type", "application/json"],
            ["Cache-Control", "no-store"],
            ["Pragma", "no-cache"],
        ],
        "body": {
            "access_token": "<token>",
            "expires_in": 1800,
            "token_type": "bearer",
            "scope": "org:member svc:compute:viewer",
        },
    },
    "unknown client": {
        "status": 401,
        "headers": [
            ["Content-Type", "application/json"],
            ["Cache-Control", "no-store"],
            ["Pragma", "no-cache"],
            [
                "WWW-Authenticate",
                'Basic realm="Cloud Services Console", charset="UTF-8"',
            ],
        ],
        "body": {
            "error": "invalid_client",
            "error_description": "Client authentication failed.",
        },
    },
    "unknown parameters": {
        "status": 200,
        "headers": [
            ["Content-Type", "application/json"],
            ["Cache-Control", "no-store"],
            ["Pragma", "no-cache"],
        ],
        "body": {
            "access_token": "<token>",
            "expires_in": 1800,
            "token_type": "bearer",
            "scope": "org:member svc:compute:viewer",
        },
    },
    "wrong secret with state": {
        "status": 401,
        "headers": [
            ["Content-Type", "application/json"],
            ["Cache-Control", "no-store"],
            ["Pragma", "no-cache"],
            [
                "WWW-Authenticate",
                'Basic realm="Cloud Services Console", charset="UTF-8"',
            ],
        ],
        "body": {
            "error": "invalid_client",
            "error_description": "Client authentication failed.",
            "state": "abc",
        },
    },
    "wrong secret": {
        "status": 401,
        "headers": [
            ["Content-Type", "application/json"],
            ["Cache-Control", "no-store"],
            ["Pragma", "no-cache"],
            [
                "WWW-Authenticate",
                'Basic realm="Cloud Services Console", charset="UTF-8"',
            ],
        ],
        "body": {
            "error": "invalid_client",
            "error_description": "Client authentication failed.",
        },
    },
}
