"""schemathesis against the resource API's own OpenAPI document (/api/v1/openapi.json), served by
a live server: every operation, with generated path parameters and bodies (valid and invalid), and a token that may do
everything, a token whose scope allows little, or none; half the cases are aimed at the token's
real org and services so they get past 404. No answer is a 5xx or strays from the document.

(The document is loaded inside the test: it lists the catalog's scopes, so it needs the
database. schemathesis' lazy pytest fixture does not work with pytest 9, hence the loop.)
"""

import itertools
import json

import pytest
import schemathesis
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.tokens.fixtures import get_token

pytestmark = pytest.mark.django_db(transaction=True)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_OPERATION = 30  # per operation and mode (positive, negative)


@pytest.fixture
def access(org, make_app, contains):
    """Bearer headers: every scope the org can grant, a scope that allows little here, none."""
    contains(org, "compute", "billing")
    everything = make_app(
        org,
        scopes=["org:owner", "svc:compute:admin", "svc:billing:viewer"],
        add_to=[org],
    )
    narrow = make_app(org, scopes=["svc:billing:viewer"], add_to=[org])
    client = Client()
    return [
        {"Authorization": f"Bearer {get_token(client, everything)['access_token']}"},
        {"Authorization": f"Bearer {get_token(client, narrow)['access_token']}"},
        {},
    ]


def exercise(operation, mode, *, org_id: str, access: list, base_url: str) -> set[int]:
    """Run one operation's generated cases in one mode; the statuses they got."""
    statuses: set[int] = set()

    @given(
        case=operation.as_strategy(generation_mode=mode),
        aim=st.booleans(),
        # Weighted towards what gets past the scope check (compute + every scope).
        service=st.sampled_from(["compute", "compute", "billing", "networking"]),
        headers=st.sampled_from([access[0], *access]),
    )
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,  # the same cases on every run: CI stays repeatable
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def run(case, aim, service, headers):
        if aim:
            case.path_parameters["org_id"] = org_id
            if "service_slug" in case.path_parameters:
                case.path_parameters["service_slug"] = service
        response = case.call_and_validate(
            base_url=base_url, headers=headers, checks=CHECKS
        )
        statuses.add(response.status_code)

    run()
    return statuses


def test_the_api_keeps_to_its_document(org, access, live_server):
    document = json.loads(Client().get("/api/v1/openapi.json").content)
    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 5
    calls = {
        f"{mode.value} {operation.label}": exercise(
            operation,
            mode,
            org_id=str(org.pk),
            access=access,
            base_url=f"{live_server.url}/api/v1",
        )
        for operation, mode in itertools.product(operations, GenerationMode)
    }

    # The generated cases reached the real answers, not only 401/404.
    statuses = set().union(*calls.values())
    assert {200, 201, 400, 401, 403, 404} <= statuses, calls
