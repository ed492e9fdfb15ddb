"""`createsuperuser`, whose account counts as verified: whoever runs it vouches for the address."""

from django.contrib.auth.management.commands import createsuperuser
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from console.accounts import services


class Command(createsuperuser.Command):
    help = (
        "Create a superuser; their email address counts as verified (they can sign in to "
        "the console and to Django admin at once)."
    )

    def handle(self, *args, **options) -> None:
        before = set(
            User.objects.filter(is_superuser=True).values_list("pk", flat=True)
        )
        super().handle(*args, **options)
        for user in User.objects.filter(is_superuser=True).exclude(pk__in=before):
            if not user.email:
                self.stderr.write(
                    f"{user.username} has no email address, so they cannot sign in: the "
                    "console and Django admin sign in by email. Give them one in Django "
                    "admin, or run createsuperuser again with --email."
                )
                continue
            try:
                services.email_address_verify(user=user)
            except ValidationError as exc:
                self.stderr.write(" ".join(exc.messages))
