from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.urls import reverse

from console.accounts.services import email_address_verify
from orgs import services
from orgs.models import (
    Membership,
    Notification,
    Organization,
    OrganizationService,
    Service,
)

DEMO_PASSWORD = "demo-console-password"
WELCOME_TITLE = "Welcome to the Cloud Services Console demo"
OWNER_EMAIL = "owner@demo.example"
PEOPLE = [
    ("admin@demo.example", Membership.Role.ADMIN, False),
    ("dev@demo.example", Membership.Role.MEMBER, True),
    ("member@demo.example", Membership.Role.MEMBER, False),
]
ORGS = [
    ("Acme Production", ["compute", "object-storage", "networking", "log-analytics"]),
    ("Acme Sandbox", ["compute", "billing"]),
]


class Command(BaseCommand):
    help = "Load demo data (idempotent): a demo Owner, two organizations, members and services. DEBUG only."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--url",
            default="http://127.0.0.1:8000/",
            help="Where the console is served, for the sign-in line (`make run` passes it).",
        )

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        if not settings.DEBUG:
            raise CommandError(
                "demo_data only runs with DJANGO_DEBUG=true: it creates accounts with a known password."
            )
        owner = self._user(OWNER_EMAIL, staff=True)
        for org_name, service_slugs in ORGS:
            org = Organization.objects.filter(
                name=org_name, memberships__user=owner
            ).first()
            if org is None:
                org = services.org_create(name=org_name, created_by=owner)
            for slug in service_slugs:
                service = Service.objects.filter(slug=slug).first()
                if (
                    service
                    and not OrganizationService.objects.filter(
                        organization=org, service=service
                    ).exists()
                ):
                    services.organization_service_add(
                        org=org, service=service, added_by=owner
                    )
            for email, role, is_developer in PEOPLE:
                Membership.objects.get_or_create(
                    organization=org,
                    user=self._user(email),
                    defaults={"role": role, "is_developer": is_developer},
                )
        self._welcome(owner)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(
            f"Sign in at {options['url'].rstrip('/')}/ as {OWNER_EMAIL} with password "
            f"{DEMO_PASSWORD}"
        )
        self.stdout.write(
            f"  (also {', '.join(email for email, _, _ in PEOPLE)}, same password; the owner may use /admin/)"
        )

    def _user(self, email: str, staff: bool = False) -> User:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User(username=email, email=email)
            user.set_password(DEMO_PASSWORD)
        user.is_staff = user.is_superuser = staff or user.is_staff
        user.save()
        email_address_verify(user=user)
        return user

    def _welcome(self, owner: User) -> None:
        if Notification.objects.filter(user=owner, title=WELCOME_TITLE).exists():
            return
        org = Organization.objects.filter(
            name=ORGS[0][0], memberships__user=owner
        ).get()
        services.notification_send(
            user=owner,
            org=org,
            title=WELCOME_TITLE,
            body="Two organizations with members and services are ready. Try switching between them in the header.",
            link=reverse("orgs:service_list", args=[org.pk]),
        )
