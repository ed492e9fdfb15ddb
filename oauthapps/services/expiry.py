"""Telling Owners that a client secret is about to expire (the organization's expiry policy,
oauthapps/policies.py): what the daily `notify_expiring_secrets` command runs."""

import math
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator

from oauthapps.models import OAuthApp, SecretExpiryNotice
from oauthapps.policies import EXPIRY_NOTICE_DAYS
from oauthapps.selectors import oauth_apps_with_secrets_expiring
from orgs.selectors import organization_owners
from orgs.services import notification_send


def secret_expiry_notices_send(*, now: datetime | None = None) -> int:
    """Notify the owning organization's Owners of every current secret that expires within 14
    days, and again within 3 days: each notice once per app, secret and window, however often
    this runs (one SecretExpiryNotice row per notice). A run that comes late sends only the
    notice of the window the secret is in now. Returns how many notices (one per app) were sent."""
    now = now or timezone.now()
    expiring = oauth_apps_with_secrets_expiring(
        after=now, until=now + timedelta(days=max(EXPIRY_NOTICE_DAYS))
    )
    sent = 0
    for app in expiring.iterator(chunk_size=500):
        remaining = app.secret_expires_at - now
        days_before = min(
            days for days in EXPIRY_NOTICE_DAYS if remaining <= timedelta(days=days)
        )
        sent += _notice_send(app=app, days_before=days_before, now=now)
    return sent


@transaction.atomic
def _notice_send(*, app: OAuthApp, days_before: int, now: datetime) -> bool:
    """Record the notice and notify the Owners, unless this notice (or a later one) of this
    secret was sent already. Concurrent runs: the unique row lets one of them through."""
    notices = SecretExpiryNotice.objects.filter(
        app=app, secret_generation=app.secret_generation
    )
    if notices.filter(days_before__lte=days_before).exists():
        return False
    try:
        with transaction.atomic():
            SecretExpiryNotice.objects.create(
                app=app,
                secret_generation=app.secret_generation,
                days_before=days_before,
                sent_at=now,
            )
    except IntegrityError:
        return False
    org = app.organization
    days = max(1, math.ceil((app.secret_expires_at - now) / timedelta(days=1)))
    when = f"{app.secret_expires_at:%b %d, %Y, %H:%M} UTC"
    for owner in organization_owners(org=org):
        notification_send(
            user=owner,
            org=org,
            level="warning",
            title=Truncator(
                f"The client secret of {app.name} expires in {days} day"
                f"{'s' if days != 1 else ''}"
            ).chars(200),
            body=f"The client secret of {app.name} (client ID {app.client_id}) in "
            f"{org.name} expires on {when}. After that the token endpoint refuses it "
            "(invalid_client). Rotate it with an overlap on the app's page and give the new "
            "secret to the app's clients before then.",
            link=reverse("oauthapps:app_detail", args=[org.pk, app.pk]),
        )
    return True
