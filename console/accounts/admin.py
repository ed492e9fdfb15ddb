from django.contrib import admin
from django.http import HttpRequest

from console.accounts.models import Invitation


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Invitations are made, resent and revoked from an organization's Members page; staff see
    them here (the link's key is stored only as a hash)."""

    list_display = [
        "email",
        "organization",
        "role",
        "is_developer",
        "status",
        "sent_at",
    ]
    list_filter = ["role", "is_developer", "sent_at"]
    search_fields = ["email", "organization__name", "=organization__id"]
    list_select_related = ["organization"]
    readonly_fields = [
        "organization",
        "email",
        "role",
        "is_developer",
        "invited_by",
        "created_at",
        "sent_at",
        "expires_at",
        "accepted_at",
        "accepted_by",
        "revoked_at",
    ]
    exclude = ["key_hash"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
