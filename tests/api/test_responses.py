"""The API's JSON answers are written without JsonResponse (it costs the hot path an encoder per
response) and must stay byte for byte what JsonResponse would send."""

import datetime
import json
import uuid
from decimal import Decimal

from django.http import JsonResponse

from oauthapps.api import views
from tests.tokens.fixtures import get_token


def test_the_bytes_are_json_response_s(rf):
    data = {
        "id": uuid.UUID("5b7c0e4e-7a0b-4a50-9f67-7a3c1f2b8e11"),
        "name": 'Acme "Corp" é ✓',
        "created_at": datetime.datetime(2026, 11, 27, 9, 0, 0, 123456, datetime.UTC),
        "price": Decimal("1.50"),
        "list": [1, 2.5, None, True],
    }
    ours = views._json(data, status=201)
    theirs = JsonResponse(data, status=201)
    assert ours.content == theirs.content
    assert ours.status_code == 201
    assert ours["Content-Type"] == theirs["Content-Type"] == "application/json"
    assert ours["Cache-Control"] == "no-store"


def test_the_org_answer_on_the_wire(api_client, org, make_app):
    creds = make_app(org, scopes=["org:member"], add_to=[org])
    token = get_token(api_client, creds)["access_token"]
    response = api_client.get(
        f"/api/v1/orgs/{org.pk}", headers={"Authorization": f"Bearer {token}"}
    )
    expected = {
        "id": str(org.pk),
        "name": org.name,
        "created_at": org.created_at.isoformat(),
    }
    assert response.content == JsonResponse(expected).content
    assert json.loads(response.content) == expected
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
