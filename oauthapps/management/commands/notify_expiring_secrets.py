from django.core.management.base import BaseCommand

from oauthapps.services.expiry import secret_expiry_notices_send


class Command(BaseCommand):
    help = (
        "Notify the Owners of each app's organization when its client secret expires within 14 "
        "days, and again within 3 days (the organization's secret expiry policy). Each notice "
        "is sent once, however often this runs: run it daily (cron, scheduler)."
    )

    def handle(self, *args, **options) -> None:
        sent = secret_expiry_notices_send()
        self.stdout.write(f"Sent {sent} secret expiry notice(s).")
