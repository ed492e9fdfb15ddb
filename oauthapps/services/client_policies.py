"""Client authentication's policies at the token endpoint (oauthapps/policies.py has the rules):
the refusal a client whose secret matched gets, and the record of addresses an IP allowlist
refused, for the app's page. Only refusals write: a granted request never comes here."""

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from oauthapps import policies
from oauthapps.models import REFUSED_ADDRESSES_KEPT, OAuthApp, RefusedAddress


def client_policy_refusal(
    app: OAuthApp, generation: int, address: str, *, record: bool = True
) -> str | None:
    """Why the app's policies refuse a client whose secret matched, or None: its IP allowlist
    (the refused address recorded, with `record`), then the secret's expiry. The
    error_description of the invalid_client answer."""
    refusal = policies.address_refusal(app, address)
    if refusal is not None:
        if record:
            refused_address_record(app_id=app.pk, address=address)
        return refusal
    return policies.secret_refusal(app, generation, timezone.now())


@transaction.atomic
def refused_address_record(*, app_id: int, address: str) -> None:
    """Remember that the app's IP allowlist refused a request from `address` (its count and
    latest time), for the app's page. Only refusals write: a granted request never comes here.
    At most REFUSED_ADDRESSES_KEPT addresses are kept per app, the latest; an address that is
    not one is kept as "unknown"."""
    parsed = policies.parse_address(address)
    address = str(parsed) if parsed is not None else "unknown"
    now = timezone.now()
    seen_before = RefusedAddress.objects.filter(app_id=app_id, address=address)
    if seen_before.update(last_refused_at=now, refusals=F("refusals") + 1):
        return
    try:
        with transaction.atomic():
            RefusedAddress.objects.create(
                app_id=app_id,
                address=address,
                first_refused_at=now,
                last_refused_at=now,
            )
    except IntegrityError:  # a concurrent refusal of the same address made the row
        seen_before.update(last_refused_at=now, refusals=F("refusals") + 1)
        return
    older = RefusedAddress.objects.filter(app_id=app_id).order_by(
        "-last_refused_at", "-pk"
    )[REFUSED_ADDRESSES_KEPT:]
    RefusedAddress.objects.filter(
        pk__in=list(older.values_list("pk", flat=True))
    ).delete()
