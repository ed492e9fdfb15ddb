"""`manage.py seed_scale`: one organization at the scale the console must stay fast at.

Built in bulk (bulk_create in batches, one password hash for everyone, one client-secret hash per
app from the fast hasher), so the full size takes a minute or two, not hours. Used by
`make bench-console` on a throwaway database and by the tests at a small size.
"""

import random
import secrets
import uuid
from datetime import timedelta
from itertools import cycle, islice

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.db.models import DateTimeField, DurationField, ExpressionWrapper, F, Value
from django.db.models.functions import Now
from django.utils import timezone

from console.accounts.services import email_address_verify
from oauthapps.models import AppGrant, OAuthApp
from oauthapps.selectors import AUDIT_ACTIONS
from oauthapps.tokens.models import IssuedToken
from orgs.models import (
    AuditEvent,
    Membership,
    Notification,
    Organization,
    OrganizationService,
    Service,
)

ORG_NAME = "Scale Co"
OWNER_EMAIL = "owner@scale.example"
OWNER_PASSWORD = "scale-console-password"
BATCH = 2_000
SCOPE_SETS = [
    ["org:member"],
    ["org:member", "svc:compute:viewer"],
    ["org:admin", "svc:compute:operator", "svc:networking:viewer"],
    ["org:member", "svc:object-storage:editor", "svc:log-analytics:viewer"],
    ["org:owner", "svc:billing:admin"],
]
SIZES = (
    "members",
    "apps",
    "foreign_apps",
    "partner_orgs",
    "events",
    "notifications",
    "tokens",
)
WORDS = [
    "billing",
    "deploy",
    "backup",
    "metrics",
    "sync",
    "export",
    "import",
    "audit",
    "report",
    "ingest",
]


