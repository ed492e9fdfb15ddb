"""Every state change of OAuth apps (STYLE.md §2): keyword-only, typed, atomic, audited.

`apps` creates, edits and deletes apps; `secrets` replaces their client secret; `keys` manages
the public keys of private_key_jwt apps; `grants` adds them to organizations and removes them;
`expiry` tells Owners of secrets about to expire. Import from here.
"""

from oauthapps.services.apps import (
    APP_DESCRIPTION_MAX_LENGTH,
    APP_NAME_MAX_LENGTH,
    oauth_app_create,
    oauth_app_delete,
    oauth_app_set_disabled,
    oauth_app_update,
)
from oauthapps.services.expiry import secret_expiry_notices_send
from oauthapps.services.grants import (
    oauth_app_add_to_org,
    oauth_app_regrant,
    oauth_app_remove_from_org,
)
from oauthapps.services.keys import (
    oauth_app_add_public_keys,
    oauth_app_change_jwks_uri,
    oauth_app_remove_public_key,
)
from oauthapps.services.secrets import (
    OVERLAP_DEFAULT_HOURS,
    OVERLAP_MAX_HOURS,
    OVERLAP_MIN_HOURS,
    SECRET_MAX_AGE_DAYS,
    has_overlap,
    oauth_app_end_secret_overlap,
    oauth_app_regenerate_secret,
    oauth_app_revoke_all_tokens,
    oauth_app_rotate_secret,
    secret_fingerprint,
)

__all__ = [
    "APP_DESCRIPTION_MAX_LENGTH",
    "APP_NAME_MAX_LENGTH",
    "OVERLAP_DEFAULT_HOURS",
    "OVERLAP_MAX_HOURS",
    "OVERLAP_MIN_HOURS",
    "SECRET_MAX_AGE_DAYS",
    "has_overlap",
    "oauth_app_add_public_keys",
    "oauth_app_add_to_org",
    "oauth_app_change_jwks_uri",
    "oauth_app_create",
    "oauth_app_delete",
    "oauth_app_end_secret_overlap",
    "oauth_app_regenerate_secret",
    "oauth_app_regrant",
    "oauth_app_remove_from_org",
    "oauth_app_remove_public_key",
    "oauth_app_revoke_all_tokens",
    "oauth_app_rotate_secret",
    "oauth_app_set_disabled",
    "oauth_app_update",
    "secret_expiry_notices_send",
    "secret_fingerprint",
]
