"""Django admin for staff: organizations, people and their memberships, the service catalog,
notifications and the (read-only) audit log."""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.forms import ModelForm
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest

from console.accounts.services import email_address_verify
from console.admin_lists import LargeTableAdmin
from oauthapps.selectors import AUDIT_ACTIONS, AUDIT_TARGETS
from orgs.models import (
    AuditEvent,
    Membership,
    Notification,
    Organization,
    OrganizationService,
    Service,
    ServiceRole,
)

admin.site.site_header = "Cloud Services Console administration"
admin.site.site_title = "Cloud Services Console admin"
admin.site.index_title = "Administration"


class OwnerKeepingFormSet(BaseInlineFormSet):
    """Staff may edit memberships freely, but an org with members keeps at least one Owner."""

    def clean(self) -> None:
        super().clean()
        kept = [
            form.cleaned_data
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        if kept and not any(row.get("role") == Membership.Role.OWNER for row in kept):
            raise ValidationError("An organization must keep at least one Owner.")


class MembershipInline(admin.TabularInline):
    model = Membership
    formset = OwnerKeepingFormSet
    extra = 0
    fields = ["user", "role", "is_developer", "created_at"]
    readonly_fields = ["created_at"]
    autocomplete_fields = ["user"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Membership]:
        return super().get_queryset(request).select_related("user")


class OrganizationServiceInline(admin.TabularInline):
    model = OrganizationService
    extra = 0
    fields = ["service", "added_by", "added_at"]
    readonly_fields = ["added_at"]
    raw_id_fields = ["added_by"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrganizationService]:
        return super().get_queryset(request).select_related("service", "added_by")


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "id", "member_count", "service_count", "created_at"]
    search_fields = ["name", "=id", "memberships__user__email"]
    list_filter = ["require_mfa", "created_at", "services"]
    readonly_fields = ["id", "created_at"]
    fields = ["id", "name", "require_mfa", "secret_expiry_days", "created_at"]
    inlines = [MembershipInline, OrganizationServiceInline]
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Organization]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                member_total=Count("memberships", distinct=True),
                service_total=Count("service_links", distinct=True),
            )
        )

    @admin.display(description="members", ordering="member_total")
    def member_count(self, org: Organization) -> int:
        return org.member_total

    @admin.display(description="services", ordering="service_total")
    def service_count(self, org: Organization) -> int:
        return org.service_total


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "role", "is_developer", "created_at"]
    list_filter = ["role", "is_developer", "created_at"]
    search_fields = ["user__email", "organization__name", "=organization__id"]
    list_select_related = ["user", "organization"]
    show_full_result_count = False
    # As the apps' changelist: Django's row rendering is most of the page's time.
    list_per_page = 25
    ordering = ["-pk"]  # newest first, along the primary key's index
    autocomplete_fields = ["user", "organization"]
    readonly_fields = ["created_at"]


class UserMembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["organization", "role", "is_developer", "created_at"]
    readonly_fields = ["created_at"]
    autocomplete_fields = ["organization"]
    verbose_name = "organization membership"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Membership]:
        return super().get_queryset(request).select_related("organization")


admin.site.unregister(User)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Django's user admin, plus the person's organizations and roles."""

    list_display = [
        "email",
        "organization_count",
        "is_staff",
        "is_active",
        "last_login",
        "date_joined",
    ]
    list_filter = ["is_staff", "is_superuser", "is_active", "memberships__role"]
    search_fields = ["email", "username", "first_name", "last_name"]
    ordering = ["email"]
    inlines = [UserMembershipInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return (
            super()
            .get_queryset(request)
            .annotate(membership_total=Count("memberships", distinct=True))
        )

    @admin.display(description="organizations", ordering="membership_total")
    def organization_count(self, user: User) -> int:
        return user.membership_total

    def save_model(
        self, request: HttpRequest, obj: User, form: ModelForm, change: bool
    ) -> None:
        """Staff vouch for the address of an account they make or re-address: it counts as
        verified, so the person can sign in to the console."""
        super().save_model(request, obj, form, change)
        if not change or "email" in form.changed_data:
            try:
                email_address_verify(user=obj)
            except ValidationError as exc:
                messages.warning(request, " ".join(exc.messages))


class ServiceRoleInline(admin.TabularInline):
    model = ServiceRole
    extra = 0
    fields = ["position", "slug", "name", "description", "scope"]
    readonly_fields = ["scope"]
    ordering = ["position", "slug"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ServiceRole]:
        return super().get_queryset(request).select_related("service")


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "role_list", "organization_count"]
    search_fields = ["name", "slug", "description", "roles__slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [ServiceRoleInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Service]:
        return (
            super()
            .get_queryset(request)
            .prefetch_related("roles")
            .annotate(org_total=Count("organization_links", distinct=True))
        )

    @admin.display(description="roles")
    def role_list(self, service: Service) -> str:
        return ", ".join(role.slug for role in service.roles.all())

    @admin.display(description="organizations", ordering="org_total")
    def organization_count(self, service: Service) -> int:
        return service.org_total


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["title", "user", "organization", "level", "created_at", "read_at"]
    list_filter = ["level", ("read_at", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["title", "body", "user__email", "organization__name"]
    list_select_related = ["user", "organization"]
    raw_id_fields = ["user", "organization"]
    readonly_fields = ["created_at"]
    date_hierarchy = "created_at"


class ChoicesFilter(admin.SimpleListFilter):
    """A filter over a fixed list of values: Django's own would read every distinct value of
    the column first (a scan of the whole audit log)."""

    values: dict[str, str] = {}

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return list(self.values.items())

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value():
            return queryset.filter(**{self.parameter_name: self.value()})
        return queryset


class AuditActionFilter(ChoicesFilter):
    title = "action"
    parameter_name = "action"
    values = AUDIT_ACTIONS


class AuditTargetFilter(ChoicesFilter):
    title = "target type"
    parameter_name = "target_type"
    values = AUDIT_TARGETS


@admin.register(AuditEvent)
class AuditEventAdmin(LargeTableAdmin):
    """The audit log is append-only: staff read it here, nobody edits or deletes it."""

    list_display = [
        "created_at",
        "action",
        "actor_label",
        "organization",
        "target_type",
        "target_label",
    ]
    list_filter = [AuditActionFilter, AuditTargetFilter, "created_at"]
    search_fields = [
        "action",
        "actor_label",
        "target_label",
        "target_id",
        "organization__name",
        "=organization__id",
    ]
    list_select_related = ["organization"]
    list_per_page = 50

    def get_readonly_fields(
        self, request: HttpRequest, obj: AuditEvent | None = None
    ) -> list[str]:
        return [field.name for field in AuditEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: AuditEvent | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: AuditEvent | None = None
    ) -> bool:
        return False