class Command(BaseCommand):
    help = (
        "Build one large organization in bulk (10,000 members, 10,000 apps, 2,000 apps from "
        "other organizations, 200,000 audit events, 2,000 notifications, issued tokens) for "
        "benchmarks. Refuses to run twice, and without DEBUG unless --force."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--members", type=int, default=10_000)
        parser.add_argument("--apps", type=int, default=10_000)
        parser.add_argument("--foreign-apps", type=int, default=2_000)
        parser.add_argument("--partner-orgs", type=int, default=20)
        parser.add_argument("--events", type=int, default=200_000)
        parser.add_argument("--notifications", type=int, default=2_000)
        parser.add_argument("--tokens", type=int, default=100_000)
        parser.add_argument(
            "--force",
            action="store_true",
            help="run without DEBUG (a throwaway benchmark database)",
        )

    def handle(self, *args, **options) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "seed_scale only runs with DJANGO_DEBUG=true (or --force on a throwaway "
                "database): it creates thousands of accounts and an Owner with a known password."
            )
        if Organization.objects.filter(name=ORG_NAME).exists():
            raise CommandError(
                f"{ORG_NAME} already exists: seed_scale has run on this database. Use a fresh one."
            )
        sizes = {name: options[name] for name in SIZES}
        with transaction.atomic():
            org, owner = self.create_org()  # the Owner is the first member
            self.grow(org, owner, **{**sizes, "members": max(sizes["members"] - 1, 0)})
        # Fresh statistics and visibility map, as autovacuum would leave them in production.
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        self.stdout.write(
            f"{ORG_NAME} ({org.pk}): "
            + ", ".join(
                f"{value} {name.replace('_', ' ')}" for name, value in sizes.items()
            )
            + f".\nSign in as {OWNER_EMAIL} with password {OWNER_PASSWORD}"
        )

    def create_org(self) -> tuple[Organization, User]:
        """The big org, its Owner (staff, with a known password) and every catalog service."""
        owner = User.objects.create_user(
            username=OWNER_EMAIL,
            email=OWNER_EMAIL,
            password=OWNER_PASSWORD,
            is_staff=True,
            is_superuser=True,
        )
        email_address_verify(user=owner)
        org = Organization.objects.create(name=ORG_NAME)
        Membership.objects.create(
            organization=org, user=owner, role=Membership.Role.OWNER, is_developer=True
        )
        OrganizationService.objects.bulk_create(
            OrganizationService(organization=org, service=service, added_by=owner)
            for service in Service.objects.all()
        )
        return org, owner

    def grow(
        self,
        org: Organization,
        owner: User,
        *,
        members: int,
        apps: int,
        foreign_apps: int,
        partner_orgs: int,
        events: int,
        notifications: int,
        tokens: int,
    ) -> None:
        """Add this many of everything to `org` (callable again: the tests grow an org with it)."""
        self.rng = random.Random(14)
        people = self._people(org, members)
        partners = self._partner_orgs(owner, partner_orgs)
        owned = self._apps(org, owner, people, apps)
        foreign = self._foreign_apps(org, owner, partners, foreign_apps)
        self._events(org, people, owned + foreign, events)
        self._notifications(org, owner, notifications)
        self._tokens(org, owned, tokens)

    def _people(self, org: Organization, count: int) -> list[User]:
        # One hash for every seeded person: nobody signs in as them, and hashing 10,000
        # passwords with a password KDF would take longer than everything else together.
        unusable = make_password(None)
        start = User.objects.count()
        users = User.objects.bulk_create(
            (
                User(
                    username=f"person{n:05d}@scale.example",
                    email=f"person{n:05d}@scale.example",
                    password=unusable,
                )
                for n in range(start, start + count)
            ),
            batch_size=BATCH,
        )
        # Accounts made by a command count as verified (as with createsuperuser and demo_data).
        EmailAddress.objects.bulk_create(
            (
                EmailAddress(user=u, email=u.email, verified=True, primary=True)
                for u in users
            ),
            batch_size=BATCH,
        )
        roles = [Membership.Role.ADMIN] + [Membership.Role.MEMBER] * 19
        Membership.objects.bulk_create(
            (
                Membership(
                    organization=org,
                    user=user,
                    role=Membership.Role.OWNER
                    if n % 500 == 0
                    else roles[n % len(roles)],
                    is_developer=n % 10 == 0,
                )
                for n, user in enumerate(users, start=1)
            ),
            batch_size=BATCH,
        )
        return users or [org.memberships.first().user]

    def _partner_orgs(self, owner: User, count: int) -> list[Organization]:
        partners = Organization.objects.bulk_create(
            Organization(name=f"Partner {n:02d}") for n in range(max(count, 1))
        )
        Membership.objects.bulk_create(
            Membership(organization=partner, user=owner, role=Membership.Role.OWNER)
            for partner in partners
        )
        return partners

    def _app(self, org: Organization, creator: User, name: str, n: int) -> OAuthApp:
        return OAuthApp(
            organization=org,
            created_by=creator,
            name=name,
            description=f"{WORDS[n % len(WORDS)].title()} job number {n} for the {WORDS[(n // 7) % len(WORDS)]} team.",
            access_token_ttl_minutes=[5, 15, 30, 60, 120, 300][n % 6],
            scopes=SCOPE_SETS[n % len(SCOPE_SETS)],
            client_type=OAuthApp.CLIENT_CONFIDENTIAL,
            authorization_grant_type=OAuthApp.GRANT_CLIENT_CREDENTIALS,
            client_secret=secrets.token_urlsafe(48),  # hashed on save; nobody knows it
            secret_created_at=timezone.now(),
            is_disabled=n % 97 == 0,
        )

    def _apps(
        self, org: Organization, owner: User, members: list[User], count: int
    ) -> list[OAuthApp]:
        creators = members[:50] + [owner]
        start = OAuthApp.objects.filter(organization=org).count()
        apps = OAuthApp.objects.bulk_create(
            (
                self._app(org, creators[n % len(creators)], f"app-{n:05d}", n)
                for n in range(start, start + count)
            ),
            batch_size=BATCH,
        )
        # Most owned apps are added to their own organization.
        AppGrant.objects.bulk_create(
            (
                AppGrant(app=app, organization=org, scopes=app.scopes, granted_by=owner)
                for n, app in enumerate(apps)
                if n % 10 < 7
            ),
            batch_size=BATCH,
        )
        return apps

    def _foreign_apps(
        self,
        org: Organization,
        owner: User,
        partners: list[Organization],
        count: int,
    ) -> list[OAuthApp]:
        start = OAuthApp.objects.exclude(organization=org).count()
        apps = OAuthApp.objects.bulk_create(
            (
                self._app(
                    partners[n % len(partners)], owner, f"partner-app-{n:05d}", n + 1
                )
                for n in range(start, start + count)
            ),
            batch_size=BATCH,
        )
        AppGrant.objects.bulk_create(
            (
                AppGrant(
                    app=app,
                    organization=org,
                    # Every fifth was widened since it was added here: a pending re-grant.
                    scopes=app.scopes if n % 5 else ["org:member"],
                    granted_by=owner,
                )
                for n, app in enumerate(apps)
            ),
            batch_size=BATCH,
        )
        return apps

    def _events(
        self,
        org: Organization,
        people: list[User],
        apps: list[OAuthApp],
        count: int,
    ) -> None:
        actions = list(AUDIT_ACTIONS)
        actors = people[:200]
        rng = self.rng

        def event(n: int) -> AuditEvent:
            action = actions[n % len(actions)]
            actor = actors[rng.randrange(len(actors))]
            if action.startswith("member."):
                target = people[rng.randrange(len(people))]
                data = {
                    "before": {"role": "member", "is_developer": False},
                    "after": {"role": "admin", "is_developer": n % 2 == 0},
                }
                return AuditEvent(
                    organization=org,
                    actor=actor,
                    actor_label=actor.email,
                    action=action,
                    target_type="user",
                    target_id=str(target.pk),
                    target_label=target.email,
                    data=data if action == "member.change" else {"role": "member"},
                )
            app = apps[rng.randrange(len(apps))] if apps else None
            return AuditEvent(
                organization=org,
                actor=actor,
                actor_label=actor.email,
                action=action,
                target_type="oauthapp" if app else "",
                target_id=str(app.pk) if app else "",
                target_label=app.name if app else "",
                data={"scopes": app.scopes} if app else {},
            )

        AuditEvent.objects.bulk_create(
            (event(n) for n in range(count)), batch_size=BATCH * 2
        )
        # auto_now_add stamped them all "now": spread them over the past year, newest last.
        _spread(AuditEvent.objects.filter(organization=org), timedelta(seconds=150))

    def _notifications(self, org: Organization, owner: User, count: int) -> None:
        Notification.objects.bulk_create(
            (
                Notification(
                    user=owner,
                    organization=org,
                    level="warning" if n % 4 == 0 else "info",
                    title=f"partner-app-{n:05d} was added to {org.name}",
                    body="It asks for services the organization does not contain: Billing.",
                    link=f"/orgs/{org.pk}/services/",
                    read_at=timezone.now() if n % 3 else None,
                )
                for n in range(count)
            ),
            batch_size=BATCH,
        )
        _spread(Notification.objects.filter(user=owner), timedelta(minutes=90))

    def _tokens(self, org: Organization, apps: list[OAuthApp], count: int) -> None:
        if not apps:
            return
        now = timezone.now()
        used = list(islice(cycle(apps[:500]), count))
        IssuedToken.objects.bulk_create(
            (
                IssuedToken(
                    jti=uuid.uuid4(),
                    app=app,
                    organization=org,
                    scope=" ".join(app.scopes),
                    issued_at=now - timedelta(seconds=6 * n),
                    expires_at=now
                    - timedelta(seconds=6 * n)
                    + timedelta(minutes=app.access_token_ttl_minutes),
                    revoked_at=now if n % 50 == 0 else None,
                )
                for n, app in enumerate(used)
            ),
            batch_size=BATCH * 2,
        )


def _spread(rows, step: timedelta) -> None:
    """created_at = now - (newest id - id) * step: older rows further back, in id order."""
    newest = rows.order_by("-id").values_list("id", flat=True).first()
    if newest is None:
        return
    rows.update(
        created_at=ExpressionWrapper(
            Now()
            - ExpressionWrapper(
                (Value(newest) - F("id")) * Value(step), output_field=DurationField()
            ),
            output_field=DateTimeField(),
        )
    )
