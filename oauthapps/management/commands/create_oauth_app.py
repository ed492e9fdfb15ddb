import json
import sys
from pathlib import Path

from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from console.accounts.services import email_address_verify
from console.issuer import issuer
from oauthapps import services
from oauthapps.credentials import credentials_document
from oauthapps.models import TTL_DEFAULT_MINUTES
from orgs.models import Membership, Organization
from orgs.services import org_create


class Command(BaseCommand):
    help = (
        "Register a server-to-server OAuth app from a script and print (or write) its credentials JSON. "
        "The secret is shown only in that output."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--org",
            required=True,
            help="Owning organization: its UUID or its exact name.",
        )
        parser.add_argument(
            "--create-org",
            action="store_true",
            help="Create the organization (by name) if it does not exist.",
        )
        parser.add_argument(
            "--created-by",
            required=True,
            metavar="EMAIL",
            help="An Owner of the org; with --create-org the user is created if missing.",
        )
        parser.add_argument("--name", required=True)
        parser.add_argument("--description", default="")
        parser.add_argument(
            "--ttl",
            type=int,
            default=TTL_DEFAULT_MINUTES,
            help="Access token TTL in minutes (1-300).",
        )
        parser.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            default=[],
            help="A scope; repeat for several.",
        )
        parser.add_argument(
            "--add-to-org",
            action="store_true",
            help="Also add the app to its owning organization.",
        )
        parser.add_argument(
            "--output",
            help="Write the credentials JSON to this file (mode 600) instead of stdout.",
        )
        parser.add_argument(
            "--issuer",
            metavar="URL",
            help="The URL the console is served at, for the JSON's issuer and token_endpoint "
            "(default: CONSOLE_ISSUER; needed in development without it, e.g. "
            "http://127.0.0.1:8765).",
        )

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        base = self._issuer(options["issuer"])
        user = self._user(options["created_by"], create=options["create_org"])
        org = self._org(options["org"], create=options["create_org"], user=user)
        if not Membership.objects.filter(
            organization=org, user=user, role=Membership.Role.OWNER
        ).exists():
            raise CommandError(f"{user.email} is not an Owner of {org.name}.")
        try:
            app, secret = services.oauth_app_create(
                organization=org,
                created_by=user,
                name=options["name"],
                description=options["description"],
                access_token_ttl_minutes=options["ttl"],
                scopes=options["scopes"],
            )
        except ValidationError as exc:
            raise CommandError(
                "; ".join(
                    f"{field}: {' '.join(msgs)}"
                    for field, msgs in exc.message_dict.items()
                )
            ) from None
        if options["add_to_org"]:
            _, missing = services.oauth_app_add_to_org(app=app, org=org, added_by=user)
            if missing:
                self.stderr.write(
                    f"warning: {org.name} does not contain: {', '.join(missing)}"
                )
        document = (
            json.dumps(
                credentials_document(app=app, client_secret=secret, issuer=base),
                indent=2,
            )
            + "\n"
        )
        if options["output"]:
            path = Path(options["output"])
            path.touch(mode=0o600, exist_ok=True)
            path.write_text(document)
            self.stderr.write(
                f"Credentials for {app.name} ({app.client_id}) written to {path}"
            )
        else:
            sys.stdout.write(document)

    def _issuer(self, given: str | None) -> str:
        if given:
            if not given.startswith(("http://", "https://")):
                raise CommandError(
                    f"--issuer must be a URL such as http://127.0.0.1:8000, not {given!r}."
                )
            return given.rstrip("/")
        try:
            return issuer()
        except ImproperlyConfigured:
            raise CommandError(
                "Pass --issuer with the URL the console is served at (e.g. "
                "http://127.0.0.1:8000), or set CONSOLE_ISSUER: the credentials JSON names it."
            ) from None

    def _user(self, email: str, *, create: bool) -> User:
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            if not create:
                raise CommandError(f"No user with email {email}.")
            user = User(username=email.lower(), email=email.lower())
            user.set_unusable_password()
            user.save()
            email_address_verify(user=user)
        return user

    def _org(self, ref: str, *, create: bool, user: User) -> Organization:
        try:
            org = Organization.objects.filter(pk=ref).first()
        except ValidationError:
            org = None
        org = org or Organization.objects.filter(name=ref).first()
        if org is None:
            if not create:
                raise CommandError(f"No organization {ref!r}.")
            org = org_create(name=ref, created_by=user)
        return org
