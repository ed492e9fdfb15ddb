from django.contrib.auth.hashers import check_password

from oauthapps import services
from oauthapps.models import AppGrant


def test_create_returns_plaintext_secret_and_stores_a_fast_hash(org, owner):
    app, secret = services.oauth_app_create(
        organization=org,
        created_by=owner,
        name=" Billing sync ",
        access_token_ttl_minutes=30,
        scopes=["org:member", "svc:compute:viewer"],
    )
    app.refresh_from_db()
    assert app.name == "Billing sync"
    assert secret not in app.client_secret
    assert app.client_secret.startswith("console_secret_sha256$")
    assert check_password(secret, app.client_secret)


def test_add_to_org_without_services_warns(org, owner):
    app, _ = services.oauth_app_create(
        organization=org,
        created_by=owner,
        name="x",
        access_token_ttl_minutes=5,
        scopes=["svc:compute:viewer"],
    )
    grant, missing = services.oauth_app_add_to_org(app=app, org=org, added_by=owner)
    assert missing == ["compute"]
    assert owner.notifications.get().level == "warning"
    services.oauth_app_add_to_org(app=app, org=org, added_by=owner)
    assert AppGrant.objects.count() == 1
