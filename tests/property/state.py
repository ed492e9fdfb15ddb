"""What "nothing changed" means for the property tests: every row of the console's own tables."""

import hashlib
import json

from django.apps import apps

# Sessions and sign-in attempt records change on any request; they are not the console's data.
WATCHED_APPS = ("auth", "account", "mfa", "accounts", "orgs", "oauthapps", "tokens")


def snapshot() -> dict[str, str]:
    """A digest of every row of every model of the watched apps, by model."""
    digests = {}
    for model in apps.get_models():
        if model._meta.app_label not in WATCHED_APPS or model._meta.proxy:
            continue
        rows = sorted(
            json.dumps(row, sort_keys=True, default=str)
            for row in model._default_manager.values()
        )
        digests[model._meta.label] = hashlib.sha256(
            "\n".join(rows).encode()
        ).hexdigest()
    return digests


def changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {label for label in before if before[label] != after.get(label)}


def count(model_label: str) -> int:
    return apps.get_model(model_label)._default_manager.count()
