from django.core.management.base import BaseCommand, CommandError

from oauthapps.tokens import keys
from oauthapps.tokens.services import signing_key_rotate


class Command(BaseCommand):
    help = (
        "Make a new RS256 key sign access tokens. The previous key stays in the JWKS until the "
        "tokens it signed have expired; running instances switch within a minute."
    )

    def handle(self, *args, **options) -> None:
        try:
            key = signing_key_rotate()
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        published = [published.kid for published in keys.published_keys()]
        self.stdout.write(f"New signing key: {key.kid}")
        self.stdout.write(f"Published in the JWKS: {', '.join(published)}")
