from datetime import timedelta

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from oauthapps import client_assertions
from oauthapps.tokens.services import issued_tokens_prune


class Command(BaseCommand):
    help = (
        "Delete the records of access tokens that expired more than --days ago. Those tokens are "
        "refused on their expiry alone; the rows only keep history. Also deletes the records of "
        "expired client assertions (private_key_jwt), which the token endpoint prunes as it goes "
        "too. Run it daily (cron, scheduler)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days", type=int, default=7, help="keep this many days of history"
        )

    def handle(self, *args, **options) -> None:
        days = max(options["days"], 0)
        deleted = issued_tokens_prune(
            expired_before=timezone.now() - timedelta(days=days)
        )
        self.stdout.write(f"Deleted {deleted} expired token record(s).")
        assertions = client_assertions.prune()
        self.stdout.write(f"Deleted {assertions} expired client assertion record(s).")
