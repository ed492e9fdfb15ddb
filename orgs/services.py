from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from orgs.models import (
    AuditEvent,
    Membership,
    Notification,
    Organization,
    OrganizationService,
    Service,
)


@transaction.atomic
def org_create(*, name: str, created_by: User) -> Organization:
    """Create an organization; its creator becomes its first Owner."""
    org = Organization(name=name.strip())
    org.full_clean()
    org.save()
    Membership.objects.create(
        user=created_by, organization=org, role=Membership.Role.OWNER
    )
    audit_record(org=org, actor=created_by, action="org.create", target=org)
    return org


@transaction.atomic
def org_secret_expiry_set(
    *, org: Organization, secret_expiry_days: int | None, changed_by: User
) -> Organization:
    """Set the org's "Client secrets expire after N days" policy (30 to 730; None turns it off).
    It applies to the secrets its apps get from now on (created, regenerated, rotated); existing
    secrets keep their expiry. Audited when it changes."""
    before = org.secret_expiry_days
    if before == secret_expiry_days:
        return org
    org.secret_expiry_days = secret_expiry_days
    org.full_clean(exclude=["name"])
    org.save(update_fields=["secret_expiry_days"])
    audit_record(
        org=org,
        actor=changed_by,
        action="org.secret_expiry",
        target=org,
        data={"from_days": before, "to_days": secret_expiry_days},
    )
    return org


def is_console_path(link: str) -> bool:
    """Is `link` a path on this console (so following it can never leave the site)?"""
    return (
        link.startswith("/")
        and not link.startswith("//")
        and "\\" not in link
        and url_has_allowed_host_and_scheme(link, allowed_hosts=None)
    )


@transaction.atomic
def notification_send(
    *,
    user: User,
    title: str,
    body: str = "",
    org: Organization | None = None,
    link: str = "",
    level: str = "info",
) -> Notification:
    """Put a message in the user's notification center. `link` must be a console path."""
    if link and not is_console_path(link):
        raise ValidationError({"link": "A notification links only to a console path."})
    notification = Notification(
        user=user, organization=org, title=title, body=body, link=link, level=level
    )
    notification.full_clean()
    notification.save()
    return notification


@transaction.atomic
def notification_mark_read(*, notification: Notification) -> Notification:
    """Mark one notification read (idempotent: the first read time is kept)."""
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


@transaction.atomic
def notifications_mark_all_read(*, user: User) -> int:
    """Mark every unread notification of the user read; returns how many changed."""
    return Notification.objects.filter(user=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )


def audit_record(
    *,
    org: Organization | None,
    actor: User | None,
    action: str,
    target: object = None,
    data: dict | None = None,
) -> AuditEvent:
    """Append an audit event. `data` must never carry secrets; callers pass ids, names and scopes only."""
    target_type = type(target).__name__.lower() if target is not None else ""
    return AuditEvent.objects.create(
        organization=org,
        actor=actor,
        actor_label=getattr(actor, "email", "") or "",
        action=action,
        target_type=target_type,
        target_id=str(getattr(target, "pk", "") or ""),
        target_label=str(target or "")[:255],
        data=data or {},
    )


def _ensure_an_owner_remains(*, leaving: Membership, change: str) -> None:
    """Raise unless another Owner than `leaving` remains. Locks the org's owner rows first, so two
    concurrent demotions cannot both pass."""
    owners = list(
        Membership.objects.select_for_update()
        .filter(organization_id=leaving.organization_id, role=Membership.Role.OWNER)
        .values_list("pk", flat=True)
    )
    if leaving.role == Membership.Role.OWNER and set(owners) <= {leaving.pk}:
        raise ValidationError(
            f"{leaving.user.email} is the last Owner of {leaving.organization.name}, so you "
            f"cannot {change}. An organization must keep at least one Owner: make someone "
            "else an Owner first."
        )


@transaction.atomic
def membership_add(
    *,
    org: Organization,
    user: User,
    role: str,
    is_developer: bool,
    added_by: User | None,
) -> Membership:
    """Make the user a member of the org with a role (an accepted invitation); once per org."""
    if Membership.objects.filter(organization=org, user=user).exists():
        raise ValidationError(
            {"email": f"{user.email} is already a member of {org.name}."}
        )
    membership = Membership(
        organization=org, user=user, role=role, is_developer=is_developer
    )
    membership.full_clean()
    membership.save()
    audit_record(
        org=org,
        actor=added_by,
        action="member.add",
        target=user,
        data={"role": role, "is_developer": is_developer},
    )
    return membership


@transaction.atomic
def membership_change(
    *, membership: Membership, role: str, is_developer: bool, changed_by: User
) -> Membership:
    """Change a member's role and Developer flag; the last Owner cannot be demoted."""
    if membership.role == Membership.Role.OWNER and role != Membership.Role.OWNER:
        _ensure_an_owner_remains(leaving=membership, change="change their role")
    before = {"role": membership.role, "is_developer": membership.is_developer}
    membership.role = role
    membership.is_developer = is_developer
    membership.full_clean()
    membership.save(update_fields=["role", "is_developer"])
    audit_record(
        org=membership.organization,
        actor=changed_by,
        action="member.change",
        target=membership.user,
        data={"before": before, "after": {"role": role, "is_developer": is_developer}},
    )
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, removed_by: User) -> None:
    """Remove a member; the last Owner cannot be removed."""
    _ensure_an_owner_remains(leaving=membership, change="remove them")
    audit_record(
        org=membership.organization,
        actor=removed_by,
        action="member.remove",
        target=membership.user,
        data={"role": membership.role},
    )
    membership.delete()


@transaction.atomic
def organization_service_add(
    *, org: Organization, service: Service, added_by: User
) -> OrganizationService:
    """Subscribe the org to a service (idempotent)."""
    link, created = OrganizationService.objects.get_or_create(
        organization=org, service=service, defaults={"added_by": added_by}
    )
    if created:
        audit_record(org=org, actor=added_by, action="service.add", target=service)
    return link


@transaction.atomic
def organization_service_remove(
    *, org: Organization, service: Service, removed_by: User
) -> None:
    """Unsubscribe the org from a service (idempotent)."""
    deleted, _ = OrganizationService.objects.filter(
        organization=org, service=service
    ).delete()
    if deleted:
        audit_record(org=org, actor=removed_by, action="service.remove", target=service)
