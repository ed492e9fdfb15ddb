"""OAuth app pages, one module per concern (STYLE.md §1): the wizard, the list and app page,
edit/delete, the secret or public keys, the orgs an app is added to, and the org's audit log."""

from oauthapps.views.apps import app_detail, app_list
from oauthapps.views.audit import audit_log, audit_log_export
from oauthapps.views.grants import (
    app_add_by_client_id,
    app_add_to_orgs,
    app_regrant,
    app_remove_from_org,
)
from oauthapps.views.keys import (
    app_add_public_key,
    app_change_jwks_uri,
    app_remove_public_key,
)
from oauthapps.views.manage import app_delete, app_edit
from oauthapps.views.secrets import (
    app_end_secret_overlap,
    app_regenerate_secret,
    app_rotate_secret,
)
from oauthapps.views.wizard import app_add_to_org, app_create

__all__ = [
    "app_add_by_client_id",
    "app_add_public_key",
    "app_add_to_org",
    "app_add_to_orgs",
    "app_change_jwks_uri",
    "app_create",
    "app_delete",
    "app_detail",
    "app_edit",
    "app_end_secret_overlap",
    "app_list",
    "app_regenerate_secret",
    "app_regrant",
    "app_remove_from_org",
    "app_remove_public_key",
    "app_rotate_secret",
    "audit_log",
    "audit_log_export",
]
