import json

import pytest
from django.contrib.auth.hashers import check_password
from django.core.management import CommandError, call_command

from oauthapps.models import AppGrant, OAuthApp
from orgs.models import Membership, Organization


def test_creates_org_owner_and_app_and_writes_credentials(db, tmp_path):
    output = tmp_path / "creds.json"
    call_command(
        "create_oauth_app",
        "--org=Bench Org",
        "--create-org",
        "--created-by=bench@example.com",
        "--name=bench",
        "--ttl=5",
        "--scope=org:member",
        "--scope=svc:compute:viewer",
        "--add-to-org",
        f"--output={output}",
    )
    document = json.loads(output.read_text())
    app = OAuthApp.objects.get(client_id=document["client_id"])
    org = Organization.objects.get(name="Bench Org")
    assert document["org_id"] == str(org.pk)
    assert document["scopes"] == ["org:member", "svc:compute:viewer"]
    assert document["access_token_ttl_minutes"] == 5
    assert check_password(document["client_secret"], app.client_secret)
    assert AppGrant.objects.filter(app=app, organization=org).exists()
    assert Membership.objects.get(organization=org).role == Membership.Role.OWNER
    assert output.stat().st_mode & 0o077 == 0


def test_rejects_a_bad_ttl_and_changes_nothing(db, org, owner):
    with pytest.raises(CommandError, match="access_token_ttl_minutes"):
        call_command(
            "create_oauth_app",
            f"--org={org.pk}",
            f"--created-by={owner.email}",
            "--name=x",
            "--ttl=301",
            "--scope=org:member",
        )
    assert not OAuthApp.objects.exists()


def test_refuses_a_user_who_is_not_an_owner(db, org, member):
    with pytest.raises(CommandError, match="not an Owner"):
        call_command(
            "create_oauth_app",
            f"--org={org.pk}",
            f"--created-by={member.email}",
            "--name=x",
            "--scope=org:member",
        )
